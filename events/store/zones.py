"""The store's side of zones edited in the console: each camera's saved revisions.

A camera has no saved zones until someone saves them (its site file's zones apply); each save
adds a revision, numbered from 1 per camera, that replaces the camera's zones as a whole. The
newest revision is in force; the older ones stay as the history of who changed what.
Workers poll :meth:`ZoneStore.revisions` (one small grouped query) to notice a new one.

Example::

    zones = ZoneStore(store)
    saved = zones.save("gate-3", [{"name": "pit", "kind": "restricted", "polygon": [...]}], "ana")
    zones.latest("gate-3").revision        # saved.revision
    zones.revisions()                      # {"gate-3": 1}
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from .models import CameraZonesRow
from .store import EventStore


class StaleZones(ValueError):
    """The zones were saved by someone else since the editor loaded them."""

    def __init__(self, camera: str, expected: int, current: int) -> None:
        super().__init__(
            f"the zones of camera {camera} changed since you loaded them (revision {expected}, "
            f"now {current}); reload them and edit again"
        )
        self.current = current


@dataclass(frozen=True, slots=True)
class ZoneRevision:
    """One saved revision: ``zones`` as ``{"name", "kind", "polygon"}`` dicts."""

    camera: str
    revision: int
    zones: list[dict]
    saved_at: float
    saved_by: str


class ZoneStore:
    """Reads and writes the saved zones of ``store`` (see the module)."""

    def __init__(self, store: EventStore) -> None:
        self._sessions = sessionmaker(store.engine, expire_on_commit=False)

    def latest(self, camera: str) -> ZoneRevision | None:
        """The revision in force for ``camera``; None when none was ever saved."""
        query = (
            select(CameraZonesRow)
            .where(CameraZonesRow.camera == camera)
            .order_by(CameraZonesRow.revision.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalar(query)
            return None if row is None else _revision(row)

    def revisions(self) -> dict[str, int]:
        """The newest revision of every camera with saved zones (what workers poll)."""
        query = select(CameraZonesRow.camera, func.max(CameraZonesRow.revision)).group_by(
            CameraZonesRow.camera
        )
        with self._sessions() as session:
            return {camera: revision for camera, revision in session.execute(query)}

    def history(self, camera: str, limit: int = 20) -> list[ZoneRevision]:
        """The camera's revisions, newest first."""
        query = (
            select(CameraZonesRow)
            .where(CameraZonesRow.camera == camera)
            .order_by(CameraZonesRow.revision.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_revision(row) for row in session.scalars(query)]

    def save(
        self, camera: str, zones: list[dict], by: str, *, base_revision: int | None = None
    ) -> ZoneRevision:
        """Store ``zones`` (already validated) as the camera's next revision.

        ``base_revision``: the revision the editor started from (0: the site file's zones);
        StaleZones when another was saved since. Two saves at once: one of them gets
        StaleZones too (the revision number is the row's key).
        """
        with self._sessions.begin() as session:
            current = (
                session.scalar(
                    select(func.max(CameraZonesRow.revision)).where(CameraZonesRow.camera == camera)
                )
                or 0
            )
            if base_revision is not None and base_revision != current:
                raise StaleZones(camera, base_revision, current)
            row = CameraZonesRow(
                camera=camera,
                revision=current + 1,
                zones=zones,
                saved_at=time.time(),
                saved_by=by,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise StaleZones(camera, current, current + 1) from None
            return _revision(row)


def _revision(row: CameraZonesRow) -> ZoneRevision:
    return ZoneRevision(row.camera, row.revision, list(row.zones), row.saved_at, row.saved_by)
