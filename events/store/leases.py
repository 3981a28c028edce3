"""Camera leases: which `vigil run` worker runs which camera of a site (DESIGN.md, Past one
machine).

Every worker of a site (same site file, one database) registers in ``workers`` and, every
heartbeat, in one transaction: renews the leases it holds (``UPDATE ... WHERE worker = me``:
its own lease stays its own even past its expiry, unless another worker took it meanwhile),
then claims free or expired leases up to its share (:func:`share`), with ``SELECT ... FOR
UPDATE SKIP LOCKED`` so that workers claiming together never wait on, nor take, the same rows.
Each claim is also a compare-and-set (``... WHERE worker IS NULL OR expires_at < now``, the
pattern of the alert dispatcher's lease, :class:`vigil.events.alerts.store.AlertStore`): on
SQLite, where ``FOR UPDATE`` is not rendered, that alone keeps one holder per camera.

Times are epoch seconds of the workers' clocks (keep hosts in sync with NTP).

Example::

    leases = CameraLeases(store, WorkerInfo.this_process(capacity=8), ttl=6.0)
    leases.register()
    held, target = leases.heartbeat(["gate-3", "yard"])   # renew + claim
    leases.release(["yard"])                                # handed over at once
    leases.unregister()                                     # on a clean stop
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from .models import CameraLeaseRow, WorkerRow
from .store import EventStore


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """Who a worker is: ``host:pid:random`` id, its host and pid, its camera capacity."""

    id: str
    host: str
    pid: int
    capacity: int | None = None  # None: no limit

    @classmethod
    def this_process(cls, capacity: int | None = None) -> WorkerInfo:
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:6]}", host, pid, capacity)


@dataclass(frozen=True, slots=True)
class CameraLease:
    camera: str
    worker: str | None
    acquired_at: float | None
    heartbeat_at: float | None
    expires_at: float

    def holder(self, now: float) -> str | None:
        """The worker holding it at ``now``; None when free or expired."""
        return self.worker if self.worker is not None and self.expires_at >= now else None


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    id: str
    host: str
    pid: int
    capacity: int | None
    started_at: float
    heartbeat_at: float


def share(cameras: int, capacity: int | None, others: Sequence[int | None]) -> int:
    """How many of ``cameras`` a worker should hold beside ``others`` (their capacities, None:
    no limit): its fair share ``ceil(cameras / workers)``, more when the others together
    cannot take the rest, never more than its own ``capacity``.

    >>> share(4, None, [None]), share(5, None, [None]), share(4, None, [1]), share(4, 1, [None])
    (2, 3, 3, 1)
    """
    fair = math.ceil(cameras / (len(others) + 1))
    room_elsewhere = sum(cameras if c is None else c for c in others)
    target = max(fair, cameras - room_elsewhere)
    return min(target, cameras if capacity is None else capacity)


class CameraLeases:
    """One worker's side of the camera leases (see the module)."""

    def __init__(self, store: EventStore, worker: WorkerInfo, ttl: float) -> None:
        self.worker = worker
        self.ttl = ttl
        self._sessions = sessionmaker(store.engine, expire_on_commit=False)
        # After a heartbeat, when the first lease held by another worker expires (epoch s;
        # None: none held): a worker with room claims then rather than at its next beat.
        self.next_expiry: float | None = None

    def register(self, now: float | None = None) -> None:
        """Write (or refresh) this worker's row."""
        now = time.time() if now is None else now
        w = self.worker
        with self._sessions.begin() as s:
            s.merge(WorkerRow(id=w.id, host=w.host, pid=w.pid, capacity=w.capacity,
                              started_at=now, heartbeat_at=now))  # fmt: skip

    def free_dead_on_this_host(self, alive=None) -> list[str]:
        """Release the leases of workers on this host whose process is gone (a restart after a
        crash need not wait out their TTL); returns their ids. ``alive(pid)`` says whether a
        process runs (default: signal 0)."""
        alive = alive or _pid_alive
        with self._sessions.begin() as s:
            rows = s.scalars(select(WorkerRow).where(WorkerRow.host == self.worker.host)).all()
            dead = [r.id for r in rows if r.id != self.worker.id and not alive(r.pid)]
            if dead:
                s.execute(
                    update(CameraLeaseRow)
                    .where(CameraLeaseRow.worker.in_(dead))
                    .values(worker=None, expires_at=0.0)
                )
                s.execute(delete(WorkerRow).where(WorkerRow.id.in_(dead)))
        return dead

    def heartbeat(
        self, cameras: Sequence[str], *, claim: bool = True, now: float | None = None
    ) -> tuple[set[str], int]:
        """Renew this worker's leases among ``cameras`` and, if ``claim``, take free or
        expired ones up to its share. Returns (the cameras it holds, its share)."""
        now = time.time() if now is None else now
        if claim:
            self._ensure_rows(cameras)
        me = self.worker.id
        with self._sessions.begin() as s:
            s.execute(update(WorkerRow).where(WorkerRow.id == me).values(heartbeat_at=now))
            s.execute(
                update(CameraLeaseRow)
                .where(CameraLeaseRow.worker == me, CameraLeaseRow.camera.in_(cameras))
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            )
            held = set(
                s.scalars(
                    select(CameraLeaseRow.camera).where(
                        CameraLeaseRow.worker == me, CameraLeaseRow.camera.in_(cameras)
                    )
                )
            )
            others = s.scalars(
                select(WorkerRow.capacity).where(
                    WorkerRow.id != me, WorkerRow.heartbeat_at >= now - self.ttl
                )
            ).all()
            target = share(len(cameras), self.worker.capacity, others)
            if claim and len(held) < target:
                held |= self._claim(s, cameras, target - len(held), now)
            self.next_expiry = s.scalar(
                select(func.min(CameraLeaseRow.expires_at)).where(
                    CameraLeaseRow.camera.in_(cameras),
                    CameraLeaseRow.worker != me,
                    CameraLeaseRow.expires_at >= now,
                )
            )
        return held, target

    def _claim(self, s, cameras: Sequence[str], count: int, now: float) -> set[str]:
        free = (CameraLeaseRow.worker.is_(None)) | (CameraLeaseRow.expires_at < now)
        candidates = s.scalars(
            select(CameraLeaseRow.camera)
            .where(CameraLeaseRow.camera.in_(cameras), free)
            .order_by(CameraLeaseRow.camera)
            .limit(count)
            .with_for_update(skip_locked=True)
        ).all()
        taken = set()
        for camera in candidates:
            done = s.execute(
                update(CameraLeaseRow)
                .where(CameraLeaseRow.camera == camera, free)
                .values(
                    worker=self.worker.id,
                    acquired_at=now,
                    heartbeat_at=now,
                    expires_at=now + self.ttl,
                )  # fmt: skip
            ).rowcount
            if done == 1:
                taken.add(camera)
        return taken

    def _ensure_rows(self, cameras: Sequence[str]) -> None:
        """A (free) lease row for every camera of the site that has none yet."""
        with self._sessions.begin() as s:
            known = set(s.scalars(select(CameraLeaseRow.camera)))
            missing = [c for c in cameras if c not in known]
            if not missing:
                return
        for camera in missing:  # another worker may insert the same row: that one stands
            try:
                with self._sessions.begin() as s:
                    s.add(CameraLeaseRow(camera=camera, worker=None, expires_at=0.0))
            except IntegrityError:
                pass

    def release(self, cameras: Iterable[str] | None = None) -> None:
        """Let this worker's leases go at once (all of them, or ``cameras``)."""
        query = update(CameraLeaseRow).where(CameraLeaseRow.worker == self.worker.id)
        if cameras is not None:
            query = query.where(CameraLeaseRow.camera.in_(list(cameras)))
        with self._sessions.begin() as s:
            s.execute(query.values(worker=None, expires_at=0.0))

    def unregister(self) -> None:
        """Release every lease and remove this worker's row (a clean stop)."""
        self.release()
        with self._sessions.begin() as s:
            s.execute(delete(WorkerRow).where(WorkerRow.id == self.worker.id))


def camera_leases(store: EventStore) -> list[CameraLease]:
    """Every camera's lease row, by camera."""
    with sessionmaker(store.engine)() as s:
        rows = s.scalars(select(CameraLeaseRow).order_by(CameraLeaseRow.camera))
        return [
            CameraLease(r.camera, r.worker, r.acquired_at, r.heartbeat_at, r.expires_at)
            for r in rows
        ]


def workers(store: EventStore) -> list[WorkerRecord]:
    """Every registered worker, by id."""
    with sessionmaker(store.engine)() as s:
        rows = s.scalars(select(WorkerRow).order_by(WorkerRow.id))
        return [
            WorkerRecord(r.id, r.host, r.pid, r.capacity, r.started_at, r.heartbeat_at)
            for r in rows
        ]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
