"""The hazard loop over HTTP on loopback (SQLite and PostgreSQL): every move from every status
by every role, a hazard reported from a phone through to closed with a failed verification on
the way, photo checks, and the loop's stats against a hand count."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from apihelpers import T0, running_api, stored, violation
from loophelpers import add_loop_users, jpeg_of, put_in_status
from sqlalchemy import func, select

from vigil.events.loop.config import LoopPolicy
from vigil.events.loop.store import LoopStore, Photo
from vigil.events.store.models import AuditRow, LoopRow, OutboxRow

API = "/api/v1"
STATUSES = ["new", "acknowledged", "assigned", "rectified", "verified", "closed", "dismissed"]
ROLES = {
    "admin": "root",
    "operator": "ops",
    "rectifier": "fixer",
    "verifier": "checker",
    "viewer": "viewer",
}
OPEN = ["new", "acknowledged", "assigned", "rectified", "verified"]
# The hazard loop's rules, written out by hand: (from, to) -> roles that may make the move.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("new", "acknowledged"): {"operator", "admin"},
    ("acknowledged", "assigned"): {"operator", "admin"},
    ("assigned", "rectified"): {"rectifier", "admin"},
    ("rectified", "verified"): {"verifier", "admin"},
    ("rectified", "assigned"): {"verifier", "admin"},  # a failed verification
    ("verified", "closed"): {"verifier", "admin"},
    **{(s, "dismissed"): {"operator", "admin"} for s in OPEN},
}


@pytest.fixture
def api(url: str, tmp_path: Path):
    with running_api(url, tmp_path / "data", max_upload_bytes=300_000) as r:
        add_loop_users(r)
        yield r


def written(api) -> tuple[int, int]:
    with api.store.engine.connect() as conn:
        audit = conn.scalar(select(func.count()).select_from(AuditRow))
        outbox = conn.scalar(select(func.count()).select_from(OutboxRow))
    return audit, outbox


def expected_status(source: str, target: str, role: str) -> int:
    if role in ALLOWED.get((source, target), set()):
        return 200
    if (source, target) in ALLOWED:
        return 403  # a legal move, but not for this role
    may_ever = any(role in who for (_, t), who in ALLOWED.items() if t == target)
    return 409 if may_ever else 403


def after_photo(api, event_id: str, videos: Path) -> str:
    """An 'after' photo of the event, stored as the upload route stores one."""
    from vigil.api.photos import save_photo

    saved = save_photo(api.data_dir / "media", jpeg_of(videos / "fire_01.mp4"), "f0" * 16)
    LoopStore(api.store).add_photo(
        Photo(
            "f0" * 16,
            event_id,
            "after",
            str(saved.path),
            "image/jpeg",
            saved.size,
            saved.width,
            saved.height,
            saved.sha256,
            "fixer",
            time.time(),
        )
    )
    return "f0" * 16


def test_every_move_from_every_status_by_every_role(api, videos: Path) -> None:
    v = stored(api.store, violation("gate-3", "no_helmet", T0))
    photo = after_photo(api, v.id, videos)
    clients = {role: api.client(name) for role, name in ROLES.items()}
    outcomes = {}
    try:
        for source in STATUSES:
            for target in STATUSES:
                for role, client in clients.items():
                    put_in_status(api, v.id, source, "user:fixer")
                    body: dict = {"to": target, "note": "a reason"}
                    if (source, target) == ("acknowledged", "assigned"):
                        body["assignee"] = {"user": "fixer"}
                    if target == "rectified":
                        body["photo_ids"] = [photo]
                    before = written(api)
                    r = client.post(f"{API}/events/{v.id}/moves", json=body)
                    want = expected_status(source, target, role)
                    outcomes[source, target, role] = r.status_code
                    assert r.status_code == want, (source, target, role, r.text)
                    audit, outbox = written(api)
                    if want == 200:
                        assert r.json()["status"] == target
                        move = r.json()["moves"][-1]
                        assert (move["from_status"], move["to_status"], move["actor"]) == (
                            source,
                            target,
                            ROLES[role],
                        )
                        assert (audit, outbox) == (before[0] + 1, before[1] + 1)
                    else:
                        assert (audit, outbox) == before  # nothing written
                        assert api.store.get_event(v.id).status.value == source
                        if want == 409:
                            assert "allowed:" in r.json()["detail"]
    finally:
        for client in clients.values():
            client.close()
    assert sum(1 for s in outcomes.values() if s == 200) == sum(len(w) for w in ALLOWED.values())


def test_a_rectifier_acts_only_on_what_is_assigned_to_them_or_their_group(api, videos) -> None:
    v = stored(api.store, violation("gate-3", "no_helmet", T0))
    photo = after_photo(api, v.id, videos)
    body = {"to": "rectified", "photo_ids": [photo]}
    put_in_status(api, v.id, "assigned", "user:fixer")
    with api.client("fixer2") as other:
        assert other.post(f"{API}/events/{v.id}/moves", json=body).status_code == 403
    put_in_status(api, v.id, "assigned", "group:maint")
    with api.client("outsider") as outsider:
        assert outsider.post(f"{API}/events/{v.id}/moves", json=body).status_code == 403
    with api.client("fixer2") as member:
        r = member.post(f"{API}/events/{v.id}/moves", json={"to": "rectified"})
        assert r.status_code == 422 and "photo" in r.json()["detail"]  # the "after" is required
        assert member.post(f"{API}/events/{v.id}/moves", json=body).status_code == 200
    with api.client("ops") as ops:  # reasons are required where the loop says so
        put_in_status(api, v.id, "new", None)
        r = ops.post(f"{API}/events/{v.id}/moves", json={"to": "dismissed"})
        assert r.status_code == 422 and "reason" in r.json()["detail"]
        put_in_status(api, v.id, "acknowledged", None)
        r = ops.post(f"{API}/events/{v.id}/moves", json={"to": "assigned"})
        assert r.status_code == 422 and "assignee" in r.json()["detail"]


def test_a_phone_report_goes_through_to_closed_with_a_failed_verification(api, videos) -> None:
    photo = jpeg_of(videos / "fall_01.mp4")
    report = {"camera": "gate-3", "description": "oil spill by the pump", "severity": "high"}
    with api.client("viewer") as viewer:
        files = {"photo": ("spill.jpg", photo, "image/jpeg")}
        assert viewer.post(f"{API}/hazards", data=report, files=files).status_code == 403
    with api.client("fixer") as reporter:
        r = reporter.post(f"{API}/hazards", data=report, files={"photo": ("a.jpg", photo)})
        assert r.status_code == 201, r.text
        hazard = r.json()
        assert (hazard["reporter"], hazard["status"], hazard["camera"]) == (
            "fixer",
            "new",
            "gate-3",
        )
        hid = hazard["id"]
        assert [h["id"] for h in reporter.get(f"{API}/hazards").json()] == [hid]
        assert reporter.get(f"{API}/hazards/{hid}").json()["description"] == report["description"]
        stored_photo = reporter.get(hazard["photo_url"])
        assert stored_photo.status_code == 200
        image = cv2.imdecode(np.frombuffer(stored_photo.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == cv2.imdecode(np.frombuffer(photo, np.uint8), 1).shape[:2]
        area = reporter.post(
            f"{API}/hazards",
            data={"area": "tank farm", "description": "leaking valve"},
            files={"photo": ("b.jpg", photo)},
        )
        assert area.status_code == 201 and area.json()["camera"] == "area:tank farm"
        assert area.json()["zone"] == "tank farm"

    due = "2030-01-01T00:00:00Z"
    with api.client("ops") as ops:
        assert ops.post(f"{API}/events/{hid}/moves", json={"to": "acknowledged"}).status_code == 200
        r = ops.post(
            f"{API}/events/{hid}/moves",
            json={"to": "assigned", "assignee": {"group": "maint"}, "due": due},
        )
        assert r.status_code == 200 and r.json()["assignee"] == "group:maint"

    def upload(client, content: bytes, name: str = "after.jpg"):
        return client.post(f"{API}/events/{hid}/photos", files={"photo": (name, content)})

    with api.client("outsider") as outsider:  # another group's work list
        assert outsider.get(f"{API}/assignments", params={"mine": True}).json() == []
    with api.client("fixer2") as fixer:  # in the group, not the reporter
        work = fixer.get(f"{API}/assignments", params={"mine": True}).json()
        assert [(w["event_id"], w["assignee"], w["overdue"]) for w in work] == [
            (hid, "group:maint", False)
        ]
        assert upload(fixer, b"not an image at all").status_code == 415
        assert upload(fixer, photo[: len(photo) // 3]).status_code == 422  # truncated JPEG
        assert upload(fixer, b"\xff\xd8\xff" + bytes(400_000)).status_code == 413
        first = upload(fixer, photo)
        assert first.status_code == 201, first.text
        after_id = first.json()["id"]
        r = fixer.post(
            f"{API}/events/{hid}/moves", json={"to": "rectified", "photo_ids": [after_id]}
        )
        assert r.status_code == 200
    with api.client("checker") as checker:
        fail = checker.post(f"{API}/events/{hid}/moves", json={"to": "assigned"})
        assert fail.status_code == 422  # a failed verification needs its reason
        fail = checker.post(
            f"{API}/events/{hid}/moves", json={"to": "assigned", "note": "still dripping"}
        )
        assert fail.status_code == 200 and fail.json()["status"] == "assigned"
        assert fail.json()["assignee"] == "group:maint"  # back to the same assignee
    with api.client("fixer") as fixer:
        second = upload(fixer, jpeg_of(videos / "smoke_01.mp4")).json()["id"]
        body = {"to": "rectified", "photo_ids": [second], "note": "valve replaced"}
        assert fixer.post(f"{API}/events/{hid}/moves", json=body).status_code == 200
    with api.client("checker") as checker:
        for to in ("verified", "closed"):
            assert checker.post(f"{API}/events/{hid}/moves", json={"to": to}).status_code == 200
        view = checker.get(f"{API}/events/{hid}/workflow").json()
    assert view["status"] == "closed" and view["allowed"] == []
    assert view["reporter"] == "fixer" and view["before_url"] == hazard["photo_url"]
    assert [p["id"] for p in view["after"]] == [after_id, second]
    moves = [(m["from_status"], m["to_status"], m["actor"]) for m in view["moves"]]
    assert moves == [
        ("new", "acknowledged", "ops"),
        ("acknowledged", "assigned", "ops"),
        ("assigned", "rectified", "fixer2"),
        ("rectified", "assigned", "checker"),
        ("assigned", "rectified", "fixer"),
        ("rectified", "verified", "checker"),
        ("verified", "closed", "checker"),
    ]
    assert view["moves"][1]["due"] == "2030-01-01T00:00:00Z"
    assert view["moves"][2]["photo_ids"] == [after_id]
    assert view["moves"][3]["note"] == "still dripping"
    with api.client("gate-only") as limited:  # camera limits hold for photos too
        assert limited.get(f"{API}/photos/{after_id}").status_code == 200
        assert limited.get(area.json()["photo_url"]).status_code == 404
    photos_dir = api.data_dir / "media" / "photos"
    assert not any(p.name.startswith(("spill", "a.", "after")) for p in photos_dir.rglob("*"))


def seed_history(api) -> dict:
    """A small history with known times: 6 events on 2 cameras and 3 days, moved by hand."""
    day = 86400.0
    specs = [  # camera, rule, zone, start offset
        ("gate-3", "no_helmet", "dock", 0.0),
        ("gate-3", "no_helmet", "dock", 100.0),
        ("gate-3", "fall", None, day),
        ("yard", "fire", "tank", day + 50),
        ("yard", "no_helmet", None, 2 * day),
        ("yard", "no_helmet", None, 2 * day + 10),
    ]
    events = []
    for i, (camera, rule, zone, offset) in enumerate(specs):
        events.append(
            stored(api.store, violation(camera, rule, T0 + offset, zone=zone, subject=f"t:{i}"))
        )
    # Moves at known times: write them, then set their times in the audit and loop rows.
    plan = {  # event index -> [(to, seconds after start)], due offset
        0: (
            [
                ("acknowledged", 60),
                ("assigned", 120),
                ("rectified", 600),
                ("verified", 700),
                ("closed", 800),
            ],
            1000,
        ),  # on time
        1: ([("acknowledged", 30), ("assigned", 90), ("rectified", 5000)], 1000),  # late
        2: ([("acknowledged", 300)], None),
        3: ([("acknowledged", 10), ("assigned", 20)], 100),  # overdue now
    }
    with api.store.unit_of_work() as w:
        for index, (moves, due) in plan.items():
            v = events[index]
            source = "new"
            for to, _ in moves:
                extra = {}
                if to == "assigned":
                    extra = {"assignee": "user:fixer", "due_at": v.start_wall + due}
                w.record_transition(v.id, source, to, "seed", None, **extra)
                source = to
    with api.store.engine.begin() as conn:
        for index, (moves, _) in plan.items():
            v = events[index]
            for to, after in moves:
                conn.execute(
                    AuditRow.__table__.update()
                    .where(AuditRow.event_id == v.id, AuditRow.to_status == to)
                    .values(at=v.start_wall + after)
                )
                if to != "verified":  # the milestones the store keeps beside the audit
                    conn.execute(
                        LoopRow.__table__.update()
                        .where(LoopRow.event_id == v.id)
                        .values({f"{to}_at": v.start_wall + after})
                    )
    return {"events": events}


def test_loop_stats_match_a_hand_count(api) -> None:
    seed_history(api)
    with api.client("viewer") as c:
        s = c.get(f"{API}/stats/loop").json()
    assert s["total"] == 6
    assert {k["key"]: k["count"] for k in s["by_rule"]} == {"no_helmet": 4, "fall": 1, "fire": 1}
    assert {k["key"]: k["count"] for k in s["by_camera"]} == {"gate-3": 3, "yard": 3}
    assert [d["count"] for d in s["by_day"]] == [2, 2, 2]
    assert {k["key"]: k["count"] for k in s["by_status"]} == {
        "closed": 1,
        "rectified": 1,
        "acknowledged": 1,
        "assigned": 1,
        "new": 2,
    }
    # Acknowledged: 60, 30, 300, 10 → 100; assigned: 120, 90, 20 → 76.67; closed: 800.
    assert s["mean_seconds_to_acknowledge"] == pytest.approx(100.0)
    assert s["mean_seconds_to_assign"] == pytest.approx(230 / 3)
    assert s["mean_seconds_to_close"] == pytest.approx(800.0)
    assert (s["rectified"], s["rectified_on_time"], s["on_time_rate"]) == (2, 1, 0.5)
    assert s["overdue_now"] == 1  # event 3; event 1 was rectified (late, but not overdue now)
    assert {k["key"]: k["count"] for k in s["repeat_areas"]} == {"zone:dock": 2, "camera:yard": 2}
    with api.client("gate-only") as limited:
        s = limited.get(f"{API}/stats/loop").json()
    assert s["total"] == 3 and s["overdue_now"] == 0 and s["rectified"] == 2


def test_the_event_list_filters_by_assignee(api) -> None:
    ids = {}
    for n, who in enumerate(["user:fixer", "group:maint", "group:electrical", None, None]):
        v = stored(api.store, violation("gate-3", "no_helmet", T0 + 10 * n))
        put_in_status(api, v.id, "assigned" if who else "new", who)
        ids[v.id] = who

    def listed(user: str, *assignees: str) -> set[str]:
        with api.client(user) as c:
            r = c.get(f"{API}/events", params={"assignee": list(assignees), "limit": 500})
        assert r.status_code == 200, r.text
        return {e["id"] for e in r.json()["events"]}

    def having(*who: str | None) -> set[str]:
        return {i for i, w in ids.items() if w in who}

    assert listed("ops", "user:fixer") == having("user:fixer")
    assert listed("ops", "group:maint", "none") == having("group:maint", None)
    assert listed("fixer", "me") == having("user:fixer", "group:maint")  # theirs and the group's
    assert listed("outsider", "me") == having("group:electrical")
    assert listed("ops", "me") == set()
    assert listed("ops") == set(ids)
    with api.client("ops") as c:
        r = c.get(f"{API}/events", params={"assignee": "someone"})
        assert r.status_code == 422


def test_groups_list_enabled_members_for_those_who_assign(api) -> None:
    api.accounts.update_user("fixer2", disabled=True)
    seen = {}
    for role, user in ROLES.items():
        with api.client(user) as c:
            seen[role] = c.get(f"{API}/groups")
    assert {r: s.status_code for r, s in seen.items()} == {
        "admin": 200,
        "operator": 200,
        "rectifier": 403,
        "verifier": 200,
        "viewer": 403,
    }
    assert seen["operator"].json() == [
        {"name": "electrical", "members": ["outsider"]},
        {"name": "maint", "members": ["fixer"]},  # fixer2 is disabled
    ]


def test_the_dispatch_policy_is_the_sites(url: str, tmp_path: Path) -> None:
    policy = LoopPolicy.model_validate(
        {
            "dispatch": [
                {"match": {"rules": ["fire"]}, "assign": {"user": "ann"}, "due": {"high": "1h"}},
                {"assign": {"group": "maint"}, "due": {"low": "7d"}},
            ],
            "escalation": {"high": [{"after": "0s", "notify": {"channel": "phones"}}]},
        }
    )
    with running_api(url, tmp_path / "data", loop_policy=policy) as r, r.client("viewer") as c:
        shown = c.get(f"{API}/dispatch-policy").json()
    assert [(d["rules"], d["assignee"], d["due_seconds"]) for d in shown["dispatch"]] == [
        (["fire"], "user:ann", {"high": 3600.0}),
        (None, "group:maint", {"low": 604800.0}),
    ]
    assert shown["escalation"] == [
        {"severity": "high", "after_seconds": 0.0, "notify": "channel:phones"}
    ]
