"""One change of a live event (or a stream gap) as a value: written to the store, or to the
journal while the store cannot take it, and replayed from there (:mod:`.journal`).

Every change goes through the same :class:`~vigil.events.store.store.EventWriter` methods
(``opened``, ``updated``, ``ended``, ``gap``) whether it is written at once or replayed, so
anything those methods write in the same transaction is replayed with it. :meth:`Change.apply`
first looks at what the store holds and skips a change already there (or overtaken by a newer
one): replaying a journal twice stores each change once.

Example::

    change = Change.ended(violation, evidence, source="rtsp://…")
    store_change(store, change)          # True, False (already stored), or raises if transient
    journal.append(change.to_json())     # what the live writer does while the store is down
    Change.from_json(entry).apply(writer)

>>> from vigil.events.violation import Violation
>>> v = Violation("cam", "fall", "person_fallen", "track:1", "high", 1, 2, 3, 4, .9, 3,
...               (0, 0, 1, 1), id="ab12")
>>> c = Change.from_json(Change.opened(v, source="file.mp4").to_json())
>>> (c.op.value, c.camera, c.violation.id, c.violation.bbox, c.source)
('opened', 'cam', 'ab12', (0.0, 0.0, 1.0, 1.0), 'file.mp4')
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from vigil.events.evidence import Evidence
from vigil.events.violation import ModelRef, TimelinePoint, Violation

from .records import LifecycleState

if TYPE_CHECKING:
    from .store import EventStore, EventWriter

log = logging.getLogger(__name__)


class Op(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ENDED = "ended"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class Change:
    """An event opened, updated or ended (``violation`` set), or a gap in a stream (``gap``:
    start and end epoch seconds, reason)."""

    op: Op
    camera: str
    violation: Violation | None = None
    source: str | None = None
    evidence: Evidence | None = None
    gap: tuple[float, float, str | None] | None = None

    @classmethod
    def opened(cls, v: Violation, source: str | None) -> Change:
        return cls(Op.OPENED, v.camera, v, source)

    @classmethod
    def updated(cls, v: Violation, source: str | None) -> Change:
        return cls(Op.UPDATED, v.camera, v, source)

    @classmethod
    def ended(cls, v: Violation, evidence: Evidence | None, source: str | None) -> Change:
        return cls(Op.ENDED, v.camera, v, source, evidence)

    @classmethod
    def stream_gap(cls, camera: str, start: float, end: float, reason: str | None) -> Change:
        return cls(Op.GAP, camera, gap=(start, end, reason))

    def describe(self) -> str:
        """``ended abc123 on gate-3``, for logs."""
        what = self.violation.id if self.violation is not None else f"at {self.gap[0]:.1f}"
        return f"{self.op.value} {what} on {self.camera}"

    def apply(self, writer: EventWriter) -> bool:
        """Write the change unless the store already holds it or something newer; True if
        written. An update or end of an event the store lacks opens it first (its open was
        lost), so the event is never dropped."""
        if self.op is Op.GAP:
            start, end, reason = self.gap
            return writer.gap(self.camera, start, end, reason)
        v = self.violation
        stored = writer.progress(v.id)
        if self.op is Op.OPENED or stored is None:
            if stored is not None:
                return False
            writer.opened(v, source=self.source)  # for an update or end: its open was lost
            if self.op is not Op.ENDED:
                return True
        elif stored[0] is LifecycleState.ENDED:
            return False
        elif self.op is Op.UPDATED:
            if stored[1] >= v.end_wall:
                return False
            writer.updated(v)
            return True
        writer.ended(v, self.evidence)
        return True

    # --- JSON (the journal's lines) ------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op.value, "camera": self.camera}
        if self.violation is not None:
            out["violation"] = _violation_json(self.violation)
        if self.source is not None:
            out["source"] = self.source
        if self.evidence is not None:
            out["evidence"] = {
                f.name: _plain(getattr(self.evidence, f.name))
                for f in dataclasses.fields(self.evidence)
            }
        if self.gap is not None:
            out["gap"] = list(self.gap)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """The change of a journal line; KeyError/TypeError/ValueError if it is not one."""
        evidence = data.get("evidence")
        if evidence is not None:
            evidence = Evidence(
                **{
                    k: Path(val) if k.endswith("_path") and val is not None else val
                    for k, val in evidence.items()
                }
            )
        gap = data.get("gap")
        return cls(
            op=Op(data["op"]),
            camera=data["camera"],
            violation=_violation_of(data["violation"]) if "violation" in data else None,
            source=data.get("source"),
            evidence=evidence,
            gap=None if gap is None else (float(gap[0]), float(gap[1]), gap[2]),
        )


def is_transient(exc: BaseException) -> bool:
    """Whether a store error is the database being out of reach (down, restarting, locked,
    network): worth journaling and trying again. Other errors are the change's own fault."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def store_change(store: EventStore, change: Change) -> bool:
    """Apply ``change`` in a transaction of its own; True if written, False if the store held
    it already or refused it for good (logged). Raises the error if it is transient."""
    try:
        with store.unit_of_work() as writer:
            return change.apply(writer)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("store refused %s; dropped", change.describe())
        return False


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


_SKIPPED = {"peak_image", "timeline"}  # the image is on disk already; timeline in its own form


def _violation_json(v: Violation) -> dict[str, Any]:
    out = {f.name: getattr(v, f.name) for f in dataclasses.fields(v) if f.name not in _SKIPPED}
    out["bbox"] = [float(x) for x in v.bbox]
    out["timeline"] = [[p.pts, p.confidence, [float(x) for x in p.bbox]] for p in v.timeline]
    out["model"] = None if v.model is None else dataclasses.asdict(v.model)
    return out


def _violation_of(data: dict[str, Any]) -> Violation:
    fields = dict(data)
    fields["bbox"] = tuple(float(x) for x in fields["bbox"])
    fields["timeline"] = [
        TimelinePoint(pts, confidence, tuple(float(x) for x in bbox))
        for pts, confidence, bbox in fields.get("timeline", [])
    ]
    if fields.get("model") is not None:
        fields["model"] = ModelRef(**fields["model"])
    return Violation(**fields)
