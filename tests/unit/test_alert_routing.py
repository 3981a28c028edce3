"""Pure parts of alerts: channel config, routing filters, schedules, cooldown, backoff, payloads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.events.alerts.backoff import http_status_retryable, retry_delay
from vigil.events.alerts.config import AlertFilter, AlertsConfig
from vigil.events.alerts.payloads import (
    alert_payload,
    chat_message,
    delivery_key,
    mqtt_topics,
    push_message,
    sign,
)
from vigil.events.alerts.routing import Change, RouteState, minute_of_day, route, subscribes
from vigil.events.store.records import OutboxRecord

ALL = ("new", "update", "end", "status")


def change(**fields: object) -> Change:
    values: dict[str, object] = dict(
        outbox_id=1,
        type="new",
        event_id="e1",
        camera="gate-3",
        rule="restricted_zone",
        zone="tank-farm",
        severity="high",
        subject="track:7",
        at=1_000_000.0,
    )
    values.update(fields)
    return Change(**values)  # type: ignore[arg-type]


NO_STATE = RouteState()


def decide(f: AlertFilter, c: Change, state: RouteState = NO_STATE, minute: float = 600):
    return route(f, f.changes or ALL, c, state, minute_of_day=minute)


def channels(*entries: dict) -> AlertsConfig:
    return AlertsConfig.model_validate({"channels": list(entries)})


# --- config ---------------------------------------------------------------------------------


def test_default_change_types_depend_on_the_kind_of_channel() -> None:
    config = channels(
        {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/"},
        {"name": "bus", "kind": "mqtt"},
        {"name": "chat", "kind": "apprise", "urls": ["json://127.0.0.1:9/"]},
        {"name": "phones", "kind": "webpush", "subject": "mailto:a@b.example"},
        {"name": "chat-all", "kind": "apprise", "urls": ["json://x/"], "filter": {"changes": ALL}},
    )
    assert [c.wanted_changes() for c in config.channels] == [
        ALL,
        ALL,
        ("new", "end"),
        ("new", "end"),
        ALL,
    ]


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"name": "a", "kind": "sms", "url": "x"}, "kind"),
        ({"name": "a", "kind": "webhook", "url": "ftp://x"}, "url"),
        ({"name": "a", "kind": "webhook", "url": "http://x", "retries": 3}, "retries"),
        ({"name": "a b", "kind": "mqtt"}, "channel name 'a b'"),
        ({"name": "a", "kind": "mqtt", "topic_prefix": "vigil/#"}, "topic_prefix"),
        ({"name": "a", "kind": "apprise", "urls": []}, "urls"),
        ({"name": "a", "kind": "mqtt", "filter": {"schedule": ["25:00-06:00"]}}, "25:00-06:00"),
        ({"name": "a", "kind": "mqtt", "filter": {"min_severity": "urgent"}}, "min_severity"),
        ({"name": "a", "kind": "mqtt", "filter": {"changes": ["opened"]}}, "changes"),
        ({"name": "a", "kind": "webpush", "subject": "ops@plant"}, "subject"),
    ],
)
def test_bad_channel_config_names_the_problem(entry: dict, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint.replace("/", ".")):
        channels(entry)


def test_channel_names_are_unique_and_timezone_known() -> None:
    with pytest.raises(ValidationError, match="channel name 'ops' is used twice"):
        channels({"name": "ops", "kind": "mqtt"}, {"name": "ops", "kind": "mqtt"})
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Base'"):
        AlertsConfig(timezone="Mars/Base")
    assert AlertsConfig(public_url="https://v.example/").public_url == "https://v.example"


# --- routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "passes"),
    [
        (AlertFilter(), True),
        (AlertFilter(cameras=["gate-3", "yard"]), True),
        (AlertFilter(cameras=["yard"]), False),
        (AlertFilter(zones=["tank-farm"]), True),
        (AlertFilter(zones=["dock"]), False),
        (AlertFilter(rules=["restricted_zone"]), True),
        (AlertFilter(rules=["fire", "smoke"]), False),
        (AlertFilter(min_severity="high"), True),
        (AlertFilter(min_severity="medium"), True),
        (AlertFilter(min_severity="critical"), False),
        (AlertFilter(changes=["end"]), False),
    ],
)
def test_filters_narrow_by_camera_zone_rule_severity_and_change(f, passes) -> None:
    assert subscribes(f, f.changes or ALL, change()) is passes
    assert (decide(f, change()).action == "deliver") is passes


def test_an_event_without_a_zone_never_matches_a_zone_filter() -> None:
    assert not subscribes(AlertFilter(zones=["tank-farm"]), ALL, change(zone=None))
    assert subscribes(AlertFilter(), ALL, change(zone=None))


@pytest.mark.parametrize(
    ("f", "minute", "reason"),
    [
        (AlertFilter(schedule=["22:00-06:00"]), 23 * 60, None),
        (AlertFilter(schedule=["22:00-06:00"]), 5 * 60 + 59, None),
        (AlertFilter(schedule=["22:00-06:00"]), 6 * 60, "outside schedule 22:00-06:00"),
        (AlertFilter(schedule=["22:00-06:00"]), 12 * 60, "outside schedule 22:00-06:00"),
        (AlertFilter(quiet_hours=["12:00-13:00"]), 12 * 60 + 30, "quiet hours 12:00-13:00"),
        (AlertFilter(quiet_hours=["12:00-13:00"]), 13 * 60, None),
        (
            AlertFilter(schedule=["00:00-24:00"], quiet_hours=["23:00-01:00"]),
            30,
            "quiet hours 23:00-01:00",
        ),
    ],
)
def test_schedule_and_quiet_hours_skip_new_alerts_with_a_reason(f, minute, reason) -> None:
    r = decide(f, change(), minute=minute)
    assert (r.action, r.reason) == (("deliver", None) if reason is None else ("skip", reason))


def test_cooldown_keys_on_camera_rule_and_subject_across_events() -> None:
    f = AlertFilter(cooldown=60)
    first = change(at=1000.0)
    assert decide(f, first).action == "deliver"
    # The same person, a new event 30 s later: one alert, not two.
    later = change(event_id="e2", at=1030.0)
    r = decide(f, later, RouteState(last_new_at=1000.0))
    assert r.action == "skip" and r.reason.startswith("cooldown: camera gate-3")
    assert decide(f, change(at=1060.0), RouteState(last_new_at=1000.0)).action == "deliver"
    assert decide(AlertFilter(), later, RouteState(last_new_at=1000.0)).action == "deliver"
    # The key itself: a different subject, rule or camera is another key.
    assert {change(subject="track:8").subject_key, change(rule="fall").subject_key} == {
        "gate-3/restricted_zone/track:8",
        "gate-3/fall/track:7",
    }


def test_follow_ups_of_a_skipped_new_are_skipped_and_never_time_filtered() -> None:
    f = AlertFilter(quiet_hours=["12:00-13:00"], cooldown=60)
    end = change(type="end", at=1030.0)
    assert decide(f, end, RouteState(new_skipped=True)).action == "skip"
    # An end whose new went out is sent even in quiet hours and within the cooldown.
    assert decide(f, end, RouteState(last_new_at=1000.0), minute=12 * 60 + 5).action == "deliver"


def test_minute_of_day_in_a_given_zone() -> None:
    noon_utc = 1_700_000_000 - 1_700_000_000 % 86400 + 12 * 3600
    assert minute_of_day(noon_utc, "UTC") == 720
    assert minute_of_day(noon_utc, "Asia/Shanghai") == 20 * 60


# --- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    lows = [retry_delay(a, initial=1, maximum=60, draw=0.0) for a in range(1, 9)]
    highs = [retry_delay(a, initial=1, maximum=60, draw=1.0) for a in range(1, 9)]
    assert highs == [1, 2, 4, 8, 16, 32, 60, 60]
    assert lows == [h / 2 for h in highs]
    assert 0.5 <= retry_delay(1, initial=1, maximum=60) <= 1.0
    assert retry_delay(10_000, initial=1, maximum=60, draw=1.0) == 60


def test_which_http_answers_are_retried() -> None:
    assert [http_status_retryable(s) for s in (500, 502, 503, 408, 429)] == [True] * 5
    assert [http_status_retryable(s) for s in (400, 401, 403, 404, 410, 422)] == [False] * 6


# --- payloads -------------------------------------------------------------------------------


def outbox(kind: str = "new", **after: object) -> OutboxRecord:
    event = {
        "id": "abc123",
        "camera": "gate-3",
        "rule": "fire",
        "label": "fire",
        "subject": "zone:tank-farm",
        "severity": "critical",
        "zone": "tank-farm",
        "start_wall": 1_700_000_000 - 1_700_000_000 % 86400 + 14 * 3600 + 5 * 60 + 12,
        "end_wall": 1_700_000_000 - 1_700_000_000 % 86400 + 14 * 3600 + 6 * 60 + 40,
        "peak_confidence": 0.8712,
        "state": "ended" if kind == "end" else "open",
        "status": "new",
        "snapshot_path": "/srv/media/x.jpg" if kind == "end" else None,
        "clip_path": None,
        **after,
    }
    payload = {"type": kind, "before": None if kind == "new" else dict(event), "after": event}
    return OutboxRecord(42, "abc123", kind, "gate-3", "fire", "tank-farm", "critical", payload, 5.0)


def test_payload_is_the_outbox_shape_plus_flat_fields_and_links() -> None:
    p = alert_payload(outbox("end"), "scada", "https://vigil.plant.example")
    assert (p["type"], p["before"]["id"], p["after"]["state"]) == ("end", "abc123", "ended")
    assert p["delivery"] == delivery_key(42, "scada") == "42:scada"
    assert (p["camera"], p["rule"], p["zone"], p["severity"]) == (
        "gate-3",
        "fire",
        "tank-farm",
        "critical",
    )
    assert p["snapshot_url"] == "https://vigil.plant.example/api/v1/events/abc123/snapshot"
    assert p["clip_url"] == "https://vigil.plant.example/api/v1/events/abc123/clip"
    assert (p["has_snapshot"], p["has_clip"]) == (True, False)
    assert p["start_time"].endswith("14:05:12.000+00:00") and p["peak_confidence"] == 0.8712
    no_links = alert_payload(outbox(), "scada", None)
    assert no_links["snapshot_url"] is None and no_links["event_url"] is None


def test_chat_text_is_short_with_time_score_and_link() -> None:
    new = alert_payload(outbox(), "chat", "https://v.example")
    title, body = chat_message(new, "UTC")
    assert title == "Vigil: fire at gate-3"
    assert body == "🔥 fire — gate-3 (tank-farm), 14:05:12, 0.87\nhttps://v.example/events/abc123"
    _, body = chat_message(alert_payload(outbox("end"), "chat", None), "UTC")
    assert body == "✅ fire ended — gate-3 (tank-farm), 14:05:12–14:06:40, peak 0.87"
    status = alert_payload(outbox("status", status="acknowledged"), "chat", None)
    status.update(actor="op-1", note="crew sent")
    assert chat_message(status, "UTC")[1].endswith(": acknowledged by op-1 (crew sent)")
    _, shanghai = chat_message(new, "Asia/Shanghai")
    assert "22:05:12" in shanghai
    push = push_message(new, "UTC")
    assert push["url"] == "https://v.example/events/abc123" and push["delivery"] == "42:chat"


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Known answer from `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k3y`.
    assert sign("k3y", 1_700_000_000, b'{"a":1}') == (
        "sha256=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a"
    )
    assert mqtt_topics("plant/vigil", "gate-3", "fire") == (
        "plant/vigil/events",
        "plant/vigil/gate-3/fire",
    )
