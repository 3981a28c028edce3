"""The alerts' tables in the event store: lease, routing cursor, delivery log, push subscriptions.

The dispatcher's writes are transactions that start with a compare-and-set on its lease row
(``UPDATE leases ... WHERE holder = me``): a dispatcher that lost its lease writes nothing. The
delivery log's unique ``(outbox_id, channel, attempt)`` and the ``pending → sending`` claim by
compare-and-set make a double send impossible even then.

The API reads and writes through the public half:

>>> from vigil.events.store import EventStore
>>> alerts = AlertStore(EventStore("sqlite://"))
>>> sub = alerts.add_push_subscription("ana", "https://push.example/abc", "BPk...", "aGk...")
>>> [s.user_name for s in alerts.push_subscriptions()], alerts.deliveries(channel="ops")
(['ana'], [])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vigil.events.store.models import (
    AlertCursorRow,
    AlertRoutedRow,
    DeliveryRow,
    EventRow,
    LeaseRow,
    OutboxRow,
    PushSubscriptionRow,
    UserRow,
)
from vigil.events.store.records import OutboxRecord
from vigil.events.store.store import EventStore

from .routing import Change, Route, RouteState

INTERRUPTED = "interrupted: the dispatcher stopped during this attempt; it may have arrived"


class LeaseLost(RuntimeError):
    """This dispatcher no longer holds its lease: another one may be delivering."""


@dataclass(frozen=True, slots=True)
class Lease:
    """Who asks (``holder``) for which lease (``name``), for how long (``ttl`` seconds)."""

    name: str
    holder: str
    ttl: float


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One row of the delivery log (one attempt, or one skipped change); times are epoch s."""

    id: int
    outbox_id: int
    event_id: str
    change: str
    channel: str
    attempt: int
    status: str
    subject_key: str
    change_at: float
    due_at: float
    started_at: float | None
    finished_at: float | None
    latency: float | None
    http_status: int | None
    error: str | None
    dispatcher: str | None
    done_targets: list[str] | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FAILURES = ("failed", "dropped")


@dataclass(slots=True)
class ChannelState:
    """A channel's delivery log summed up (:meth:`AlertStore.channel_states`)."""

    counts: dict[str, int] = dataclass_field(default_factory=dict)  # rows per status
    last_sent_at: float | None = None
    last_failure_at: float | None = None  # the newest failed or dropped attempt
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's push subscription of one user."""

    id: int
    user_name: str
    endpoint: str
    p256dh: str
    auth: str
    created_at: float

    def info(self) -> dict[str, Any]:
        """The ``subscription_info`` pywebpush takes (PushSubscription.toJSON() shape)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True, slots=True)
class ChannelRoute:
    """What routing needs of one channel: its name and a decision function of a change and
    the delivery log's state (see :func:`vigil.events.alerts.routing.route`)."""

    name: str
    decide: Callable[[Change, RouteState], Route]
    wants_new: bool
    cooldown: bool


