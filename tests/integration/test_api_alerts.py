"""The alert routes on loopback over SQLite and PostgreSQL: channels (secrets never shown,
state from the delivery log), the delivery log (filters, keyset pages, camera limits) and the
caller's WebPush subscriptions, with their auth matrix."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alerthelpers import open_event
from apihelpers import PASSWORD, Running, running_api
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vigil.events.alerts import AlertsConfig, AlertStore
from vigil.events.alerts.channels.webpush import application_server_key
from vigil.events.alerts.routing import Route
from vigil.events.alerts.store import ChannelRoute, Lease

API = "/api/v1"
LEASE = Lease("alerts", "test-dispatcher", 30.0)
SITE_ALERTS = {
    "channels": [
        {
            "name": "scada",
            "kind": "webhook",
            "url": "https://hook-user:hook-pass@scada.example:8443/hooks/vigil?token=query-secret",
            "secret": "hmac-secret",
            "headers": {"Authorization": "Bearer header-secret"},
        },
        {"name": "board", "kind": "mqtt", "username": "u", "password": "mqtt-secret"},
        {
            "name": "phones",
            "kind": "apprise",
            "urls": ["dingtalk://dingtalk-secret/", "ntfy://ntfy.example/topic-secret"],
            "filter": {"rules": ["fire"], "min_severity": "high", "cooldown": 300},
        },
        {"name": "console", "kind": "webpush", "subject": "mailto:safety@plant.example"},
    ]
}
SECRETS = (
    "hook-pass",
    "query-secret",
    "hmac-secret",
    "header-secret",
    "mqtt-secret",
    "dingtalk-secret",
    "topic-secret",
)


@pytest.fixture
def api(url: str, tmp_path: Path) -> Iterator[Running]:
    alerts = AlertsConfig.model_validate(SITE_ALERTS)
    with running_api(url, tmp_path / "data", alerts=alerts, login_rate="1000/minute") as r:
        r.accounts.add_user("gate-ops", PASSWORD, "operator", cameras=["gate-3"])
        r.tokens["gate-ops"] = r.accounts.create_token("gate-ops", "tests").secret
        yield r


def browser_keys() -> dict[str, str]:
    """A browser's subscription keys: a real P-256 public point and a 16-byte auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {"p256dh": b64(point), "auth": b64(os.urandom(16))}


def to_every(name: str) -> ChannelRoute:
    return ChannelRoute(name, lambda c, s: Route("send"), wants_new=True, cooldown=False)


def log_some_deliveries(api: Running) -> tuple[str, str]:
    """Two events (gate-3, yard) routed to scada and board; scada's first attempt at the gate
    event failed and waits for its retry. Returns the two event ids."""
    alerts = AlertStore(api.store)
    gate = open_event(api.store, camera="gate-3")
    yard = open_event(api.store, camera="yard")
    assert alerts.acquire_lease(LEASE)
    alerts.route(LEASE, alerts.unrouted(0), [to_every("scada"), to_every("board")])
    claimed = alerts.claim(LEASE, "scada")
    assert claimed is not None and claimed.event_id == gate.id
    alerts.finish(LEASE, claimed, "failed", http_status=503, error="HTTP 503", retry_at=2e9)
    sent = alerts.claim(LEASE, "board")
    assert sent is not None
    alerts.finish(LEASE, sent, "sent")
    return gate.id, yard.id


def test_channels_show_kind_filter_and_state_but_never_a_secret(api: Running) -> None:
    log_some_deliveries(api)
    with api.client("ops") as ops:
        r = ops.get(f"{API}/channels")
    assert r.status_code == 200, r.text
    for secret in SECRETS:
        assert secret not in r.text
    channels = {c["name"]: c for c in r.json()}
    assert [c["kind"] for c in r.json()] == ["webhook", "mqtt", "apprise", "webpush"]
    scada, board, phones = channels["scada"], channels["board"], channels["phones"]
    assert scada["target"] == "https://scada.example:8443/hooks/vigil" and scada["signed"]
    assert board["target"] == "mqtt://127.0.0.1:1883 vigil/…" and not board["signed"]
    assert phones["target"] == "dingtalk://…, ntfy://…"
    assert phones["filter"]["rules"] == ["fire"] and phones["filter"]["cooldown"] == 300
    assert phones["filter"]["changes"] == ["new", "end"]  # people hear of opening and end
    assert scada["filter"]["changes"] == ["new", "update", "end", "status"]
    state = scada["state"]
    assert state["delivering"]  # the test's dispatcher holds the lease
    assert (state["failed"], state["pending"], state["sent"]) == (1, 2, 0)
    assert state["last_error"] == "HTTP 503" and state["last_failure_at"]
    assert (board["state"]["sent"], board["state"]["pending"]) == (1, 1)
    assert board["state"]["last_sent_at"] and board["state"]["last_error"] is None
    AlertStore(api.store).release_lease(LEASE)
    with api.client("root") as admin:
        assert not admin.get(f"{API}/channels").json()[0]["state"]["delivering"]


