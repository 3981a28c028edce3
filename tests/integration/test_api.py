"""The HTTP API on loopback (uvicorn in a thread) over SQLite and PostgreSQL: auth, events,
media with HTTP Range, the SSE stream, cameras, stats, users and tokens."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
from pathlib import Path

import av
import httpx
import pytest
from apihelpers import (
    PASSWORD,
    T0,
    SseMessage,
    event_with_media,
    running_api,
    sse_messages,
    stored,
    violation,
)
from sqlalchemy import update

from vigil.api.app import create_app
from vigil.api.security import CSRF_HEADER
from vigil.api.server import ApiServer
from vigil.events.alerts.metrics import delivered
from vigil.events.store import EventStore
from vigil.events.store.models import EventRow
from vigil.streams.health import CameraState, HealthSnapshot

API = "/api/v1"


@pytest.fixture
def api(url: str, tmp_path: Path):
    with running_api(url, tmp_path / "data", login_rate="3/minute", max_body_bytes=4096) as r:
        yield r


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["events"]]


# --- auth ------------------------------------------------------------------------------------


def test_every_route_but_healthz_and_login_needs_auth(api) -> None:
    v = stored(api.store, violation("gate-3", "no_helmet", T0))
    with api.client() as anon:
        for path in (
            f"{API}/events",
            f"{API}/events/{v.id}",
            f"{API}/events/{v.id}/snapshot",
            f"{API}/events/{v.id}/clip",
            f"{API}/cameras",
            f"{API}/stats",
            f"{API}/users",
            f"{API}/tokens",
            f"{API}/stream",
            f"{API}/auth/me",
            f"{API}/openapi.json",
            "/metrics",
        ):
            r = anon.get(path)
            assert r.status_code == 401, path
            assert r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
        assert anon.post(f"{API}/users", json={}).status_code == 401
        drops = dict.fromkeys(
            ("segments_dropped_for_disk", "uploads_lost", "events_missing_evidence"), 0
        )
        assert anon.get("/healthz").json() == {
            "status": "ok",
            "database": "ok",
            "media_drops": drops,
        }
        for bad in ("Bearer vgl_not-a-token", "Basic cm9vdDpwdw==", "Bearer"):
            assert anon.get(f"{API}/events", headers={"Authorization": bad}).status_code == 401


def test_roles_cameras_expiry_revocation_and_disabled_users(api) -> None:
    gate = stored(api.store, violation("gate-3", "no_helmet", T0))
    yard = stored(api.store, violation("yard", "fire", T0 + 5, label="fire", zone="tank"))
    api.store.put_camera_health([health("gate-3", time.time()), health("yard", time.time())], "w")

    with api.client("viewer") as viewer:
        assert viewer.get(f"{API}/events").status_code == 200
        assert viewer.get(f"{API}/users").status_code == 403  # wrong role
        body = {"name": "x1", "password": PASSWORD, "role": "viewer"}
        assert viewer.post(f"{API}/users", json=body).status_code == 403
        assert viewer.post(f"{API}/tokens", json={"name": "t", "user": "viewer"}).status_code == 403

    with api.client("gate-only") as limited:  # other cameras are invisible, not forbidden
        assert ids(limited.get(f"{API}/events")) == [gate.id]
        assert ids(limited.get(f"{API}/events", params={"camera": "yard"})) == []
        for path in ("", "/snapshot", "/clip"):
            assert limited.get(f"{API}/events/{yard.id}{path}").status_code == 404
        assert limited.get(f"{API}/events/{gate.id}").status_code == 200
        assert [c["id"] for c in limited.get(f"{API}/cameras").json()] == ["gate-3"]
        assert limited.get(f"{API}/cameras/yard").status_code == 404
        assert limited.get(f"{API}/stats").json()["by_camera"] == [{"key": "gate-3", "count": 1}]
        assert limited.get("/metrics").status_code == 403  # site-wide figures

    short = api.accounts.create_token("viewer", "short", expires_days=0.5 / 86400)
    with api.client() as c:
        auth = {"Authorization": f"Bearer {short.secret}"}
        assert c.get(f"{API}/auth/me", headers=auth).json()["user"]["name"] == "viewer"
        time.sleep(0.6)
        assert c.get(f"{API}/auth/me", headers=auth).status_code == 401  # expired

    with api.client("root") as admin:
        listed = admin.get(f"{API}/tokens", params={"user": "ops"}).json()
        assert len(listed) == 1 and "token" not in listed[0]
        revoked = admin.delete(f"{API}/tokens/{listed[0]['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        with api.client("ops") as ops:
            assert ops.get(f"{API}/events").status_code == 401  # revoked
        assert admin.patch(f"{API}/users/viewer", json={"disabled": True}).status_code == 200
        with api.client("viewer") as viewer:
            assert viewer.get(f"{API}/events").status_code == 401  # disabled user's token
        with api.client() as anon:
            login = {"name": "viewer", "password": PASSWORD}
            assert anon.post(f"{API}/auth/login", json=login).status_code == 401


def test_session_cookie_csrf_and_logout(api) -> None:
    with api.client() as browser:
        r = browser.post(f"{API}/auth/login", json={"name": "root", "password": PASSWORD})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("vigil_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session
        assert csrf in next(c for c in cookies if c.startswith("vigil_csrf="))
        assert browser.get(f"{API}/auth/me").json() == {
            "user": browser.get(f"{API}/users/root").json(),
            "auth": "session",
        }
        body = {"name": "newbie", "password": PASSWORD, "role": "viewer"}
        missing = browser.post(f"{API}/users", json=body)
        assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
        wrong = browser.post(f"{API}/users", json=body, headers={CSRF_HEADER: csrf + "x"})
        assert wrong.status_code == 403
        assert "newbie" not in [u.name for u in api.accounts.users()]  # nothing written
        ok = browser.post(f"{API}/users", json=body, headers={CSRF_HEADER: csrf})
        assert ok.status_code == 201
        assert browser.post(f"{API}/auth/logout").status_code == 403  # a write, too
        assert browser.post(f"{API}/auth/logout", headers={CSRF_HEADER: csrf}).status_code == 204
        assert browser.get(f"{API}/auth/me").status_code == 401
    with api.client() as forger:
        forger.cookies.set("vigil_session", session.split(";")[0].split("=", 1)[1][:-2] + "xx")
        assert forger.get(f"{API}/auth/me").status_code == 401


def test_login_is_rate_limited_per_client(api) -> None:
    with api.client() as c:
        wrong = {"name": "root", "password": "not the password"}
        assert [c.post(f"{API}/auth/login", json=wrong).status_code for _ in range(3)] == [401] * 3
        r = c.post(f"{API}/auth/login", json={"name": "root", "password": PASSWORD})
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 60
        assert "too many" in r.json()["detail"]


def test_bad_input_is_a_4xx_with_a_reason_and_writes_nothing(api) -> None:
    with api.client("root") as admin:
        users = len(api.accounts.users())
        cases = [
            ({"name": "a b", "password": PASSWORD, "role": "viewer"}, 422),
            ({"name": "ok", "password": "short", "role": "viewer"}, 422),
            ({"name": "ok", "password": PASSWORD, "role": "king"}, 422),
            ({"name": "ok", "password": PASSWORD, "role": "viewer", "extra": 1}, 422),
            ({"name": "ok", "password": PASSWORD, "role": "viewer", "cameras": ["../x"]}, 422),
            ({"name": "root", "password": PASSWORD, "role": "viewer"}, 409),
        ]
        for body, code in cases:
            r = admin.post(f"{API}/users", json=body)
            assert r.status_code == code, (body, r.text)
            assert r.json()["detail"]
        nul = admin.post(f"{API}/auth/login", json={"name": "ro\x00ot", "password": PASSWORD})
        assert nul.status_code == 422  # PostgreSQL cannot even compare it: refused before
        assert (
            admin.post(
                f"{API}/users", content=b"{not json", headers={"Content-Type": "application/json"}
            ).status_code
            == 422
        )
        assert len(api.accounts.users()) == users
        assert admin.patch(f"{API}/users/nobody", json={"role": "viewer"}).status_code == 404
        assert admin.patch(f"{API}/users/root", json={"role": None}).status_code == 422
        last = admin.patch(f"{API}/users/root", json={"role": "viewer"})
        assert last.status_code == 409 and "admin" in last.json()["detail"]
        assert api.accounts.user("root").role == "admin"  # rolled back
        assert admin.delete(f"{API}/tokens/999999").status_code == 404
        assert admin.post(f"{API}/tokens", json={"name": "t", "user": "ghost"}).status_code == 404
        for params in (
            {"limit": 0},
            {"min_confidence": 2},
            {"since": "yesterday"},
            {"severity": "extreme"},
            {"camera": "a/b"},
            {"status": "lost"},
        ):
            assert admin.get(f"{API}/events", params=params).status_code == 422, params
        assert admin.get(f"{API}/events", params={"cursor": "bm90IGEgY3Vyc29y"}).status_code == 400
        assert admin.get(f"{API}/events/not%20an%20id").status_code == 422
        assert admin.get(f"{API}/events/{'f' * 32}").status_code == 404


def test_oversize_bodies_are_refused_with_413(api) -> None:
    big = {"name": "big", "password": PASSWORD, "role": "viewer", "group": "x" * 5000}
    with api.client("root") as admin:
        r = admin.post(f"{API}/users", json=big)
        assert r.status_code == 413
        chunks = iter([b'{"name": "big", "group": "', b"x" * 3000, b"x" * 3000, b'"}'])
        r = admin.post(f"{API}/users", content=chunks, headers={"Content-Type": "application/json"})
        assert r.status_code == 413  # no Content-Length: counted as it streams
    assert "big" not in [u.name for u in api.accounts.users()]


# --- events ----------------------------------------------------------------------------------


def test_event_pages_are_keyset_newest_first_and_filters_match(api) -> None:
    seeded = []
    for i in range(23):
        camera, rule = ("gate-3", "no_helmet") if i % 3 else ("yard", "restricted_zone")
        v = violation(
            camera,
            rule,
            T0 + (i // 2) * 60,  # pairs share a start time: ties are broken by id
            zone="tank-farm" if rule == "restricted_zone" else None,
            severity="critical" if i % 5 == 0 else "high",
            peak_confidence=0.3 + i / 50,
        )
        seeded.append(stored(api.store, v, ended=i % 4 != 0))
    with api.store.unit_of_work() as w:
        w.record_transition(seeded[3].id, "new", "acknowledged", "ops")
    newest_first = sorted(seeded, key=lambda v: (v.start_wall, v.id), reverse=True)

    with api.client("viewer") as c:
        got, cursor = [], None
        while True:
            params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
            page = c.get(f"{API}/events", params=params).json()
            got += [e["id"] for e in page["events"]]
            if cursor is None:  # a new event arriving mid-way does not shift later pages
                late = stored(api.store, violation("gate-3", "fire", T0 + 10_000))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert got == [v.id for v in newest_first]
        newest_first.insert(0, late)
        seeded.append(late)

        def expect(params: dict, keep) -> None:
            want = [v.id for v in newest_first if keep(v)]
            assert ids(c.get(f"{API}/events", params=params | {"limit": 500})) == want, params

        expect({"camera": "yard"}, lambda v: v.camera == "yard")
        expect({"camera": ["yard", "gate-3"], "rule": "no_helmet"}, lambda v: v.rule == "no_helmet")
        expect({"zone": "tank-farm"}, lambda v: v.zone == "tank-farm")
        expect({"severity": "critical"}, lambda v: v.severity == "critical")
        expect(
            {"state": "open", "rule": "no_helmet"},
            lambda v: v.rule == "no_helmet" and seeded.index(v) % 4 == 0,
        )
        expect({"status": "acknowledged"}, lambda v: v is seeded[3])
        expect({"min_confidence": 0.6}, lambda v: v.peak_confidence >= 0.6)
        since, until = "2025-12-29T09:22:00Z", "2025-12-29T09:25:00+00:00"
        expect({"since": since, "until": until}, lambda v: T0 + 120 <= v.start_wall < T0 + 300)


def test_one_event_with_timeline_audit_model_and_media_links(api, videos: Path) -> None:
    v = violation("gate-3", "no_helmet", T0)
    event_with_media(api.store, api.data_dir, videos / "workers_helmets_02.mp4", v)
    with api.store.unit_of_work() as w:
        w.record_transition(v.id, "new", "acknowledged", "ops", "on it")
    with api.client("viewer") as c:
        e = c.get(f"{API}/events/{v.id}").json()
    assert e["model"] == {
        "card": "site_ppe",
        "version": "0123456789ab",
        "threshold": 0.3,
        "thresholds": {"head_bare": 0.3, "person": 0.35},
    }
    assert e["timeline"] == [{"pts": 1.0, "confidence": 0.6, "bbox": [10.0, 20.0, 60.0, 90.0]}]
    assert [(a["from_status"], a["to_status"], a["actor"], a["note"]) for a in e["audit"]] == [
        ("new", "acknowledged", "ops", "on it")
    ]
    assert e["start_time"] == "2025-12-29T09:20:00Z" and e["status"] == "acknowledged"
    assert e["snapshot_url"] == f"{API}/events/{v.id}/snapshot"
    assert e["clip_url"] == f"{API}/events/{v.id}/clip"
    assert "snapshot_path" not in e and str(api.data_dir) not in json.dumps(e)


def test_clip_is_served_with_byte_exact_ranges_and_decodes_as_h264(api, videos: Path) -> None:
    v = violation("gate-3", "no_helmet", T0)
    evidence = event_with_media(api.store, api.data_dir, videos / "workers_helmets_02.mp4", v)
    data = evidence.clip_path.read_bytes()
    size = len(data)
    clip = f"{API}/events/{v.id}/clip"
    with api.client("viewer") as c:
        whole = c.get(clip)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "video/mp4"
        assert hashlib.sha256(whole.content).hexdigest() == evidence.clip_sha256
        for header, (start, end) in {
            "bytes=0-99": (0, 99),
            "bytes=100-": (100, size - 1),
            "bytes=-333": (size - 333, size - 1),
            f"bytes={size - 10}-{size + 500}": (size - 10, size - 1),
        }.items():
            r = c.get(clip, headers={"Range": header})
            assert r.status_code == 206, header
            assert r.content == data[start : end + 1], header
            assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        r = c.get(clip, headers={"Range": f"bytes={size}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
        assert c.get(clip, headers={"Range": "pages=1-2"}).status_code == 400
        head = c.head(clip)
        assert head.status_code == 200 and int(head.headers["content-length"]) == size
        snap = c.get(f"{API}/events/{v.id}/snapshot")
        assert snap.headers["content-type"] == "image/jpeg"
        assert snap.content == evidence.snapshot_path.read_bytes()
    with av.open(io.BytesIO(whole.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) > 10


def set_media(store: EventStore, event_id: str, **paths: str) -> None:
    """Plant media paths in a row, as a bug or a tampered database could."""
    with store.engine.begin() as conn:
        conn.execute(update(EventRow).where(EventRow.id == event_id).values(**paths))


def test_media_outside_the_media_folder_is_never_served(api, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not for you")
    media = api.data_dir / "media" / "gate-3" / "2025-12-29"
    media.mkdir(parents=True)
    (media / "link.mp4").symlink_to(secret)
    inside = media / "fine.mp4"
    inside.write_bytes(b"fine")
    planted = {
        "abs": secret,
        "etc": Path("/etc/passwd"),
        "dotdot": media / ".." / ".." / ".." / ".." / "secret.jpg",
        "tail": Path("media/../../secret.jpg"),
        "db": api.data_dir / "session.key",
        "symlink": media / "link.mp4",
    }
    with api.client("root") as c:
        for name, path in planted.items():
            v = violation("gate-3", "no_helmet", T0, id=f"trav{name}")
            stored(api.store, v)
            set_media(api.store, v.id, clip_path=str(path), snapshot_path=str(path))
            for kind in ("clip", "snapshot"):
                r = c.get(f"{API}/events/{v.id}/{kind}")
                assert r.status_code == 404, (name, kind)
                assert b"not for you" not in r.content and b"root:" not in r.content
        fine = stored(api.store, violation("gate-3", "no_helmet", T0, id="fine"))
        set_media(api.store, fine.id, clip_path=str(inside))
        assert c.get(f"{API}/events/{fine.id}/clip").content == b"fine"
        assert c.get(f"{API}/events/..%2F..%2Fetc%2Fpasswd/clip").status_code in (404, 422)


# --- stream ----------------------------------------------------------------------------------


def next_message(messages) -> SseMessage:
    for m in messages:
        if isinstance(m, SseMessage):
            return m
    raise AssertionError("stream ended")


def test_sse_delivers_changes_live_and_resumes_without_loss_or_duplicates(api) -> None:
    stored(api.store, violation("gate-3", "fire", T0 - 100))  # before: not replayed
    with (
        api.client("viewer", timeout=httpx.Timeout(10.0)) as c,
        c.stream("GET", f"{API}/stream") as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        messages = sse_messages(r)
        assert next(messages) == "vigil event stream"  # the stream's position is fixed now
        v = violation("gate-3", "no_helmet", T0)
        with api.store.unit_of_work() as w:
            w.opened(v)
        with api.store.unit_of_work() as w:
            w.updated(dataclasses.replace(v, peak_confidence=0.9))
        got = [next_message(messages), next_message(messages)]
    assert [(m.event, json.loads(m.data)["type"]) for m in got] == [
        ("new", "new"),
        ("update", "update"),
    ]
    first = json.loads(got[0].data)
    assert first["after"]["id"] == v.id and first["before"] is None
    last_seen = got[-1].id

    # Missed while disconnected: an end, a status change, and another camera's event.
    with api.store.unit_of_work() as w:
        w.ended(v, None)
    with api.store.unit_of_work() as w:
        w.record_transition(v.id, "new", "acknowledged", "ops")
    other = stored(api.store, violation("yard", "fire", T0 + 1), ended=False)
    outbox = [r for r in api.store.outbox_since(int(last_seen))]
    assert len(outbox) == 3

    headers = {"Last-Event-ID": last_seen}
    with (
        api.client("viewer", timeout=httpx.Timeout(10.0)) as c,
        c.stream("GET", f"{API}/stream", headers=headers) as r,
    ):
        messages = sse_messages(r)
        resumed = [next_message(messages) for _ in range(3)]
    assert [m.id for m in resumed] == [str(row.id) for row in outbox]
    assert [m.event for m in resumed] == ["end", "status", "new"]
    assert json.loads(resumed[2].data)["after"]["id"] == other.id

    # A camera-limited user and a rule filter see only their share, in order.
    with (
        api.client("gate-only", timeout=httpx.Timeout(10.0)) as c,
        c.stream("GET", f"{API}/stream", params={"after": 0, "rule": "no_helmet"}) as r,
    ):
        messages = sse_messages(r)
        mine = [next_message(messages) for _ in range(4)]
    assert [json.loads(m.data)["after"]["camera"] for m in mine] == ["gate-3"] * 4
    assert [m.event for m in mine] == ["new", "update", "end", "status"]


def test_sse_follows_a_new_camera_limit_and_ends_when_the_token_is_revoked(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.api.routers import stream

    monkeypatch.setattr(stream, "RECHECK_S", 0.1)
    monkeypatch.setattr(stream, "WAIT_S", 0.1)
    with (
        api.client("viewer", timeout=httpx.Timeout(10.0)) as c,
        c.stream("GET", f"{API}/stream") as r,
    ):
        messages = sse_messages(r)
        assert next(messages) == "vigil event stream"
        api.accounts.update_user("viewer", cameras=["yard"])
        time.sleep(0.5)
        stored(api.store, violation("gate-3", "no_helmet", T0), ended=False)
        yard = stored(api.store, violation("yard", "fire", T0 + 1), ended=False)
        assert json.loads(next_message(messages).data)["after"]["id"] == yard.id
        api.accounts.revoke_token(api.accounts.tokens("viewer")[0].id)
        assert [m for m in messages if isinstance(m, SseMessage)] == []  # the stream ends
    with api.client("viewer") as c:
        assert c.get(f"{API}/stream").status_code == 401


def test_sse_sends_heartbeats(api, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastapi.routing

    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.3)
    with (
        api.client("viewer", timeout=httpx.Timeout(10.0)) as c,
        c.stream("GET", f"{API}/stream") as r,
    ):
        messages = sse_messages(r)
        assert next(messages) == "vigil event stream"
        assert next(messages) == "ping"


# --- cameras, stats, users, system ------------------------------------------------------------


def health(camera: str, updated_at: float, state: CameraState = CameraState.LIVE):
    return HealthSnapshot(
        camera=camera,
        name=f"{camera} name",
        source="rtsp://***@10.0.0.1/s",
        state=state,
        state_since=updated_at - 30,
        fps_in=12.5,
        fps_analysed=2.0,
        last_frame_wall=updated_at,
        reconnects=1,
        skipped=0,
        last_error=None,
        updated_at=updated_at,
    )


def test_cameras_show_live_health_with_the_stale_flag(api) -> None:
    now = time.time()
    api.store.put_camera_health(
        [
            health("gate-3", now),
            health("yard", now - 60),
            health("dock", now - 60, CameraState.STOPPED),
        ],
        "host:1",
    )
    with api.client("viewer") as c:
        cams = {cam["id"]: cam for cam in c.get(f"{API}/cameras").json()}
        assert {k: v["stale"] for k, v in cams.items()} == {
            "dock": False,
            "gate-3": False,
            "yard": True,
        }
        assert cams["gate-3"]["state"] == "live" and cams["gate-3"]["worker"] == "host:1"
        assert c.get(f"{API}/cameras/yard").json()["stale"] is True
        assert c.get(f"{API}/cameras/nope").status_code == 404


def test_a_camera_picture_is_its_newest_event_snapshot_within_camera_limits(
    api, videos: Path
) -> None:
    older = event_with_media(
        api.store, api.data_dir, videos / "fall_01.mp4", violation("yard", "fall", T0)
    )
    newest = violation("yard", "fall", T0 + 60)
    newer = event_with_media(api.store, api.data_dir, videos / "fire_01.mp4", newest)
    stored(api.store, violation("yard", "fall", T0 + 120), ended=False)  # open: no snapshot yet
    event_with_media(
        api.store, api.data_dir, videos / "fall_01.mp4", violation("gate-3", "fall", T0)
    )
    with api.client("viewer") as c:
        r = c.get(f"{API}/cameras/yard/snapshot")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.content == newer.snapshot_path.read_bytes() != older.snapshot_path.read_bytes()
        assert r.headers["x-vigil-event"] == newest.id
        assert c.get(f"{API}/cameras/nowhere/snapshot").status_code == 404
    with api.client("gate-only") as c:
        assert c.get(f"{API}/cameras/gate-3/snapshot").status_code == 200
        hidden = c.get(f"{API}/cameras/yard/snapshot")
        assert hidden.status_code == 404 and "yard" in hidden.json()["detail"]


def test_stats_count_by_rule_camera_zone_and_day(api) -> None:
    day = 86400
    for camera, rule, zone, start in [
        ("gate-3", "no_helmet", None, T0),
        ("gate-3", "no_helmet", None, T0 + 60),
        ("yard", "restricted_zone", "tank-farm", T0 + day),
        ("yard", "fire", None, T0 + 2 * day),
    ]:
        stored(api.store, violation(camera, rule, start, zone=zone))
    with api.client("viewer") as c:
        s = c.get(f"{API}/stats").json()
        assert s["total"] == 4
        assert s["by_rule"] == [
            {"key": "no_helmet", "count": 2},
            {"key": "fire", "count": 1},
            {"key": "restricted_zone", "count": 1},
        ]
        assert s["by_zone"] == [{"key": None, "count": 3}, {"key": "tank-farm", "count": 1}]
        assert s["by_day"] == [
            {"day": "2025-12-29", "count": 2},
            {"day": "2025-12-30", "count": 1},
            {"day": "2025-12-31", "count": 1},
        ]
        # 09:20 UTC is the next day at UTC-10 h: nothing; at UTC+15 h it is: all shift.
        shifted = c.get(f"{API}/stats", params={"utc_offset_minutes": 14 * 60 + 59 - 60})
        assert [d["day"] for d in shifted.json()["by_day"]] == [
            "2025-12-29",
            "2025-12-30",
            "2025-12-31",
        ]
        late = c.get(f"{API}/stats", params={"utc_offset_minutes": 14 * 60}).json()
        assert [d["day"] for d in late["by_day"]] == ["2025-12-29", "2025-12-30", "2025-12-31"]
        ranged = c.get(
            f"{API}/stats", params={"since": "2025-12-30T00:00:00Z", "camera": "yard"}
        ).json()
        assert ranged["total"] == 2 and ranged["by_camera"] == [{"key": "yard", "count": 2}]


def test_admin_manages_users_and_tokens(api) -> None:
    with api.client("root") as admin:
        body = {
            "name": "shift-b",
            "password": PASSWORD,
            "role": "operator",
            "group": "night",
            "cameras": ["yard", "gate-3", "yard"],
        }
        made = admin.post(f"{API}/users", json=body).json()
        assert (made["role"], made["group"], made["cameras"]) == (
            "operator",
            "night",
            ["gate-3", "yard"],
        )
        changed = admin.patch(f"{API}/users/shift-b", json={"role": "verifier", "cameras": None})
        assert (changed.json()["role"], changed.json()["cameras"]) == ("verifier", None)
        assert admin.patch(f"{API}/users/shift-b", json={"password": "new passphrase!"}).is_success
        names = [u["name"] for u in admin.get(f"{API}/users").json()]
        assert names == sorted(names) and "shift-b" in names

        created = admin.post(
            f"{API}/tokens", json={"name": "grafana", "user": "shift-b", "expires_days": 30}
        )
        assert created.status_code == 201
        secret = created.json()["token"]
        info = created.json()["info"]
        assert secret.startswith(info["prefix"]) and info["expires_at"]
        listing = admin.get(f"{API}/tokens").text
        assert secret not in listing and info["prefix"] in listing
        with api.client() as c:
            me = c.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {secret}"}).json()
            assert me == {"user": me["user"], "auth": "token"}
            assert me["user"]["role"] == "verifier"
        used = [t for t in admin.get(f"{API}/tokens").json() if t["id"] == info["id"]][0]
        assert used["last_used_at"] is not None
    with api.client() as c:
        login = c.post(f"{API}/auth/login", json={"name": "shift-b", "password": "new passphrase!"})
        assert login.status_code == 200


def test_healthz_and_metrics(api) -> None:
    stored(api.store, violation("gate-3", "no_helmet", T0))
    stored(api.store, violation("yard", "fire", T0))
    api.store.put_camera_health([health("gate-3", time.time())], "w")
    delivered("scada", "sent", 0.25)  # what the alert dispatcher counts
    with api.client("viewer") as c:
        text = c.get("/metrics").text
    assert 'vigil_alert_deliveries_total{channel="scada",status="sent"}' in text
    assert 'vigil_events{rule="no_helmet"} 1.0' in text
    assert 'vigil_cameras{stale="false",state="live"} 1.0' in text
    assert "vigil_sse_clients 0.0" in text
    with api.client() as anon:
        assert anon.head("/healthz").status_code == 200


def test_a_database_that_cannot_be_reached_is_a_503_not_a_500(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    down = EventStore(
        "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2", auto_migrate=False
    )
    server = ApiServer(create_app(down, tmp_path), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            health = c.get("/healthz")
            assert health.status_code == 503 and health.json() == {
                "status": "unavailable",
                "database": "unreachable",
                "media_drops": None,
            }
            events = c.get(f"{API}/events", headers={"Authorization": "Bearer vgl_x"})
            assert events.status_code == 503 and events.headers["retry-after"] == "5"
            assert "127.0.0.1" not in events.text
    finally:
        server.stop()
        down.dispose()


def test_the_openapi_schema_describes_every_field_and_parameter(api) -> None:
    with api.client("viewer") as c:
        schema = c.get(f"{API}/openapi.json").json()
    missing = [
        f"{name}.{prop}"
        for name, s in schema["components"]["schemas"].items()
        for prop, p in s.get("properties", {}).items()
        if not p.get("description")
    ]
    missing += [
        f"{method} {path} ?{param['name']}"
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        for param in op.get("parameters", [])
        if not param.get("description")
    ]
    assert missing == []
    assert all(
        path.startswith(f"{API}/")
        for path in schema["paths"]
        if path not in ("/healthz", "/metrics")
    )
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schema["components"]["securitySchemes"])