class AlertStore:
    """The alerts' half of an :class:`EventStore` (same engine, same migrations)."""

    def __init__(self, store: EventStore) -> None:
        self.engine = store.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # --- lease ------------------------------------------------------------------------------

    def acquire_lease(self, lease: Lease, now: float | None = None) -> bool:
        """Take the lease if it is free, expired or already ours; True when held."""
        now = time.time() if now is None else now
        with self._sessions.begin() as s:
            taken = s.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.name == lease.name,
                    (LeaseRow.holder == lease.holder) | (LeaseRow.expires_at < now),
                )
                .values(holder=lease.holder, expires_at=now + lease.ttl, acquired_at=now)
            ).rowcount  # type: ignore[attr-defined]
        if taken == 1:
            return True
        try:
            with self._sessions.begin() as s:
                s.add(
                    LeaseRow(
                        name=lease.name,
                        holder=lease.holder,
                        expires_at=now + lease.ttl,
                        acquired_at=now,
                    )
                )
        except IntegrityError:
            return False  # someone else holds it
        return True

    def renew_lease(self, lease: Lease, now: float | None = None) -> bool:
        """Extend our lease by ``ttl``; False when it is no longer ours."""
        now = time.time() if now is None else now
        with self._sessions.begin() as s:
            return self._renew(s, lease, now)

    def release_lease(self, lease: Lease) -> None:
        """Let the lease go at once, so a standby dispatcher takes over without waiting."""
        with self._sessions.begin() as s:
            s.execute(
                update(LeaseRow)
                .where(LeaseRow.name == lease.name, LeaseRow.holder == lease.holder)
                .values(expires_at=0.0)
            )

    def lease_holder(self, name: str, now: float | None = None) -> str | None:
        """Who holds the lease now, or None when nobody does."""
        now = time.time() if now is None else now
        with self._sessions() as s:
            row = s.get(LeaseRow, name)
            return row.holder if row is not None and row.expires_at >= now else None

    @staticmethod
    def _renew(s: Session, lease: Lease, now: float) -> bool:
        result = s.execute(
            update(LeaseRow)
            .where(LeaseRow.name == lease.name, LeaseRow.holder == lease.holder)
            .values(expires_at=now + lease.ttl)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def _fence(self, s: Session, lease: Lease, now: float) -> None:
        """First statement of every dispatcher write: renew, or raise LeaseLost (rolls back).
        Starting with a write also takes SQLite's write lock before any read of the block."""
        if not self._renew(s, lease, now):
            raise LeaseLost(f"lease {lease.name!r} is no longer held by {lease.holder}")

    # --- routing ----------------------------------------------------------------------------

    def cursor_position(self, name: str, catch_up: float, now: float | None = None) -> int:
        """The routing cursor; the first time, just below the changes of the last ``catch_up``
        seconds (older history is not sent)."""
        now = time.time() if now is None else now
        with self._sessions() as s:
            row = s.get(AlertCursorRow, name)
            if row is not None:
                return row.position
            start = s.scalar(
                select(func.coalesce(func.max(OutboxRow.id), 0)).where(
                    OutboxRow.created_at < now - catch_up
                )
            )
        try:
            with self._sessions.begin() as s:
                s.add(AlertCursorRow(name=name, position=int(start or 0), updated_at=now))
        except IntegrityError:
            pass  # another dispatcher created it first
        with self._sessions() as s:
            return s.get_one(AlertCursorRow, name).position

    def unrouted(self, position: int, limit: int = 200) -> list[OutboxRecord]:
        """Outbox rows above the cursor not routed yet, oldest first."""
        routed = exists().where(AlertRoutedRow.outbox_id == OutboxRow.id)
        query = (
            select(OutboxRow)
            .where(OutboxRow.id > position, ~routed)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        with self._sessions() as s:
            return [_outbox_record(r) for r in s.scalars(query)]

    def outbox_record(self, outbox_id: int) -> OutboxRecord | None:
        with self._sessions() as s:
            row = s.get(OutboxRow, outbox_id)
            return None if row is None else _outbox_record(row)

    def route(
        self,
        lease: Lease,
        records: Sequence[OutboxRecord],
        channels: Sequence[ChannelRoute],
        now: float | None = None,
    ) -> dict[str, int]:
        """Route a batch in one transaction: per change and channel, a ``pending`` first
        attempt or a ``skipped`` row, and the change's routed mark. Returns the number of
        deliveries queued per channel. Raises LeaseLost (nothing written) without the lease."""
        now = time.time() if now is None else now
        queued = {c.name: 0 for c in channels}
        with self._sessions.begin() as s:
            self._fence(s, lease, now)
            for record in records:
                change = Change.of(record)
                for channel in channels:
                    decision = channel.decide(change, self._route_state(s, channel, change))
                    if decision.action == "ignore":
                        continue
                    skipped = decision.action == "skip"
                    s.execute(
                        insert(DeliveryRow).values(
                            outbox_id=change.outbox_id,
                            event_id=change.event_id,
                            change=change.type,
                            channel=channel.name,
                            attempt=0 if skipped else 1,
                            status="skipped" if skipped else "pending",
                            subject_key=change.subject_key,
                            change_at=change.at,
                            due_at=now,
                            error=decision.reason,
                            finished_at=now if skipped else None,
                            created_at=now,
                        )
                    )
                    queued[channel.name] += 0 if skipped else 1
                s.add(AlertRoutedRow(outbox_id=record.id, routed_at=now))
        return queued

    @staticmethod
    def _route_state(s: Session, channel: ChannelRoute, change: Change) -> RouteState:
        if change.type == "new":
            if not channel.cooldown:
                return RouteState()
            last = s.scalar(
                select(func.max(DeliveryRow.change_at)).where(
                    DeliveryRow.channel == channel.name,
                    DeliveryRow.subject_key == change.subject_key,
                    DeliveryRow.change == "new",
                    DeliveryRow.status != "skipped",
                )
            )
            return RouteState(last_new_at=last)
        if not channel.wants_new:
            return RouteState()
        skipped = s.scalar(
            select(literal(True))
            .where(
                DeliveryRow.event_id == change.event_id,
                DeliveryRow.channel == channel.name,
                DeliveryRow.change == "new",
                DeliveryRow.status == "skipped",
            )
            .limit(1)
        )
        return RouteState(new_skipped=bool(skipped))

    def highest_routed(self) -> int:
        """The highest outbox id with a routed mark (0 when none): the cursor has work to do
        while it is below this."""
        with self._sessions() as s:
            return int(s.scalar(select(func.coalesce(func.max(AlertRoutedRow.outbox_id), 0))))

    def advance_cursor(
        self, name: str, lease: Lease, grace: float, now: float | None = None
    ) -> int:
        """Move the cursor over routed rows and drop their marks; returns the new position.

        A hole in the outbox ids may be a transaction still open (PostgreSQL hands out ids
        before commit, so a later id can commit first): the cursor waits at a hole until the
        row after it is ``grace`` seconds old, and rows beyond are routed meanwhile.
        """
        now = time.time() if now is None else now
        with self._sessions.begin() as s:
            self._fence(s, lease, now)
            cursor = s.get_one(AlertCursorRow, name)
            rows = s.execute(
                select(OutboxRow.id, OutboxRow.created_at, AlertRoutedRow.outbox_id)
                .outerjoin(AlertRoutedRow, AlertRoutedRow.outbox_id == OutboxRow.id)
                .where(OutboxRow.id > cursor.position)
                .order_by(OutboxRow.id)
                .limit(5000)
            ).all()
            position = cursor.position
            for outbox_id, created_at, routed in rows:
                if routed is None or (outbox_id != position + 1 and now - created_at < grace):
                    break
                position = outbox_id
            if position != cursor.position:
                cursor.position = position
                cursor.updated_at = now
                s.execute(delete(AlertRoutedRow).where(AlertRoutedRow.outbox_id <= position))
            return position

    # --- delivering -------------------------------------------------------------------------

    def claim(self, lease: Lease, channel: str, now: float | None = None) -> DeliveryRecord | None:
        """Mark the channel's oldest due ``pending`` delivery ``sending`` (committed before the
        attempt starts) and return it; None when nothing is due or the lease is not ours."""
        now = time.time() if now is None else now
        with self._sessions.begin() as s:
            self._fence(s, lease, now)
            candidate = (
                select(DeliveryRow.id)
                .where(
                    DeliveryRow.channel == channel,
                    DeliveryRow.status == "pending",
                    DeliveryRow.due_at <= now,
                )
                .order_by(DeliveryRow.outbox_id, DeliveryRow.attempt)
                .limit(1)
                .scalar_subquery()
            )
            claimed = s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == candidate, DeliveryRow.status == "pending")
                .values(status="sending", started_at=now, dispatcher=lease.holder)
                .returning(DeliveryRow)
            ).scalar_one_or_none()
            return None if claimed is None else _delivery_record(claimed)

    def next_due_at(self, channel: str) -> float | None:
        """When the channel's next pending delivery may start, if it has one."""
        with self._sessions() as s:
            return s.scalar(
                select(func.min(DeliveryRow.due_at)).where(
                    DeliveryRow.channel == channel, DeliveryRow.status == "pending"
                )
            )

    def finish(
        self,
        lease: Lease,
        claimed: DeliveryRecord,
        status: str,
        *,
        http_status: int | None = None,
        error: str | None = None,
        done_targets: Iterable[str] = (),
        retry_at: float | None = None,
        now: float | None = None,
    ) -> bool:
        """Record how a claimed attempt ended (``sent``, ``failed`` with ``retry_at`` for the
        next attempt, or ``dropped``). False when the row is no longer ours to finish (a new
        dispatcher declared it interrupted meanwhile); nothing is written then.

        Not fenced by the lease: the attempt happened, and its result is worth keeping.
        """
        now = time.time() if now is None else now
        done = sorted(done_targets) or None
        with self._sessions.begin() as s:
            result = s.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == claimed.id,
                    DeliveryRow.status == "sending",
                    DeliveryRow.dispatcher == lease.holder,
                )
                .values(
                    status=status,
                    finished_at=now,
                    latency=now - claimed.change_at,
                    http_status=http_status,
                    error=error,
                    done_targets=done,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            if status == "failed":
                assert retry_at is not None, "a failed attempt needs the time of the next one"
                s.execute(_next_attempt(claimed, retry_at, done, now))
        return True

    def recover_interrupted(self, lease: Lease, now: float | None = None) -> list[int]:
        """Attempts left ``sending`` by a dispatcher that died: each is marked ``failed``
        (interrupted) and attempted again at once, with the same idempotency key. Whether the
        interrupted one arrived cannot be known, so this is at-least-once: a receiver that
        keeps the keys it has seen drops the repeat. Returns the outbox ids resent."""
        now = time.time() if now is None else now
        with self._sessions.begin() as s:
            self._fence(s, lease, now)
            rows = s.scalars(select(DeliveryRow).where(DeliveryRow.status == "sending")).all()
            for row in rows:
                row.status = "failed"
                row.finished_at = now
                row.error = INTERRUPTED
                s.execute(_next_attempt(_delivery_record(row), now, row.done_targets, now))
            return [row.outbox_id for row in rows]

    def busy(self, channels: Sequence[str]) -> bool:
        """Whether a delivery of these channels is still pending (due now or later) or
        sending; a dispatcher that stops drains until none is."""
        with self._sessions() as s:
            return bool(
                s.scalar(
                    select(literal(True))
                    .where(
                        DeliveryRow.channel.in_(list(channels)),
                        DeliveryRow.status.in_(("pending", "sending")),
                    )
                    .limit(1)
                )
            )

    # --- housekeeping -----------------------------------------------------------------------

    def prune(
        self, changes_before: float, deliveries_before: float, batch: int = 5000
    ) -> tuple[int, int]:
        """Delete up to ``batch`` old outbox rows and ``batch`` old finished deliveries;
        returns how many of each. Needs no lease: it deletes only what no dispatcher will
        read again, so every worker may run it.

        An outbox row goes once it is older than ``changes_before`` (epoch s), the routing
        cursor has passed it (any age, when no dispatcher ever ran) and no attempt to deliver
        it is pending or sending. A delivery goes once it finished before
        ``deliveries_before``; the caller keeps at least the longest cooldown, which reads
        past deliveries.
        """
        in_flight = exists().where(
            DeliveryRow.outbox_id == OutboxRow.id, DeliveryRow.status.in_(("pending", "sending"))
        )
        with self._sessions.begin() as s:
            cursor = s.scalar(select(func.min(AlertCursorRow.position)))
            old = select(OutboxRow.id).where(OutboxRow.created_at < changes_before, ~in_flight)
            if cursor is not None:
                old = old.where(OutboxRow.id <= cursor)
            changes = list(s.scalars(old.order_by(OutboxRow.id).limit(batch)))
            if changes:
                s.execute(delete(OutboxRow).where(OutboxRow.id.in_(changes)))
            finished = list(
                s.scalars(
                    select(DeliveryRow.id)
                    .where(
                        DeliveryRow.status.not_in(("pending", "sending")),
                        DeliveryRow.finished_at < deliveries_before,
                    )
                    .order_by(DeliveryRow.id)
                    .limit(batch)
                )
            )
            if finished:
                s.execute(delete(DeliveryRow).where(DeliveryRow.id.in_(finished)))
        return len(changes), len(finished)

    # --- for the API ------------------------------------------------------------------------

    def deliveries(
        self,
        *,
        channel: str | None = None,
        status: str | None = None,
        event_id: str | None = None,
        before_id: int | None = None,
        cameras: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[DeliveryRecord]:
        """The delivery log, newest first; ``before_id`` pages on (keyset pagination);
        ``cameras``: only deliveries of these cameras' events (None: every camera)."""
        query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
        if cameras is not None:
            of_cameras = select(EventRow.id).where(EventRow.camera.in_(list(cameras)))
            query = query.where(DeliveryRow.event_id.in_(of_cameras))
        if channel is not None:
            query = query.where(DeliveryRow.channel == channel)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        if event_id is not None:
            query = query.where(DeliveryRow.event_id == event_id)
        if before_id is not None:
            query = query.where(DeliveryRow.id < before_id)
        with self._sessions() as s:
            return [_delivery_record(r) for r in s.scalars(query)]

    def channel_states(self, channels: Sequence[str]) -> dict[str, ChannelState]:
        """Each channel's delivery log summed up: rows per status, the newest sent and the
        newest failure (one aggregate query and one for the failures' errors)."""
        names = list(channels)
        states = {name: ChannelState() for name in names}
        with self._sessions() as s:
            counts = s.execute(
                select(DeliveryRow.channel, DeliveryRow.status, func.count())
                .where(DeliveryRow.channel.in_(names))
                .group_by(DeliveryRow.channel, DeliveryRow.status)
            ).all()
            for name, status, count in counts:
                states[name].counts[status] = int(count)
            sent = s.execute(
                select(DeliveryRow.channel, func.max(DeliveryRow.finished_at))
                .where(DeliveryRow.channel.in_(names), DeliveryRow.status == "sent")
                .group_by(DeliveryRow.channel)
            ).all()
            for name, finished in sent:
                states[name].last_sent_at = finished
            newest_failure = (
                select(func.max(DeliveryRow.id))
                .where(DeliveryRow.channel.in_(names), DeliveryRow.status.in_(FAILURES))
                .group_by(DeliveryRow.channel)
            )
            for row in s.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(newest_failure))):
                states[row.channel].last_failure_at = row.finished_at
                states[row.channel].last_error = row.error
        return states

    def add_push_subscription(
        self, user_name: str, endpoint: str, p256dh: str, auth: str
    ) -> PushSubscription:
        """Store a browser's subscription for a user; the same endpoint again replaces it
        (a browser re-subscribing, or a phone handed to another user).

        Raises ValueError naming the field for an endpoint that is not an http(s) URL or an
        empty key.
        """
        if not endpoint.startswith(("https://", "http://")) or len(endpoint) > 2048:
            raise ValueError("endpoint: an http(s) URL of at most 2048 characters")
        for name, value, longest in (("p256dh", p256dh, 256), ("auth", auth, 64)):
            if not value or len(value) > longest:
                raise ValueError(f"keys.{name}: 1 to {longest} characters")
        keys = {"user_name": user_name, "p256dh": p256dh, "auth": auth}
        by_endpoint = PushSubscriptionRow.endpoint == endpoint
        for _ in range(2):  # a concurrent add of the same endpoint: update the row it made
            try:
                with self._sessions.begin() as s:
                    # Write first: SQLite takes its write lock before anything is read.
                    if not s.execute(
                        update(PushSubscriptionRow).where(by_endpoint).values(**keys)
                    ).rowcount:  # type: ignore[attr-defined]
                        s.add(
                            PushSubscriptionRow(endpoint=endpoint, created_at=time.time(), **keys)
                        )
                        s.flush()
                    return _subscription(
                        s.scalars(select(PushSubscriptionRow).where(by_endpoint)).one()
                    )
            except IntegrityError:
                continue
        raise RuntimeError(f"push subscription for {endpoint!r} could not be stored")

    def remove_push_subscription(self, endpoint: str, user_name: str | None = None) -> bool:
        """Delete a subscription by endpoint (only the user's own, when ``user_name`` is
        given); True when one was deleted."""
        query = delete(PushSubscriptionRow).where(PushSubscriptionRow.endpoint == endpoint)
        if user_name is not None:
            query = query.where(PushSubscriptionRow.user_name == user_name)
        with self._sessions.begin() as s:
            return s.execute(query).rowcount == 1  # type: ignore[attr-defined]

    def push_subscriptions(
        self, users: Iterable[str] | None = None, camera: str | None = None
    ) -> list[PushSubscription]:
        """Stored subscriptions, oldest first, of some users or of all; with ``camera``, not
        those of a disabled user or of one limited to other cameras (a push shows the event)."""
        query = (
            select(PushSubscriptionRow, UserRow.disabled, UserRow.cameras)
            .outerjoin(UserRow, UserRow.name == PushSubscriptionRow.user_name)
            .order_by(PushSubscriptionRow.id)
        )
        if users is not None:
            query = query.where(PushSubscriptionRow.user_name.in_(list(users)))
        with self._sessions() as s:
            return [
                _subscription(row)
                for row, disabled, cameras in s.execute(query)
                if camera is None
                or not (disabled or (cameras is not None and camera not in cameras))
            ]


def _next_attempt(d: DeliveryRecord, due_at: float, done: list[str] | None, now: float) -> Any:
    return insert(DeliveryRow).values(
        outbox_id=d.outbox_id,
        event_id=d.event_id,
        change=d.change,
        channel=d.channel,
        attempt=d.attempt + 1,
        status="pending",
        subject_key=d.subject_key,
        change_at=d.change_at,
        due_at=due_at,
        done_targets=done,
        created_at=now,
    )


def _outbox_record(r: OutboxRow) -> OutboxRecord:
    return OutboxRecord(
        id=r.id,
        event_id=r.event_id,
        type=r.type,
        camera=r.camera,
        rule=r.rule,
        zone=r.zone,
        severity=r.severity,
        payload=r.payload,
        created_at=r.created_at,
    )


def _delivery_record(r: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(**{f.name: getattr(r, f.name) for f in fields(DeliveryRecord)})


def _subscription(r: PushSubscriptionRow) -> PushSubscription:
    return PushSubscription(
        id=r.id,
        user_name=r.user_name,
        endpoint=r.endpoint,
        p256dh=r.p256dh,
        auth=r.auth,
        created_at=r.created_at,
    )
