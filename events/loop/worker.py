"""The loop worker: auto-dispatch of new events and the overdue checker, one per store.

Like the alert dispatcher it holds a lease in the store (``loop``), so however many processes
run one (`vigil run`, `vigil serve`, several hosts), one works and the others stand by. While
it holds the lease it looks every ``poll_interval`` seconds for events still ``new`` that
auto-dispatch has not seen (the event row itself is the queue: a crash between an event's
open and its dispatch loses nothing, the next holder finds it), and every ``check_every``
seconds for items past their due time (flagged, escalated once per step).

The assignee hears of it through the outbox: the assignment is a ``status`` change addressed
to ``user:<name>`` or ``group:<name>`` (``notify``), which alert channels with an
``assignees`` filter receive.

Example::

    worker = LoopWorker(store, site.dispatch, site.escalation).start()
    ...
    worker.stop()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy.exc import SQLAlchemyError

from vigil.events.alerts.store import AlertStore, Lease
from vigil.events.store.store import EventStore

from .config import DispatchRule, EscalationStep
from .store import LoopStore

log = logging.getLogger(__name__)

LEASE_NAME = "loop"


class LoopWorker:
    """See the module docstring. ``on_change`` is called after each write (wake the alert
    dispatcher in the same process, so the assignee hears at once)."""

    def __init__(
        self,
        store: EventStore,
        rules: Sequence[DispatchRule],
        escalation: Mapping[str, Sequence[EscalationStep]] | None = None,
        *,
        poll_interval: float = 0.1,
        check_every: float = 2.0,
        catch_up: float = 3600.0,
        lease_ttl: float = 10.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.loop = LoopStore(store)
        self.leases = AlertStore(store)
        self.rules = list(rules)
        self.escalation = {k: list(v) for k, v in (escalation or {}).items()}
        self.poll_interval = poll_interval
        self.check_every = check_every
        self.catch_up = catch_up
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = Lease(LEASE_NAME, holder, lease_ttl)
        self.on_change = on_change or (lambda: None)
        self._started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LoopWorker:
        self._thread = threading.Thread(target=self._run, name="loop-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        next_check = 0.0
        next_renew = 0.0
        holding = False
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_renew:
                    holding = self.leases.acquire_lease(self.lease)
                    next_renew = now + self.lease.ttl / 3
                if holding:
                    self.dispatch_once()
                    if now >= next_check:
                        self.check_overdue_once()
                        next_check = now + self.check_every
            except SQLAlchemyError as exc:
                log.warning("loop: store unavailable, retrying: %s", str(exc).splitlines()[0])
                holding = False
                next_renew = 0.0
            except Exception:
                log.exception("loop: worker failed; trying again")
            self._stop.wait(self.poll_interval if holding else self.lease.ttl / 3)
        try:
            self.leases.release_lease(self.lease)
        except SQLAlchemyError as exc:
            log.warning("loop: could not release the lease: %s", exc)

    def dispatch_once(self) -> int:
        """Dispatch every waiting new event; returns how many were assigned."""
        assigned = 0
        since = min(self._started_at, time.time()) - self.catch_up
        for event in self.loop.undispatched(since):
            target = self.loop.dispatch(event, self.rules, time.time())
            if target is not None:
                assigned += 1
                log.info("loop: event %s assigned to %s", event.id, target)
                self.on_change()
        return assigned

    def check_overdue_once(self) -> int:
        """Flag and escalate every item past its due time; returns the notifications."""
        sent = 0
        now = time.time()
        steps = max((len(ladder) for ladder in self.escalation.values()), default=0)
        for item in self.loop.overdue(now, steps):
            ladder = self.escalation.get(item.severity, [])
            notified = self.loop.flag_and_escalate(item, ladder, now)
            if notified:
                log.warning("loop: event %s overdue; notified %s", item.event_id, notified)
                sent += len(notified)
                self.on_change()
        return sent
