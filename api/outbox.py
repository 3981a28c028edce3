"""Following the transactional outbox for the event stream (SSE): one poller per app, any
number of clients.

Outbox ids come from a sequence, and on PostgreSQL a transaction may commit after a later one:
a reader that only asks for ``id > last`` could step over a row that commits a moment later.
:class:`GapFollower` releases rows in id order and waits ``hold_s`` at a hole in the ids before
giving up on it (a rolled-back transaction leaves a hole forever).

>>> from vigil.events.store import OutboxRecord
>>> def row(i): return OutboxRecord(i, "e", "new", "c", "r", None, "high", {}, 0.0)
>>> f = GapFollower(position=0, hold_s=0.5)
>>> [r.id for r in f.take([row(1), row(3)], now=10.0)]   # 2 may still commit: hold 3
[1]
>>> [r.id for r in f.take([row(2), row(3)], now=10.1)]   # it did
[2, 3]
>>> [r.id for r in f.take([row(5)], now=11.0)], [r.id for r in f.take([row(5)], now=11.6)]
([], [5])
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from vigil.events.store import EventStore, OutboxRecord
from vigil.events.store.models import OutboxRow

log = logging.getLogger(__name__)

BATCH = 500  # rows per read


class GapFollower:
    """Releases outbox rows in id order; ``position`` is the newest id released (or given up
    on). Rows passed to :meth:`take` are those above ``position``, oldest first."""

    def __init__(self, position: int, hold_s: float) -> None:
        self.position = position
        self.hold_s = hold_s
        self._hole_seen: dict[int, float] = {}  # first id of a hole -> when first seen

    def take(self, rows: list[OutboxRecord], now: float) -> list[OutboxRecord]:
        released: list[OutboxRecord] = []
        for r in rows:
            expected = self.position + 1
            if r.id != expected:
                first = self._hole_seen.setdefault(expected, now)
                if now - first < self.hold_s:
                    break
            released.append(r)
            self.position = r.id
        self._hole_seen = {i: t for i, t in self._hole_seen.items() if i > self.position}
        return released


class OutboxHub:
    """Polls the outbox every ``poll_s`` seconds and keeps the newest ``keep`` released rows,
    so clients that are up to date are served from memory and woken together.

    Started by the first client (in the server's event loop); :meth:`close` ends every
    client's wait.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        poll_s: float = 0.2,
        hold_s: float = 0.5,
        keep: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.poll_s = poll_s
        self.hold_s = hold_s
        self._clock = clock
        self._ring: deque[OutboxRecord] = deque(maxlen=keep)
        self._ring_floor = 0  # every released row above this id is in the ring
        self._follower: GapFollower | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.closed = False

    @property
    def position(self) -> int:
        """The newest released outbox id (0 before the hub has started)."""
        return 0 if self._follower is None else self._follower.position

    async def start(self) -> None:
        """Begin following from the newest row (no replay of older changes); idempotent."""
        if self._task is not None:
            return
        latest = await asyncio.to_thread(self._latest_id)
        if self._task is not None:  # another client started it meanwhile
            return
        self._follower = GapFollower(latest, self.hold_s)
        self._ring_floor = latest
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="vigil-outbox-hub")

    async def close(self) -> None:
        self.closed = True
        self._wake()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def after(self, last_id: int) -> list[OutboxRecord]:
        """Released rows with an id above ``last_id``, oldest first (at most one batch)."""
        if last_id >= self._ring_floor:
            ids = [r.id for r in self._ring]
            start = bisect.bisect_right(ids, last_id)
            return list(self._ring)[start : start + BATCH]
        position = self.position
        rows = await asyncio.to_thread(self._store.outbox_since, last_id, BATCH)
        return [r for r in rows if r.id <= position]

    async def wait(self, last_id: int, timeout: float) -> None:
        """Until a row above ``last_id`` is released, the hub closes, or ``timeout`` passes."""
        changed = self._changed
        if self.position > last_id or self.closed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    async def _run(self) -> None:
        assert self._follower is not None
        while not self.closed:
            try:
                rows = await asyncio.to_thread(
                    self._store.outbox_since, self._follower.position, BATCH
                )
            except SQLAlchemyError as exc:
                log.warning("event stream: cannot read the outbox (%s)", type(exc).__name__)
                await asyncio.sleep(max(1.0, self.poll_s))
                continue
            except Exception:  # never let the one poller die: every client would stall
                log.exception("event stream: reading the outbox failed")
                await asyncio.sleep(max(1.0, self.poll_s))
                continue
            released = self._follower.take(rows, self._clock())
            if released:
                if len(self._ring) + len(released) > (self._ring.maxlen or 0):
                    overflow = len(self._ring) + len(released) - (self._ring.maxlen or 0)
                    dropped = (list(self._ring) + released)[overflow - 1]
                    self._ring_floor = dropped.id
                self._ring.extend(released)
                self._wake()
            if len(released) < len(rows) or len(rows) < BATCH:
                await asyncio.sleep(self.poll_s)  # caught up, or holding at a hole

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _latest_id(self) -> int:
        with self._store.engine.connect() as conn:
            return int(conn.scalar(select(func.max(OutboxRow.id))) or 0)
