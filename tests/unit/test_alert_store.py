"""The alerts' tables on SQLite and PostgreSQL: lease, routing with cooldown, cursor over
holes, claims and retries, interrupted attempts, the delivery log and push subscriptions."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from alerthelpers import end_event, open_event, update_event
from sqlalchemy import select

from vigil.events.alerts.config import AlertFilter
from vigil.events.alerts.routing import route
from vigil.events.alerts.store import (
    INTERRUPTED,
    AlertStore,
    ChannelRoute,
    Lease,
    LeaseLost,
)
from vigil.events.store.models import OutboxRow
from vigil.events.store.store import EventStore

A = Lease("alerts", "holder-a", 10.0)
B = Lease("alerts", "holder-b", 10.0)


@pytest.fixture
def store(url: str) -> Iterator[EventStore]:
    with EventStore(url) as s:
        yield s


@pytest.fixture
def alerts(store: EventStore) -> AlertStore:
    return AlertStore(store)


def channel(name: str, f: AlertFilter, wanted=("new", "update", "end", "status")) -> ChannelRoute:
    return ChannelRoute(
        name=name,
        decide=lambda c, state: route(f, wanted, c, state, minute_of_day=600),
        wants_new="new" in wanted,
        cooldown=f.cooldown > 0,
    )


def log_of(alerts: AlertStore, name: str) -> list[tuple[int, str, int, str | None]]:
    rows = alerts.deliveries(channel=name)
    return sorted((d.outbox_id, d.status, d.attempt, d.error) for d in rows)


def test_lease_is_taken_by_compare_and_set_and_fences_every_write(alerts: AlertStore) -> None:
    t = 1000.0
    assert alerts.acquire_lease(A, now=t)
    assert not alerts.acquire_lease(B, now=t + 1)  # held
    assert alerts.renew_lease(A, now=t + 5)  # now until t + 15
    assert not alerts.acquire_lease(B, now=t + 14)
    assert alerts.lease_holder("alerts", now=t + 14) == "holder-a"
    # A stops renewing (stalled or dead): after its expiry B takes over.
    assert alerts.acquire_lease(B, now=t + 16)
    assert alerts.lease_holder("alerts", now=t + 16) == "holder-b"
    assert not alerts.renew_lease(A, now=t + 17)
    # A, waking up, can write nothing: routing and claims raise and roll back.
    with pytest.raises(LeaseLost):
        alerts.route(A, [], [], now=t + 17)
    with pytest.raises(LeaseLost):
        alerts.claim(A, "hook", now=t + 17)
    alerts.release_lease(A)  # not A's to release: no effect
    assert alerts.lease_holder("alerts", now=t + 17) == "holder-b"
    alerts.release_lease(B)
    assert alerts.lease_holder("alerts", now=t + 17) is None
    assert alerts.acquire_lease(A, now=t + 17)


def test_routing_applies_per_subject_cooldown_across_events(
    store: EventStore, alerts: AlertStore
) -> None:
    assert alerts.acquire_lease(A)
    phones = channel("phones", AlertFilter(cooldown=600), wanted=("new", "end"))
    hook = channel("hook", AlertFilter(rules=["fire"]))
    first = open_event(store, subject="track:7")
    update_event(store, first, peak_confidence=0.9)
    end_event(store, first)
    second = open_event(store, subject="track:7")  # the same person again: one alert
    end_event(store, second)
    other = open_event(store, subject="track:8")  # someone else: alerted
    fall = open_event(store, subject="track:7", rule="fall")  # another rule: alerted
    position = alerts.cursor_position("alerts", catch_up=3600)
    records = alerts.unrouted(position)
    assert len(records) == 7
    queued = alerts.route(A, records, [phones, hook])
    assert queued == {"phones": 4, "hook": 6}
    ids = {r.id: (r.event_id, r.type) for r in records}
    phone_log = [(ids[o][0], ids[o][1], s, e) for o, s, _, e in log_of(alerts, "phones")]
    assert phone_log == [
        (first.id, "new", "pending", None),
        (first.id, "end", "pending", None),
        (second.id, "new", "skipped", phone_log[2][3]),
        (second.id, "end", "skipped", "its event's new was skipped on this channel"),
        (other.id, "new", "pending", None),
        (fall.id, "new", "pending", None),
    ]
    assert phone_log[2][3].startswith("cooldown: camera gate-3, rule fire, subject track:7")
    assert [ids[o][0] for o, *_ in log_of(alerts, "hook")].count(fall.id) == 0  # rules filter
    assert alerts.unrouted(position) == []  # routed once, never again
    assert alerts.route(A, [], [phones, hook]) == {"phones": 0, "hook": 0}


def test_cursor_waits_at_a_hole_until_grace_and_routes_past_it(
    store: EventStore, alerts: AlertStore
) -> None:
    def outbox_row(id_: int, created_at: float) -> OutboxRow:
        return OutboxRow(
            id=id_,
            event_id=f"e{id_}",
            type="new",
            camera="gate-3",
            rule="fire",
            zone=None,
            severity="critical",
            payload={"type": "new", "before": None, "after": {"subject": "s"}},
            created_at=created_at,
        )

    t = time.time()
    assert alerts.acquire_lease(A, now=t)
    assert alerts.cursor_position("alerts", catch_up=3600, now=t) == 0
    with store.engine.begin() as conn:  # 3 is a transaction still open when 4 commits
        for row in (outbox_row(1, t), outbox_row(2, t), outbox_row(4, t)):
            conn.execute(OutboxRow.__table__.insert().values(**_columns(row)))
    assert [r.id for r in alerts.unrouted(0)] == [1, 2, 4]  # 4 is not held up by the hole
    alerts.route(A, alerts.unrouted(0), [], now=t)
    assert alerts.advance_cursor("alerts", A, grace=60, now=t + 1) == 2
    with store.engine.begin() as conn:  # 3 commits late: still found above the cursor
        conn.execute(OutboxRow.__table__.insert().values(**_columns(outbox_row(3, t))))
    assert [r.id for r in alerts.unrouted(2)] == [3]
    alerts.route(A, alerts.unrouted(2), [], now=t + 2)
    assert alerts.advance_cursor("alerts", A, grace=60, now=t + 2) == 4
    # A hole that never fills (a rolled-back transaction) is passed once the grace is over.
    with store.engine.begin() as conn:
        conn.execute(OutboxRow.__table__.insert().values(**_columns(outbox_row(6, t + 3))))
    alerts.route(A, alerts.unrouted(4), [], now=t + 3)
    assert alerts.advance_cursor("alerts", A, grace=60, now=t + 4) == 4
    assert alerts.advance_cursor("alerts", A, grace=60, now=t + 64) == 6


def _columns(row: OutboxRow) -> dict:
    return {c.name: getattr(row, c.name) for c in OutboxRow.__table__.columns}


def test_first_start_skips_history_older_than_catch_up(
    store: EventStore, alerts: AlertStore
) -> None:
    open_event(store)
    open_event(store)
    later = time.time() + 100
    assert alerts.cursor_position("alerts", catch_up=50, now=later) == 2  # both too old
    assert alerts.cursor_position("alerts", catch_up=0, now=later) == 2  # kept from now on


def test_claim_retry_and_interrupted_attempts(store: EventStore, alerts: AlertStore) -> None:
    t = time.time()
    assert alerts.acquire_lease(A, now=t)
    open_event(store)
    alerts.route(A, alerts.unrouted(0), [channel("hook", AlertFilter())], now=t)
    first = alerts.claim(A, "hook", now=t)
    assert (first.attempt, first.status, first.dispatcher) == (1, "sending", "holder-a")
    assert alerts.claim(A, "hook", now=t) is None  # one attempt at a time
    assert alerts.finish(A, first, "failed", http_status=503, error="HTTP 503", retry_at=t + 5)
    assert alerts.claim(A, "hook", now=t + 4) is None  # backing off
    assert alerts.next_due_at("hook") == pytest.approx(t + 5)
    second = alerts.claim(A, "hook", now=t + 5)
    assert second.attempt == 2
    # A dies during attempt 2; B takes over after the lease expired.
    assert alerts.acquire_lease(B, now=t + 20)
    assert alerts.recover_interrupted(B, now=t + 20) == [second.outbox_id]
    assert not alerts.finish(A, second, "sent", now=t + 21)  # too late: not A's any more
    third = alerts.claim(B, "hook", now=t + 20)
    assert third.attempt == 3
    assert alerts.finish(B, third, "sent", http_status=200, now=t + 21)
    assert log_of(alerts, "hook") == [
        (1, "failed", 1, "HTTP 503"),
        (1, "failed", 2, INTERRUPTED),
        (1, "sent", 3, None),
    ]
    (sent,) = alerts.deliveries(status="sent")
    assert sent.latency == pytest.approx(t + 21 - sent.change_at)
    assert not alerts.busy(["hook"])


def test_delivery_log_filters_newest_first_and_pages(store: EventStore, alerts: AlertStore) -> None:
    assert alerts.acquire_lease(A)
    events = [open_event(store, subject=f"track:{i}") for i in range(3)]
    alerts.route(
        A, alerts.unrouted(0), [channel("hook", AlertFilter()), channel("bus", AlertFilter())]
    )
    everything = alerts.deliveries()
    assert [d.id for d in everything] == sorted((d.id for d in everything), reverse=True)
    assert len(everything) == 6
    assert {d.channel for d in alerts.deliveries(channel="bus")} == {"bus"}
    assert {d.event_id for d in alerts.deliveries(event_id=events[1].id)} == {events[1].id}
    assert alerts.deliveries(status="sent") == []
    page = alerts.deliveries(limit=4)
    assert alerts.deliveries(before_id=page[-1].id) == everything[4:]
    assert everything[0].to_dict()["channel"] in {"hook", "bus"}


def test_push_subscriptions_per_user(alerts: AlertStore) -> None:
    a = alerts.add_push_subscription("ana", "https://push.example/1", "key-1", "auth-1")
    alerts.add_push_subscription("bo", "https://push.example/2", "key-2", "auth-2")
    again = alerts.add_push_subscription("ana", "https://push.example/1", "key-1b", "auth-1b")
    assert again.id == a.id and again.p256dh == "key-1b"  # same endpoint: replaced
    assert [s.user_name for s in alerts.push_subscriptions()] == ["ana", "bo"]
    assert [s.endpoint for s in alerts.push_subscriptions(users=["bo"])] == [
        "https://push.example/2"
    ]
    assert a.info()["keys"] == {"p256dh": "key-1", "auth": "auth-1"}
    assert not alerts.remove_push_subscription("https://push.example/2", user_name="ana")
    assert alerts.remove_push_subscription("https://push.example/2", user_name="bo")
    assert [s.user_name for s in alerts.push_subscriptions()] == ["ana"]
    with pytest.raises(ValueError, match="endpoint: an http"):
        alerts.add_push_subscription("ana", "file:///etc/passwd", "k", "a")
    with pytest.raises(ValueError, match="keys.auth"):
        alerts.add_push_subscription("ana", "https://push.example/3", "k", "")


def test_pushes_reach_only_users_who_may_see_the_camera(store: EventStore, alerts: AlertStore):
    from apihelpers import PASSWORD  # real argon2 at its cheapest

    from vigil.api.accounts import Accounts

    accounts = Accounts(store.engine)
    accounts.add_user("ana", PASSWORD, "viewer", cameras=["gate-3"])
    accounts.add_user("bo", PASSWORD, "operator")
    accounts.add_user("carl", PASSWORD, "operator")
    accounts.update_user("bo", disabled=True)
    for user in ("ana", "bo", "carl", "dan"):  # dan: no user row (kept, as before)
        alerts.add_push_subscription(user, f"https://push.example/{user}", "BPk", "aGk")

    def names(**kw: object) -> list[str]:
        return [s.user_name for s in alerts.push_subscriptions(**kw)]

    assert names() == ["ana", "bo", "carl", "dan"]
    assert names(camera="gate-3") == ["ana", "carl", "dan"]
    assert names(camera="yard") == ["carl", "dan"]  # ana is limited to gate-3; bo disabled
    assert names(users=["ana", "bo"], camera="yard") == []


def test_prune_deletes_only_history_no_dispatcher_reads_again(
    store: EventStore, alerts: AlertStore
) -> None:
    def outbox_ids() -> list[int]:
        with store.engine.connect() as conn:
            return sorted(conn.scalars(select(OutboxRow.id)))

    t = time.time()
    for i in range(4):
        open_event(store, subject=f"track:{i}")
    later = t + 3600
    # No dispatcher ever ran (no cursor): old changes go, as nothing will send them.
    assert alerts.prune(changes_before=t - 1, deliveries_before=later) == (0, 0)
    assert alerts.prune(changes_before=later, deliveries_before=later, batch=1) == (1, 0)
    assert outbox_ids() == [2, 3, 4]
    # A dispatcher routes 2 and 3; 2 is sent, 3 is still being retried, 4 is not routed yet.
    d = t + 100  # past the cursor's grace for the hole left by 1
    assert alerts.acquire_lease(A, now=d)
    position = alerts.cursor_position("alerts", catch_up=3600, now=d)
    alerts.route(A, alerts.unrouted(position, limit=2), [channel("hook", AlertFilter())], now=d)
    assert alerts.advance_cursor("alerts", A, grace=60, now=d) == 3
    sent = alerts.claim(A, "hook", now=d)
    assert alerts.finish(A, sent, "sent", http_status=200, now=d)
    failed = alerts.claim(A, "hook", now=d)
    assert alerts.finish(A, failed, "failed", error="HTTP 503", retry_at=later + 60, now=d)
    assert alerts.prune(changes_before=later, deliveries_before=d - 1) == (1, 0)
    assert outbox_ids() == [3, 4]  # 3: an attempt is pending; 4: above the cursor
    assert alerts.prune(changes_before=later, deliveries_before=later) == (0, 2)
    assert log_of(alerts, "hook") == [(3, "pending", 2, None)]  # the retry is kept


def test_a_worker_prunes_with_the_sites_keep_days(store: EventStore) -> None:
    from types import SimpleNamespace

    from vigil.events.alerts.config import AlertsConfig
    from vigil.run import SiteRunner

    open_event(store)
    worker = SimpleNamespace(site=SimpleNamespace(alerts=None), store=store)
    week = 7 * 86400
    assert SiteRunner.prune_alert_history(worker, now=time.time() + week - 60) == (0, 0)
    assert SiteRunner.prune_alert_history(worker, now=time.time() + week + 60) == (1, 0)
    open_event(store)
    worker.site.alerts = AlertsConfig(keep_changes_days=0.5)
    assert SiteRunner.prune_alert_history(worker, now=time.time() + 86400) == (1, 0)
