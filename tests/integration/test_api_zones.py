"""A camera's zones through the API on loopback, over SQLite and PostgreSQL: read by anyone who
may see the camera, replaced by an admin or a verifier, refused with one clear line when a
polygon cannot be used; and the newest frame a worker keeps, to draw them on."""

from __future__ import annotations

from pathlib import Path

import pytest
from apihelpers import PASSWORD, first_frame, running_api

from vigil.api.security import CSRF_HEADER
from vigil.config import SiteConfig
from vigil.events.evidence import write_latest_frame
from vigil.events.store.zones import ZoneStore

API = "/api/v1"
SQUARE = [[100, 100], [500, 100], [500, 400], [100, 400]]
SITE = SiteConfig.model_validate(
    {
        "cameras": [
            {
                "id": "yard",
                "source": "rtsp://127.0.0.1/yard",
                "rules": {
                    "fall": {},
                    "restricted_zone": {"zones": [{"name": "pit", "polygon": SQUARE}]},
                },
            },
            {"id": "gate-3", "source": "rtsp://127.0.0.1/gate"},
        ]
    }
)


@pytest.fixture
def api(url: str, tmp_path: Path):
    with running_api(url, tmp_path / "data", site_zones=SITE.site_zones()) as running:
        running.accounts.add_user("vera", PASSWORD, "verifier")
        running.tokens["vera"] = running.accounts.create_token("vera", "tests").secret
        yield running


def zone(name: str, kind: str = "restricted", polygon: list | None = None) -> dict:
    return {"name": name, "kind": kind, "polygon": SQUARE if polygon is None else polygon}


def test_a_camera_shows_its_site_zones_until_zones_are_saved(api) -> None:
    with api.client("viewer") as viewer:
        site = viewer.get(f"{API}/cameras/yard/zones")
        assert site.status_code == 200, site.text
        body = site.json()
        assert (body["revision"], body["source"], body["saved_by"]) == (0, "site", None)
        assert body["zones"] == [zone("pit")]
        assert body["kinds"]["post"] == ["absent_from_post", "inactive_on_post"]
        assert viewer.get(f"{API}/cameras/gate-3/zones").json()["zones"] == []
        assert viewer.get(f"{API}/cameras/nowhere/zones").status_code == 404
        refused = viewer.put(f"{API}/cameras/yard/zones", json={"zones": []})
        assert refused.status_code == 403
    with api.client("ops") as operator:
        assert operator.put(f"{API}/cameras/yard/zones", json={"zones": []}).status_code == 403
    with api.client("gate-only") as limited:
        assert limited.get(f"{API}/cameras/yard/zones").status_code == 404
        assert limited.get(f"{API}/cameras/gate-3/zones").status_code == 200

    drawn = [zone("dock", "post"), zone("roof", "work-at-height", [[0, 0], [640, 0], [0, 90]])]
    with api.client("vera") as verifier:
        saved = verifier.put(f"{API}/cameras/yard/zones", json={"zones": drawn, "base_revision": 0})
        assert saved.status_code == 200, saved.text
        assert (saved.json()["revision"], saved.json()["source"]) == (1, "saved")
        assert saved.json()["saved_by"] == "vera"
    with api.client("viewer") as viewer:
        now = viewer.get(f"{API}/cameras/yard/zones").json()
    assert now["zones"] == drawn and now["revision"] == 1 and now["saved_at"]
    assert ZoneStore(api.store).revisions() == {"yard": 1}
    with api.client("root") as admin:
        stale = admin.put(f"{API}/cameras/yard/zones", json={"zones": [], "base_revision": 0})
        assert stale.status_code == 409 and "revision 0, now 1" in stale.json()["detail"]
        cleared = admin.put(f"{API}/cameras/yard/zones", json={"zones": [], "base_revision": 1})
        assert cleared.json()["zones"] == [] and cleared.json()["revision"] == 2
    history = ZoneStore(api.store).history("yard")
    assert [(h.revision, h.saved_by) for h in history] == [(2, "root"), (1, "vera")]


@pytest.mark.parametrize(
    ("zones", "reason"),
    [
        ([zone("a", polygon=[[0, 0], [10, 10]])], "zones.0: zone 'a': polygon needs at least 3"),
        ([zone("a", polygon=[[0, 0], [20000, 0], [0, 10]])], "at most 16384"),
        ([zone("a", polygon=[[0, 0], [-1, 5], [9, 9]])], "outside the frame"),
        ([zone("a", polygon=[[0, 0], [5, 5], [9, 9]])], "zero area"),
        ([zone("a", kind="forbidden")], "zones.0.kind: Input should be 'restricted'"),
        ([zone("a"), zone("a", "post")], "zones: zone 'a' is defined twice"),
        ([zone("")], "zones.0.name: String should have at least 1 character"),
        ([zone("a", polygon=[[i, i * i % 7] for i in range(300)])], "at most 256 items"),
        ([{**zone("a"), "colour": "red"}], "zones.0.colour: Extra inputs are not permitted"),
    ],
)
def test_a_polygon_that_cannot_be_used_is_one_clear_422_and_nothing_is_saved(
    api, zones: list, reason: str
) -> None:
    with api.client("root") as admin:
        r = admin.put(f"{API}/cameras/yard/zones", json={"zones": zones})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and reason in detail and "\n" not in detail
    assert ZoneStore(api.store).revisions() == {}


def test_a_cookie_save_needs_the_csrf_token(api) -> None:
    with api.client() as browser:
        login = browser.post(f"{API}/auth/login", json={"name": "root", "password": PASSWORD})
        csrf = login.json()["csrf_token"]
        body = {"zones": [zone("pit")]}
        missing = browser.put(f"{API}/cameras/yard/zones", json=body)
        assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
        assert ZoneStore(api.store).revisions() == {}
        ok = browser.put(f"{API}/cameras/yard/zones", json=body, headers={CSRF_HEADER: csrf})
        assert ok.status_code == 200 and ok.json()["saved_by"] == "root"


def test_the_newest_frame_a_worker_keeps_is_served_unannotated(api, videos: Path) -> None:
    with api.client("viewer") as viewer:
        assert viewer.get(f"{API}/cameras/yard/frame").status_code == 404
        image = first_frame(videos / "people_walking_01.mp4")
        kept = write_latest_frame(image, api.data_dir, "yard")
        r = viewer.get(f"{API}/cameras/yard/frame")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.content == kept.read_bytes()
    with api.client("gate-only") as limited:
        assert limited.get(f"{API}/cameras/yard/frame").status_code == 404
