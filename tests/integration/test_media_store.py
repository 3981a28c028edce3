"""Media in an S3-compatible object store (moto's server on loopback, tests/s3server.py): the
upload queue moves real snapshots and clips there (verified, staged copies removed), and the
API serves them from the store with byte-exact HTTP Range, from disk while still staged, and a
503 while the store is away."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import cv2
import httpx
import pytest
from apihelpers import T0, event_with_media, first_frame, running_api, violation
from livehelpers import wait_for
from s3server import S3Server, moto_server

from vigil.api.media import MediaSource
from vigil.events.objectstore import ObjectStore
from vigil.events.store import EventStore
from vigil.events.store.drops import record_drop
from vigil.events.uploads import MediaUploader

API = "/api/v1"

pytestmark = pytest.mark.skipif(moto_server() is None, reason="moto[server] not installed")


@pytest.fixture
def s3():
    with S3Server() as server:
        yield server


def uploaded(uploader: MediaUploader, paths: list[Path]) -> None:
    for path in paths:
        uploader.enqueue(path)
    wait_for(lambda: uploader.pending == 0 and uploader.uploaded >= len(paths), 30, "uploads")


def test_uploaded_media_are_served_from_the_store_with_byte_exact_ranges(
    s3: S3Server, videos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store = ObjectStore(s3.settings())
    uploader = MediaUploader(store, data)
    uploader.start()
    media = MediaSource(store)
    with running_api(f"sqlite:///{tmp_path / 'v.db'}", data, media=media) as api:
        v = violation("gate-3", "no_helmet", T0)
        evidence = event_with_media(api.store, data, videos / "workers_helmets_02.mp4", v)
        clip_bytes = evidence.clip_path.read_bytes()
        snap_bytes = evidence.snapshot_path.read_bytes()
        staged = violation("gate-3", "no_helmet", T0 + 60)
        staged_evidence = event_with_media(
            api.store, data, videos / "workers_helmets_02.mp4", staged
        )
        uploaded(uploader, [evidence.snapshot_path, evidence.clip_path])
        assert not evidence.clip_path.exists() and not evidence.snapshot_path.exists()
        keys = set(store.keys())
        assert {
            p.relative_to(data).as_posix() for p in (evidence.clip_path, evidence.snapshot_path)
        } <= keys
        size, clip = len(clip_bytes), f"{API}/events/{v.id}/clip"
        with api.client("viewer") as c:
            whole = c.get(clip)
            assert whole.status_code == 200 and whole.content == clip_bytes
            assert hashlib.sha256(whole.content).hexdigest() == evidence.clip_sha256
            assert whole.headers["accept-ranges"] == "bytes"
            assert whole.headers["content-type"] == "video/mp4"
            for header, (start, end) in {
                "bytes=0-99": (0, 99),
                "bytes=100-": (100, size - 1),
                "bytes=-333": (size - 333, size - 1),
                f"bytes={size - 10}-{size + 500}": (size - 10, size - 1),
            }.items():
                r = c.get(clip, headers={"Range": header})
                assert r.status_code == 206, header
                assert r.content == clip_bytes[start : end + 1], header
                assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
            r = c.get(clip, headers={"Range": f"bytes={size}-"})
            assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
            assert c.get(clip, headers={"Range": "pages=1-2"}).status_code == 400
            head = c.head(clip)
            assert head.status_code == 200 and int(head.headers["content-length"]) == size
            snap = c.get(f"{API}/events/{v.id}/snapshot")
            assert snap.status_code == 200 and snap.content == snap_bytes
            assert snap.headers["content-type"] == "image/jpeg"
            # Not uploaded yet: served from the staging folder.
            local = c.get(f"{API}/events/{staged.id}/clip")
            assert local.status_code == 200
            assert local.content == staged_evidence.clip_path.read_bytes()
            # The store away and the file no longer staged: 503, not a 404 or a hang.
            s3.stop()
            assert c.get(clip).status_code == 503
            s3.resume()
            assert c.get(clip).content == clip_bytes
    uploader.close(5)


def test_the_queue_keeps_order_and_survives_an_outage_and_a_restart(
    s3: S3Server, tmp_path: Path
) -> None:
    """Files queued while the store is down go up, in order, once it is back; a second
    uploader on the same folder takes over what the first left queued."""
    data = tmp_path / "data"

    def staged(i: int) -> Path:
        path = data / "media" / "cam" / "2026-01-01" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([i]) * (1000 + i))
        return path

    store = ObjectStore(s3.settings())
    s3.stop()
    first = MediaUploader(store, data)
    first.start()
    time.sleep(0.05)
    files = [staged(i) for i in range(3)]
    for path in files:
        first.enqueue(path)
    wait_for(lambda: first.failures >= 2, 30, "failed attempts while the store is down")
    first.close(timeout=0.5)  # gives up: three entries left in its journal
    assert first.uploaded == 0 and all(p.exists() for p in files)
    leftover = staged(9)  # finished but never queued (a crash before the append)

    s3.resume()
    second = MediaUploader(store, data)
    order: list[str] = []
    real_put = store.put_file
    store.put_file = lambda path, key: (real_put(path, key), order.append(path.name))[0]
    second.start()
    time.sleep(0.05)  # the files below are newer than its start: theirs to queue, not the sweep's
    for i in range(3, 6):
        files.append(staged(i))
        second.enqueue(files[-1])
    wait_for(lambda: second.uploaded == 7 and second.pending == 0, 30, "seven uploads")
    second.close(5)
    # The dead uploader's queue first, in its order, then the sweep's find, then the new ones.
    assert order == ["0.jpg", "1.jpg", "2.jpg", "9.jpg", "3.jpg", "4.jpg", "5.jpg"]
    assert not any(p.exists() for p in [*files, leftover])
    keys = sorted(p.relative_to(data).as_posix() for p in [*files, leftover])
    assert sorted(store.keys()) == keys
    assert not list((data / "uploads").glob("*.jsonl"))
    assert second.dropped == 0


def test_every_drop_shows_in_healthz_and_metrics(tmp_path: Path) -> None:
    """A staged clip gone before its upload is counted by the worker in the store; the API of
    any box shows the count in /healthz (no sign-in) and /metrics."""
    data = tmp_path / "data"
    with running_api(f"sqlite:///{tmp_path / 'v.db'}", data) as api:
        with api.client() as c:
            before = c.get("/healthz").json()["media_drops"]
        assert before == {
            "segments_dropped_for_disk": 0,
            "uploads_lost": 0,
            "events_missing_evidence": 0,
        }
        uploader = MediaUploader(
            FakeGone(), data, on_drop=lambda p, r: record_drop(api.store, p, r)
        )
        assert not uploader.upload("media/gate-3/2026-01-02/ab.mp4")  # never written: gone
        with api.client() as c:
            assert c.get("/healthz").json()["media_drops"]["uploads_lost"] == 1
        with api.client("root") as c:
            metrics = c.get("/metrics").text
        assert 'vigil_media_dropped{what="uploads_lost"} 1.0' in metrics
        assert 'vigil_media_uploads_total{result="dropped"}' in metrics


class FakeGone:
    """A store that holds nothing (the file never reached it)."""

    settings = None

    def key_for(self, relative: str) -> str:
        return relative

    def put_file(self, path: Path, key: str):
        raise FileNotFoundError(path)

    def head(self, key: str) -> None:
        return None


def test_a_hazard_photo_goes_to_the_store_and_is_served_from_there(
    s3: S3Server, videos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store = ObjectStore(s3.settings())
    uploader = MediaUploader(store, data, sweep_on_start=False)
    media = MediaSource(store, uploader=uploader)
    ok, jpeg = cv2.imencode(".jpg", first_frame(videos / "fall_01.mp4"))
    report = {"camera": "gate-3", "description": "oil spill by the pump", "severity": "high"}
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with running_api(url, data, media=media) as api, api.client("ops") as c:
        r = c.post(f"{API}/hazards", data=report, files={"photo": ("a.jpg", jpeg.tobytes())})
        assert r.status_code == 201, r.text
        wait_for(lambda: uploader.uploaded == 1, 30, "the photo's upload")
        assert not [p for p in (data / "media" / "photos").rglob("*") if p.is_file()]
        (key,) = store.keys("media/photos")
        served = c.get(r.json()["photo_url"])
        assert served.status_code == 200
        chunks, _ = store.open_range(store.key_for(key), 0, None)
        assert served.content == b"".join(chunks)


def test_vigil_status_shows_the_drops(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vigil.cli import app
    from vigil.streams.health import CameraState, HealthSnapshot

    data = tmp_path / "data"
    with EventStore.for_data_dir(data) as store:
        now = time.time()
        h = HealthSnapshot(
            "gate-3", None, "rtsp://cam", CameraState.LIVE, now, 2, 2, now, 0, 0, None, now
        )
        store.put_camera_health([h], "w1")
        record_drop(store, "media/gate-3/2026-01-02/ab.mp4", "gone")
    result = CliRunner().invoke(app, ["status", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "media dropped: 0 recording segments for disk space, 1 uploads lost" in result.output


def test_a_long_clip_goes_up_in_parts_and_is_checked(s3: S3Server, tmp_path: Path) -> None:
    store = ObjectStore(s3.settings())
    store.ensure_bucket()
    store.multipart_bytes = 6 * 2**20  # as a clip past 64 MiB would
    big = tmp_path / "media" / "cam" / "2026-01-01" / "long.mp4"
    big.parent.mkdir(parents=True)
    big.write_bytes(bytes(range(256)) * (11 * 2**12))  # 11 MiB: parts of 5, 5 and 1
    info = store.put_file(big, "media/cam/2026-01-01/long.mp4")
    assert info.size == big.stat().st_size and "-" in info.etag  # a multipart ETag
    chunks, total = store.open_range("media/cam/2026-01-01/long.mp4", 0, None)
    assert total == info.size and b"".join(chunks) == big.read_bytes()


def test_redirect_mode_sends_a_signed_url_that_serves_the_clip(
    s3: S3Server, videos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store = ObjectStore(s3.settings())
    uploader = MediaUploader(store, data, sweep_on_start=False)
    uploader.start()
    with running_api(
        f"sqlite:///{tmp_path / 'v.db'}", data, media=MediaSource(store, "redirect")
    ) as api:
        v = violation("gate-3", "no_helmet", T0)
        evidence = event_with_media(api.store, data, videos / "workers_helmets_02.mp4", v)
        clip_bytes = evidence.clip_path.read_bytes()
        uploaded(uploader, [evidence.snapshot_path, evidence.clip_path])
        with api.client("viewer") as c:
            r = c.get(f"{API}/events/{v.id}/clip")
            assert r.status_code == 307 and "X-Amz-Signature=" in r.headers["location"]
            followed = httpx.get(r.headers["location"], headers={"Range": "bytes=0-99"})
            assert followed.status_code == 206 and followed.content == clip_bytes[:100]
            assert httpx.get(r.headers["location"]).content == clip_bytes
    uploader.close(5)
