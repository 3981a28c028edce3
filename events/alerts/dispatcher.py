"""The alert dispatcher: the outbox's changes, routed to channels, delivered, logged.

One dispatcher per store delivers, whichever processes run one (`vigil run`, `vigil serve`,
several hosts against one PostgreSQL): it must hold the store's lease ``alerts`` (TTL
``lease_ttl``, renewed every ``renew_every`` seconds and by each of its writes); the others
wait and take over when the lease expires, or at once when the holder stops and releases it.

While it holds the lease, the main thread polls the outbox every ``poll_interval`` seconds
from its cursor and routes each new change to each channel in one transaction (``pending``
or ``skipped`` rows in the delivery log, :mod:`.routing` decides). Each channel has its own
worker thread that claims its due deliveries oldest first, sends, and logs the attempt.

Why a thread per channel and not an asyncio loop: apprise, pywebpush (requests) and paho's
publish acknowledgement are blocking APIs, so an event loop would run them in threads anyway;
a thread per channel (a site has a handful) keeps a hung or slow receiver from delaying any
other channel with no shared scheduler to get wrong, and a retry waiting out its backoff
blocks nothing: the worker takes the next due delivery meanwhile.

Crash safety, attempt by attempt: a delivery is committed ``sending`` before the attempt and
``sent``/``failed``/``dropped`` after. A restart (or the next lease holder) finds the
``sending`` rows of a dead dispatcher and attempts them again with the same idempotency key
(``X-Vigil-Delivery: <outbox_id>:<channel>``, ``delivery`` in MQTT payloads): whether the
interrupted attempt reached the receiver cannot be known, so that one change may arrive twice
on that channel, recognisably. Nothing else is ever sent twice: routing and claims are
compare-and-set writes, and a change routed is never routed again.

Example::

    dispatcher = start_dispatcher(store, site.alerts, data_dir)   # None without channels
    ...
    dispatcher.stop()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from vigil.events.store.store import EventStore

from . import metrics
from .backoff import retry_delay
from .channels.base import Channel, Delivery, Outcome
from .config import AlertsConfig, _Channel
from .payloads import alert_payload, delivery_key
from .routing import minute_of_day, route
from .store import AlertStore, ChannelRoute, DeliveryRecord, Lease, LeaseLost

log = logging.getLogger(__name__)

LEASE_NAME = "alerts"


class Dispatcher:
    """Delivers the store's outbox to ``config``'s channels (see the module docstring).

    ``channels`` replaces the channels built from the config (tests); ``holder`` names this
    dispatcher in the lease and the delivery log (default ``host:pid:random``).
    """

    def __init__(
        self,
        store: EventStore,
        config: AlertsConfig,
        data_dir: Path,
        *,
        channels: Mapping[str, Channel] | None = None,
        holder: str | None = None,
        poll_interval: float = 0.1,
        lease_ttl: float = 10.0,
        renew_every: float = 3.0,
        cursor_grace: float = 60.0,
    ) -> None:
        self.config = config
        self.alerts = AlertStore(store)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = Lease(LEASE_NAME, self.holder, lease_ttl)
        self.poll_interval = poll_interval
        self.renew_every = renew_every
        self.cursor_grace = cursor_grace
        self._settings = {c.name: c for c in config.channels}
        if channels is None:
            from .channels import build_channel

            channels = {
                c.name: build_channel(c, self.alerts, data_dir, config.timezone)
                for c in config.channels
            }
        self.channels = dict(channels)
        self._routes = [self._channel_route(c) for c in config.channels if c.name in channels]
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._holding = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[ChannelWorker] = []
        self._release_on_stop = True

    # --- control ----------------------------------------------------------------------------

    def start(self) -> Dispatcher:
        """Start the dispatcher's thread; it delivers once it holds the lease."""
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain: float = 0.0, timeout: float = 30.0, release: bool = True) -> None:
        """Stop: first wait up to ``drain`` seconds for what is due to go out (the rest goes
        out on the next start), then let workers finish the attempt in hand, release the
        lease (``release=False`` leaves it to expire: what a crash looks like to the others);
        each worker closes its channel as it stops."""
        if drain > 0 and self.holding:
            self.wait_idle(drain)
        self._release_on_stop = release
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Poll the outbox now (an in-process writer that just committed a change)."""
        self._wake.set()

    @property
    def holding(self) -> bool:
        """Whether this dispatcher holds the lease (and so delivers)."""
        return self._holding.is_set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every change is routed and no delivery is pending or sending; True if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                position = self.alerts.cursor_position(LEASE_NAME, self.config.catch_up)
                if not self.alerts.unrouted(position, 1) and not self.alerts.busy(
                    channels=list(self.channels)
                ):
                    return True
            except SQLAlchemyError:
                pass
            time.sleep(0.05)
        return False

    # --- the dispatcher's thread ------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.alerts.acquire_lease(self.lease):
                    self._stop.wait(min(self.renew_every, self.lease.ttl / 2))
                    continue
            except SQLAlchemyError as exc:
                log.warning("alerts: cannot reach the store for the lease: %s", exc)
                self._stop.wait(self.renew_every)
                continue
            log.info("alerts: %s holds the lease; delivering", self.holder)
            self._holding.set()
            try:
                self._lead()
            except LeaseLost as exc:
                log.warning("alerts: %s", exc)
            except Exception:
                log.exception("alerts: dispatcher failed; trying again")
                self._stop.wait(1.0)
            finally:
                self._holding.clear()
                self._stop_workers()
        if self._release_on_stop:
            try:
                self.alerts.release_lease(self.lease)
            except SQLAlchemyError as exc:
                log.warning("alerts: could not release the lease: %s", exc)

    def _lead(self) -> None:
        """Deliver while the lease is ours: recover interrupted attempts, then route."""
        resent = self.alerts.recover_interrupted(self.lease)
        if resent:
            log.warning(
                "alerts: %d attempts were interrupted by a stop; sending again (same key)",
                len(resent),
            )
        position = self.alerts.cursor_position(LEASE_NAME, self.config.catch_up)
        self._start_workers()
        expires = time.monotonic() + self.lease.ttl
        next_renew = next_advance = 0.0
        highest = self.alerts.highest_routed()  # routed marks above the cursor, if any
        while not self._stop.is_set():
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            now = time.monotonic()
            if now >= next_renew:
                expires = self._renew(expires)
                next_renew = now + self.renew_every
            try:
                # Advancing writes: only while routed rows lie above the cursor.
                if now >= next_advance and highest > position:
                    position = self.alerts.advance_cursor(LEASE_NAME, self.lease, self.cursor_grace)
                    next_advance = now + 1.0
                full, routed_to = self._route_once(position)
                highest = max(highest, routed_to)
            except SQLAlchemyError as exc:  # a busy database: the rows wait for the next poll
                log.warning("alerts: routing failed, retrying: %s", exc)
                full = False
            if not full:
                self._wake.wait(self.poll_interval)

    def _renew(self, expires: float) -> float:
        try:
            if self.alerts.renew_lease(self.lease):
                return time.monotonic() + self.lease.ttl
            raise LeaseLost(f"lease {LEASE_NAME!r} was taken over")
        except SQLAlchemyError as exc:
            if time.monotonic() >= expires:
                raise LeaseLost(f"lease {LEASE_NAME!r} expired: store unreachable") from exc
            log.warning("alerts: lease renewal failed, retrying: %s", exc)
            return expires

    def _route_once(self, position: int, batch: int = 200) -> tuple[bool, int]:
        """Route one batch of unrouted changes. Returns whether the batch was full (more
        wait) and the highest outbox id routed (0 when none)."""
        records = self.alerts.unrouted(position, batch)
        if not records:
            return False, 0
        queued = self.alerts.route(self.lease, records, self._routes)
        for worker in self._workers:
            if queued.get(worker.channel_name):
                worker.wake()
        return len(records) == batch, records[-1].id

    def _channel_route(self, c: _Channel) -> ChannelRoute:
        wanted = c.wanted_changes()
        zone = self.config.timezone

        def decide(change, state):  # noqa: ANN001, ANN202
            return route(
                c.filter, wanted, change, state, minute_of_day=minute_of_day(change.at, zone)
            )

        return ChannelRoute(
            name=c.name, decide=decide, wants_new="new" in wanted, cooldown=c.filter.cooldown > 0
        )

    def _start_workers(self) -> None:
        self._workers = [
            ChannelWorker(name, channel, self._settings[name], self, self._holding)
            for name, channel in self.channels.items()
        ]
        for worker in self._workers:
            worker.start()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            worker.wake()
        for worker in self._workers:
            worker.join()  # an attempt in hand finishes (bounded by the channel's timeout)
        self._workers = []


class ChannelWorker(threading.Thread):
    """Sends one channel's due deliveries, oldest change first, while the lease is held."""

    def __init__(
        self,
        name: str,
        channel: Channel,
        settings: _Channel,
        dispatcher: Dispatcher,
        holding: threading.Event,
    ) -> None:
        super().__init__(name=f"alert-{name}", daemon=True)
        self.channel_name = name
        self.channel = channel
        self.settings = settings
        self.dispatcher = dispatcher
        self._holding = holding
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        try:
            self.channel.open()
            self._work()
        finally:
            try:
                self.channel.close()
            except Exception:  # closing must not hide why the worker stopped
                log.exception("alerts: channel %s could not be closed cleanly", self.channel_name)

    def _work(self) -> None:
        alerts, lease = self.dispatcher.alerts, self.dispatcher.lease
        while self._holding.is_set():
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            try:
                # Idle polls only read; the claim (a write) is made when something is due.
                due = alerts.next_due_at(self.channel_name)
                if due is None or due > time.time():
                    self._idle(due)
                    continue
                claimed = alerts.claim(lease, self.channel_name)
                if claimed is not None:
                    self._deliver(claimed)
            except LeaseLost:
                return
            except SQLAlchemyError as exc:
                log.warning("alerts: channel %s: store error, retrying: %s", self.channel_name, exc)
                self._idle(time.time() + 1.0)

    def _idle(self, next_due: float | None) -> None:
        wait = 1.0 if next_due is None else min(max(next_due - time.time(), 0.005), 1.0)
        self._wake.wait(wait)

    def _deliver(self, claimed: DeliveryRecord) -> None:
        d, s = self.dispatcher, self.settings
        record = d.alerts.outbox_record(claimed.outbox_id)
        if record is None:
            self._finish(claimed, "dropped", Outcome(ok=False, error="outbox row was pruned"))
            return
        delivery = Delivery(
            key=delivery_key(record.id, self.channel_name),
            attempt=claimed.attempt,
            payload=alert_payload(record, self.channel_name, d.config.public_url),
            done_targets=frozenset(claimed.done_targets or ()),
        )
        try:
            outcome = self.channel.send(delivery)
        except Exception as exc:  # a channel bug must not kill the worker
            log.exception("alerts: channel %s raised", self.channel_name)
            outcome = Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        if outcome.ok:
            self._finish(claimed, "sent", outcome)
        elif outcome.retry and claimed.attempt < s.max_attempts:
            delay = retry_delay(claimed.attempt, initial=s.backoff_initial, maximum=s.backoff_max)
            self._finish(claimed, "failed", outcome, retry_at=time.time() + delay)
        else:
            gave_up = "" if not outcome.retry else f" (gave up after {claimed.attempt} attempts)"
            self._finish(claimed, "dropped", outcome, suffix=gave_up)

    def _finish(
        self,
        claimed: DeliveryRecord,
        status: str,
        outcome: Outcome,
        retry_at: float | None = None,
        suffix: str = "",
    ) -> None:
        error = None if outcome.error is None else outcome.error + suffix
        done = self.dispatcher.alerts.finish(
            self.dispatcher.lease,
            claimed,
            status,
            http_status=outcome.http_status,
            error=error,
            done_targets=outcome.done_targets,
            retry_at=retry_at,
        )
        if not done:
            log.warning(
                "alerts: channel %s: delivery %s was taken over while sending",
                self.channel_name,
                claimed.id,
            )
            return
        metrics.delivered(self.channel_name, status, time.time() - claimed.change_at)
        if status != "sent":
            log.warning(
                "alerts: channel %s: change %s attempt %d %s: %s",
                self.channel_name,
                claimed.outbox_id,
                claimed.attempt,
                status,
                error,
            )


def build_dispatcher(
    store: EventStore, config: AlertsConfig | None, data_dir: Path, **options: float
) -> Dispatcher | None:
    """The dispatcher of a site, built (channels checked and connecting) but not started;
    None when the site has no channels.

    Raises ValueError (one line) for a channel that cannot be built (an apprise URL apprise
    does not know, a missing VAPID key file).
    """
    if config is None or not config.channels:
        return None
    return Dispatcher(store, config, data_dir, **options)


def start_dispatcher(
    store: EventStore, config: AlertsConfig | None, data_dir: Path, **options: float
) -> Dispatcher | None:
    """:func:`build_dispatcher`, started."""
    dispatcher = build_dispatcher(store, config, data_dir, **options)
    return None if dispatcher is None else dispatcher.start()
