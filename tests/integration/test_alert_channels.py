"""Each alert channel against the real thing on loopback, through the real dispatcher: a
webhook receiver that checks signatures and fails on purpose, the machine's Mosquitto with a
paho subscriber, apprise's json:// plugin to a loopback server, and a loopback push service
that decrypts what pywebpush encrypted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import http_ece
import paho.mqtt.client as mqtt
import pytest
from alerthelpers import Receiver, end_event, open_event, update_event, wait_until
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import REGISTRY

from vigil.events.alerts import AlertsConfig, AlertStore, Dispatcher
from vigil.events.alerts.channels import build_channel
from vigil.events.alerts.channels.webpush import (
    VAPID_FILE,
    application_server_key,
    load_vapid,
    vapid_public_key,
)
from vigil.events.alerts.config import AppriseChannel
from vigil.events.store.store import EventStore

FAST = {"max_attempts": 5, "backoff_initial": 0.05, "backoff_max": 0.2, "timeout": 3}
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(f"sqlite:///{tmp_path / 'vigil.db'}") as s:
        yield s


def dispatcher(store: EventStore, tmp_path: Path, *channels: dict, **config) -> Dispatcher:
    alerts = AlertsConfig.model_validate({"channels": list(channels), **config})
    return Dispatcher(
        store, alerts, tmp_path, poll_interval=0.02, lease_ttl=3, renew_every=0.5
    ).start()


def three_changes(store: EventStore) -> None:
    """new, update, end of one fire event."""
    v = open_event(store)
    v = update_event(store, v, peak_confidence=0.93)
    end_event(store, v)


def statuses(store: EventStore, channel: str) -> list[tuple[int, int, str]]:
    rows = AlertStore(store).deliveries(channel=channel)
    return sorted((d.outbox_id, d.attempt, d.status) for d in rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- webhook --------------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_webhook_signed_retried_with_backoff_and_logged(store: EventStore, tmp_path: Path):
    secret = "s3cret"
    sent_before = sample("vigil_alert_deliveries_total", channel="scada", status="sent")
    latency_before = sample("vigil_alert_latency_seconds_count", channel="scada")
    flaky = Receiver(answer=lambda _r, n: 503 if n <= 2 else 200)  # fails twice on purpose
    refusing = Receiver(answer=lambda _r, _n: 401)
    down = Receiver(answer=lambda _r, _n: 500)
    with flaky, refusing, down:
        d = dispatcher(
            store,
            tmp_path,
            {"name": "scada", "kind": "webhook", "url": flaky.url + "/hook", "secret": secret}
            | FAST,
            {"name": "refusing", "kind": "webhook", "url": refusing.url} | FAST,
            {"name": "down", "kind": "webhook", "url": down.url} | FAST | {"max_attempts": 3},
            public_url="https://vigil.plant.example",
        )
        try:
            three_changes(store)
            assert d.wait_idle(30), "deliveries still due"
        finally:
            d.stop()
        receipts = flaky.snapshot()

    # Every request is signed over "<timestamp>.<raw body>", checked here independently.
    for r in receipts:
        ts = r.headers["x-vigil-timestamp"]
        mac = hmac.new(secret.encode(), f"{ts}.".encode() + r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(r.headers["x-vigil-signature"], "sha256=" + mac)
        assert abs(time.time() - int(ts)) < 120
        assert r.path == "/hook" and r.headers["content-type"] == "application/json"
    # 2 failed on purpose + 3 changes; each change's key arrives, with its attempt number.
    assert len(receipts) == 5
    keys = Counter(r.key for r in receipts)
    assert sorted(keys) == ["1:scada", "2:scada", "3:scada"] and sum(keys.values()) == 5
    for key, count in keys.items():
        attempts = [int(r.headers["x-vigil-attempt"]) for r in receipts if r.key == key]
        assert attempts == list(range(1, count + 1))
    bodies = {r.key: json.loads(r.body) for r in receipts}
    assert [bodies[k]["type"] for k in ("1:scada", "2:scada", "3:scada")] == [
        "new",
        "update",
        "end",
    ]
    first = bodies["1:scada"]
    assert (first["camera"], first["rule"], first["zone"], first["delivery"]) == (
        "gate-3",
        "fire",
        "tank-farm",
        "1:scada",
    )
    assert first["snapshot_url"].startswith("https://vigil.plant.example/api/v1/events/")
    # The delivery log shows every attempt: the two 503s, then sent.
    log = AlertStore(store).deliveries(channel="scada")
    assert sorted(d.http_status for d in log if d.status == "failed") == [503, 503]
    assert {d.outbox_id for d in log if d.status == "sent"} == {1, 2, 3}
    assert len(log) == 5 and all(d.latency > 0 for d in log)
    # A 401 is not retried; a receiver that keeps failing is given up on after max_attempts.
    assert statuses(store, "refusing") == [(i, 1, "dropped") for i in (1, 2, 3)]
    assert len(refusing.receipts) == 3
    assert statuses(store, "down") == [
        (i, a, "failed" if a < 3 else "dropped") for i in (1, 2, 3) for a in (1, 2, 3)
    ]
    (last,) = AlertStore(store).deliveries(channel="down", limit=1)
    assert last.error == "HTTP 500 (gave up after 3 attempts)"
    # Prometheus: deliveries by channel and status, latency of the sent ones.
    assert sample("vigil_alert_deliveries_total", channel="scada", status="sent") == sent_before + 3
    assert sample("vigil_alert_latency_seconds_count", channel="scada") == latency_before + 3
    assert sample("vigil_alert_deliveries_total", channel="down", status="dropped") >= 3


# --- MQTT -----------------------------------------------------------------------------------


class Subscriber:
    """A real paho subscriber on ``<prefix>/#``."""

    def __init__(self, prefix: str) -> None:
        self.messages: list[tuple[str, dict | str, bool]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4()}")
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        try:
            self.client.connect(MQTT_HOST, MQTT_PORT)
        except OSError as exc:
            pytest.skip(f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}: {exc}")
        self.client.loop_start()
        assert self._ready.wait(10), "subscription not acknowledged"

    def _on_message(self, _client, _userdata, message) -> None:  # noqa: ANN001
        text = message.payload.decode()
        body = json.loads(text) if text.startswith("{") else text
        self.messages.append((message.topic, body, bool(message.retain)))

    def on(self, topic: str) -> list:
        return [body for t, body, _ in list(self.messages) if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_publishes_every_change_to_both_topics(store: EventStore, tmp_path: Path):
    prefix = f"vigil-test-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(prefix)
    closed_port = free_port()
    d = dispatcher(
        store,
        tmp_path,
        {"name": "bus", "kind": "mqtt", "topic_prefix": prefix, "retain": True} | FAST,
        {"name": "nowhere", "kind": "mqtt", "port": closed_port}
        | FAST
        | {"max_attempts": 2, "timeout": 0.3},
    )
    try:
        three_changes(store)
        wait_until(lambda: len(sub.on(f"{prefix}/gate-3/fire")) == 3, 20, "3 messages")
        assert d.wait_idle(20)
        assert sub.on(f"{prefix}/available")[-1] == "online"
    finally:
        d.stop()
    wait_until(lambda: sub.on(f"{prefix}/available")[-1] == "offline", 10, "offline")
    sub.close()

    events = sub.on(f"{prefix}/events")
    assert [(m["type"], m["delivery"]) for m in events] == [
        ("new", "1:bus"),
        ("update", "2:bus"),
        ("end", "3:bus"),
    ]
    assert sub.on(f"{prefix}/gate-3/fire") == events
    assert events[1]["after"]["peak_confidence"] == 0.93
    # Retained: a subscriber arriving later gets the newest change of that camera and rule.
    late = Subscriber(f"{prefix}/gate-3")
    wait_until(lambda: late.on(f"{prefix}/gate-3/fire"), 10, "the retained message")
    assert late.on(f"{prefix}/gate-3/fire")[0]["delivery"] == "3:bus"
    late.close()
    # No broker: each attempt fails with the reason, then the delivery is dropped.
    log = AlertStore(store).deliveries(channel="nowhere")
    assert sorted((d.outbox_id, d.status) for d in log) == [
        (i, s) for i in (1, 2, 3) for s in ("dropped", "failed")
    ]
    assert all(d.error.startswith(f"MQTT broker 127.0.0.1:{closed_port}: ") for d in log)


# --- apprise --------------------------------------------------------------------------------


def test_apprise_tells_each_url_once_per_change(store: EventStore, tmp_path: Path):
    ok = Receiver()
    flaky = Receiver(answer=lambda _r, n: 500 if n == 1 else 200)
    with ok, flaky:
        urls = [
            f"json://127.0.0.1:{ok.httpd.server_port}/chat",
            f"json://127.0.0.1:{flaky.httpd.server_port}/chat",
        ]
        d = dispatcher(
            store,
            tmp_path,
            {"name": "phones", "kind": "apprise", "urls": urls} | FAST,
            public_url="https://v.example",
            timezone="UTC",
        )
        try:
            three_changes(store)  # new, update, end: phones get new and end
            assert d.wait_idle(30)
        finally:
            d.stop()
        got, flaky_got = ok.snapshot(), flaky.snapshot()

    messages = [json.loads(r.body) for r in got]
    assert [m["title"] for m in messages] == [
        "Vigil: fire at gate-3",
        "Vigil: fire ended at gate-3",
    ]
    assert messages[0]["message"].startswith("🔥 fire — gate-3 (tank-farm), ")
    assert messages[0]["message"].endswith(", 0.87\nhttps://v.example/events/" + _event_id(store))
    assert messages[1]["message"].startswith("✅ fire ended — gate-3 (tank-farm), ")
    # The flaky URL failed once and was retried alone: the other got nothing twice.
    # (Its retry of the new may come after the end: a retry waits, later changes do not.)
    retried = sorted((json.loads(r.body) for r in flaky_got[1:]), key=lambda m: m["title"])
    assert len(flaky_got) == 3 and retried == sorted(messages, key=lambda m: m["title"])
    log = AlertStore(store).deliveries(channel="phones")
    assert sorted((d.outbox_id, d.attempt, d.status) for d in log) == [
        (1, 1, "failed"),
        (1, 2, "sent"),
        (3, 1, "sent"),
    ]
    failed = next(d for d in log if d.status == "failed")
    assert f"127.0.0.1:{flaky.httpd.server_port}" in failed.error and failed.done_targets


def _event_id(store: EventStore) -> str:
    return store.list_events()[0].id


def test_apprise_url_it_does_not_know_is_a_one_line_error(tmp_path: Path):
    bad = AppriseChannel(name="chat", kind="apprise", urls=["nosuch://token@host/"])
    with pytest.raises(ValueError, match="channel chat: apprise does not understand a nosuch://"):
        build_channel(bad, None, tmp_path)


# --- WebPush --------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, str, bytes, str]:
    """What a browser's PushSubscription holds: its P-256 key pair and auth secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    return private, b64url(public), auth, b64url(auth)


def verify_vapid(authorization: str, audience: str, subject: str) -> str:
    """Check the ES256 VAPID JWT of an ``Authorization: vapid t=..., k=...`` header; returns k."""
    fields = dict(part.strip().split("=", 1) for part in authorization[len("vapid ") :].split(","))
    token, key = fields["t"], fields["k"]
    header, claims, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    claims_json = json.loads(unb64url(claims))
    assert claims_json["aud"] == audience and claims_json["sub"] == subject
    assert claims_json["exp"] > time.time()
    return key


def test_webpush_encrypted_for_each_subscription_and_gone_ones_dropped(
    store: EventStore, tmp_path: Path
):
    service = Receiver(answer=lambda r, _n: 410 if r.path.endswith("/gone") else 201)
    alerts = AlertStore(store)
    keys = {}
    with service:
        for user, path in (("ana", "/push/ana"), ("bo", "/push/gone"), ("carl", "/push/carl")):
            private, p256dh, auth, auth_text = browser_keys()
            keys[path] = (private, auth)
            alerts.add_push_subscription(user, service.url + path, p256dh, auth_text)
        subject = "mailto:safety@plant.example"
        d = dispatcher(
            store,
            tmp_path,
            {"name": "console", "kind": "webpush", "subject": subject, "users": ["ana", "bo"]}
            | FAST,
            public_url="https://v.example",
        )
        try:
            open_event(store)
            assert d.wait_idle(30)
        finally:
            d.stop()
        receipts = service.snapshot()

    assert sorted(r.path for r in receipts) == ["/push/ana", "/push/gone"]  # carl: not listed
    (push,) = [r for r in receipts if r.path == "/push/ana"]
    assert push.headers["content-encoding"] == "aes128gcm"
    assert (push.headers["ttl"], push.headers["urgency"]) == ("3600", "high")
    # The VAPID key was generated once into the data folder, private to its owner.
    key_file = tmp_path / VAPID_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    site_alerts = AlertsConfig.model_validate(
        {"channels": [{"name": "c", "kind": "webpush", "subject": subject}]}
    )
    server_key = application_server_key(site_alerts, tmp_path)
    assert server_key == vapid_public_key(load_vapid(site_alerts.channels[0], tmp_path))
    assert verify_vapid(push.headers["authorization"], service.url, subject) == server_key
    # The payload is really encrypted for ana's browser: only her keys open it.
    private, auth = keys["/push/ana"]
    assert b"gate-3" not in push.body
    message = json.loads(http_ece.decrypt(push.body, private_key=private, auth_secret=auth))
    assert message["title"] == "Vigil: fire at gate-3" and message["delivery"] == "1:console"
    assert message["url"] == f"https://v.example/events/{_event_id(store)}"
    # 410 Gone: bo's subscription is deleted; the delivery counts as sent.
    assert [s.user_name for s in alerts.push_subscriptions()] == ["ana", "carl"]
    assert statuses(store, "console") == [(1, 1, "sent")]