def test_deliveries_filter_page_newest_first_and_follow_camera_limits(api: Running) -> None:
    gate, yard = log_some_deliveries(api)
    with api.client("ops") as ops:
        everything = ops.get(f"{API}/deliveries").json()
        rows = everything["deliveries"]
        assert len(rows) == 5 and everything["next_before_id"] is None
        assert [d["id"] for d in rows] == sorted((d["id"] for d in rows), reverse=True)
        first = ops.get(f"{API}/deliveries", params={"limit": 2}).json()
        assert [d["id"] for d in first["deliveries"]] == [rows[0]["id"], rows[1]["id"]]
        rest = ops.get(
            f"{API}/deliveries", params={"limit": 3, "before_id": first["next_before_id"]}
        ).json()
        assert [d["id"] for d in rest["deliveries"]] == [d["id"] for d in rows[2:]]
        assert rest["next_before_id"] is None
        failed = ops.get(f"{API}/deliveries", params={"status": "failed"}).json()["deliveries"]
        assert [(d["channel"], d["event_id"], d["http_status"]) for d in failed] == [
            ("scada", gate, 503)
        ]
        retry = ops.get(
            f"{API}/deliveries", params={"channel": "scada", "event_id": gate, "status": "pending"}
        ).json()["deliveries"]
        assert [(d["attempt"], d["change"]) for d in retry] == [(2, "new")]
        assert ops.get(f"{API}/deliveries", params={"status": "lost"}).status_code == 422
        assert ops.get(f"{API}/deliveries", params={"before_id": 0}).status_code == 422
    with api.client("gate-ops") as limited:  # the yard camera's deliveries are invisible
        seen = limited.get(f"{API}/deliveries").json()["deliveries"]
        assert {d["event_id"] for d in seen} == {gate} and len(seen) == 3
        assert limited.get(f"{API}/deliveries", params={"event_id": yard}).json() == {
            "deliveries": [],
            "next_before_id": None,
        }


def test_the_alert_routes_auth_matrix(api: Running) -> None:
    routes = [
        ("GET", f"{API}/channels", None),
        ("GET", f"{API}/deliveries", None),
        ("GET", f"{API}/push/key", None),
        ("POST", f"{API}/push/subscriptions", {"endpoint": "https://p.example/1"}),
        ("DELETE", f"{API}/push/subscriptions", {"endpoint": "https://p.example/1"}),
    ]
    with api.client() as anon:
        for method, path, body in routes:
            r = anon.request(method, path, json=body)
            assert r.status_code == 401, (method, path)
    with api.client("viewer") as viewer:  # the log and the channels are the control room's
        assert viewer.get(f"{API}/channels").status_code == 403
        assert viewer.get(f"{API}/deliveries").status_code == 403
        assert viewer.get(f"{API}/push/key").status_code == 200  # anyone may get pushes
    for who in ("root", "ops", "gate-ops"):
        with api.client(who) as c:
            assert c.get(f"{API}/channels").status_code == 200, who
            assert c.get(f"{API}/deliveries").status_code == 200, who
    with api.client() as browser:  # a console session: writes need the CSRF header
        login = browser.post(f"{API}/auth/login", json={"name": "viewer", "password": PASSWORD})
        body = {"endpoint": "https://push.example/s/1", "keys": browser_keys()}
        assert browser.post(f"{API}/push/subscriptions", json=body).status_code == 403
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        made = browser.post(f"{API}/push/subscriptions", json=body, headers=csrf)
        assert made.status_code == 201 and made.json()["user"] == "viewer"


def test_push_key_and_the_callers_own_subscriptions(api: Running, tmp_path: Path) -> None:
    alerts = AlertStore(api.store)
    endpoint = "https://fcm.googleapis.com/fcm/send/abc:123"
    keys = browser_keys()
    with api.client("viewer") as viewer, api.client("ops") as ops:
        key = viewer.get(f"{API}/push/key").json()["application_server_key"]
        site = AlertsConfig.model_validate(SITE_ALERTS)
        assert key == application_server_key(site, tmp_path / "data")  # the dispatcher's key
        made = viewer.post(f"{API}/push/subscriptions", json={"endpoint": endpoint, "keys": keys})
        assert made.status_code == 201, made.text
        assert made.json()["endpoint"] == endpoint
        [sub] = alerts.push_subscriptions()
        assert (sub.user_name, sub.p256dh, sub.auth) == ("viewer", keys["p256dh"], keys["auth"])

        bad_bodies = [
            {"endpoint": "ftp://push.example/1", "keys": keys},
            {"endpoint": "https://push.example/" + "x" * 2100, "keys": keys},
            {"endpoint": "https://push.example/2"},
            {"endpoint": "https://push.example/2", "keys": {**keys, "p256dh": "AAAA"}},
            {"endpoint": "https://push.example/2", "keys": {**keys, "auth": "not*base64"}},
            {"endpoint": "https://push.example/2", "keys": {**keys, "auth": keys["p256dh"]}},
            {"endpoint": "https://push.example/2", "keys": keys, "user": "root"},
        ]
        for body in bad_bodies:
            r = viewer.post(f"{API}/push/subscriptions", json=body)
            assert r.status_code == 422 and r.json()["detail"], body
        assert len(alerts.push_subscriptions()) == 1  # nothing half-written

        gone = {"endpoint": endpoint}
        assert ops.request("DELETE", f"{API}/push/subscriptions", json=gone).status_code == 404
        assert len(alerts.push_subscriptions()) == 1  # not ops's to remove
        r = viewer.request("DELETE", f"{API}/push/subscriptions", json=gone)
        assert r.status_code == 204 and alerts.push_subscriptions() == []
        assert viewer.request("DELETE", f"{API}/push/subscriptions", json=gone).status_code == 404


def test_push_routes_without_a_webpush_channel_are_404(url: str, tmp_path: Path) -> None:
    with running_api(url, tmp_path / "data") as api, api.client("viewer") as viewer:
        assert viewer.get(f"{API}/push/key").status_code == 404
        body = {"endpoint": "https://push.example/1", "keys": browser_keys()}
        r = viewer.post(f"{API}/push/subscriptions", json=body)
        assert r.status_code == 404 and "WebPush" in r.json()["detail"]
        with api.client("root") as admin:
            assert admin.get(f"{API}/channels").json() == []
