"""The recordings API on loopback (uvicorn in a thread) over SQLite and PostgreSQL: what is
recorded, HLS replay of real segments, export jobs, search; auth and camera limits."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
import supervision as sv
from apihelpers import running_api
from recordhelpers import looped_packets

from vigil.events.continuous import ContinuousRecorder
from vigil.events.segments import RecordSettings, SegmentWriter
from vigil.events.store.recordings import RecordingIndex
from vigil.streams.ring import RingBuffer

API = "/api/v1"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HELMETS = "workers_helmets_01.mp4"  # keyframes every 8.3 s


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _people(n: int) -> sv.Detections:
    d = sv.Detections(
        xyxy=np.array([[10, 10, 50, 90]] * n, np.float32).reshape(-1, 4),
        confidence=np.full(n, 0.8, np.float32),
    )
    d.data["label"] = np.array(["person"] * n, dtype=object)
    return d


@pytest.fixture
def api(url: str, tmp_path: Path, videos: Path):
    data = tmp_path / "data"
    with running_api(url, data) as r:
        index = RecordingIndex(r.store)
        ring = RingBuffer(30, 64 << 20)
        writer = SegmentWriter(
            "gate-3", ring, data, index, RecordSettings(segment_seconds=10), lambda t: T0 + t
        )
        for start, seconds in ((0, 35), (60, 20)):  # a gap from ~35 s to 60 s
            for i, packet in enumerate(looped_packets(videos / HELMETS, seconds, start)):
                ring.append(packet)
                if i % 30 == 0:
                    writer.pump()
        writer.close()
        recorder = ContinuousRecorder(index, data)
        recorder.add_camera("gate-3", RingBuffer(1, 1), RecordSettings(), lambda t: t)
        recorder.start()
        for i in range(40):  # a person from 10 s to 15 s, 2 analysed frames a second
            recorder.seen("gate-3", T0 + i / 2, _people(1 if 10 <= i / 2 < 15 else 0))
        recorder.close()
        yield r


def test_recordings_need_auth_and_respect_camera_limits(api) -> None:
    with api.client() as anon:
        for path in (
            f"{API}/cameras/gate-3/recordings",
            f"{API}/cameras/gate-3/recordings/playlist.m3u8",
            f"{API}/cameras/gate-3/recordings/segments/1.ts",
            f"{API}/exports/{'0' * 32}",
            f"{API}/search?camera=gate-3&label=person",
        ):
            assert anon.get(path).status_code == 401, path
        assert anon.post(f"{API}/exports", json={}).status_code == 401
    window = {"start": _iso(T0), "end": _iso(T0 + 100)}
    with api.client("gate-only") as gate:
        assert gate.get(f"{API}/cameras/gate-3/recordings", params=window).status_code == 200
        assert gate.get(f"{API}/cameras/yard/recordings", params=window).status_code == 404
        assert (
            gate.get(
                f"{API}/search", params={"camera": "yard", "label": "person", **window}
            ).status_code
            == 404
        )
        r = gate.post(f"{API}/exports", json={"camera": "yard", **window})
        assert r.status_code == 404


def test_list_playlist_and_ts_segments_replay_the_recording(api) -> None:
    window = {"start": _iso(T0), "end": _iso(T0 + 100)}
    with api.client("viewer") as c:
        listed = c.get(f"{API}/cameras/gate-3/recordings", params=window)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert len(body["spans"]) == 2 and len(body["segments"]) >= 3
        playlist = c.get(body["playlist"])
        assert playlist.status_code == 200, playlist.text
        assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        lines = playlist.text.splitlines()
        assert lines[0] == "#EXTM3U" and "#EXT-X-DISCONTINUITY" in lines
        uris = [line for line in lines if line and not line.startswith("#")]
        assert len(uris) == len(body["segments"])
        base = str(playlist.url).rsplit("/", 1)[0]
        for uri, seg in zip(uris, body["segments"], strict=True):
            assert uri == f"segments/{seg['id']}.ts"
            ts = c.get(f"{base}/{uri}")
            assert ts.status_code == 200 and ts.headers["content-type"] == "video/mp2t"
            with av.open(io.BytesIO(ts.content)) as container:
                assert container.format.name == "mpegts"
                assert sum(1 for _ in container.decode(video=0)) > 0
        assert c.get(f"{base}/99999.ts").status_code == 404
        bad = c.get(
            f"{API}/cameras/gate-3/recordings", params={"start": _iso(T0 + 5), "end": _iso(T0)}
        )
        assert bad.status_code == 422 and "not after start" in bad.json()["detail"]
        assert (
            c.get(f"{API}/cameras/gate-3/recordings", params={"start": "soon"}).status_code == 422
        )
        none = c.get(
            f"{API}/cameras/gate-3/recordings/playlist.m3u8",
            params={"start": _iso(T0 + 500), "end": _iso(T0 + 600)},
        )
        assert none.status_code == 404


def test_export_job_runs_and_serves_the_mp4(api) -> None:
    with api.client("ops") as ops, api.client("viewer") as other:
        r = ops.post(
            f"{API}/exports",
            json={"camera": "gate-3", "start": _iso(T0 + 12), "end": _iso(T0 + 30)},
        )
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["state"] in ("queued", "running", "done")
        deadline = time.monotonic() + 60
        while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            job = ops.get(f"{API}/exports/{job['id']}").json()
        assert job["state"] == "done", job
        assert other.get(f"{API}/exports/{job['id']}").status_code == 404  # not theirs
        got = ops.get(job["download"])
        assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(got.content)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames > 0
        assert T0 + 12 - 8.4 <= _epoch(job["file_start"]) <= T0 + 12  # a keyframe before
        assert _epoch(job["file_end"]) == pytest.approx(T0 + 30, abs=0.2)
        (api.data_dir / "exports" / f"{job['id']}.mp4").unlink()  # as the age sweep does
        gone = ops.get(job["download"])
        assert gone.status_code == 410 and "kept 24 h" in gone.json()["detail"]
        failed = ops.post(
            f"{API}/exports",
            json={"camera": "gate-3", "start": _iso(T0 + 500), "end": _iso(T0 + 510)},
        ).json()
        deadline = time.monotonic() + 30
        while failed["state"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            failed = ops.get(f"{API}/exports/{failed['id']}").json()
        assert failed["state"] == "failed" and "no recording" in failed["error"]
        assert ops.get(f"{API}/exports/{failed['id']}/download").status_code == 409
        too_long = ops.post(
            f"{API}/exports", json={"camera": "gate-3", "start": _iso(T0), "end": _iso(T0 + 86400)}
        )
        assert too_long.status_code == 422
        extra = ops.post(
            f"{API}/exports",
            json={"camera": "gate-3", "start": _iso(T0), "end": _iso(T0 + 5), "x": 1},
        )
        assert extra.status_code == 422


def test_search_answers_with_spans_that_open_the_replay(api) -> None:
    with api.client("viewer") as c:
        r = c.get(
            f"{API}/search",
            params={"camera": "gate-3", "label": "person", "start": _iso(T0), "end": _iso(T0 + 30)},
        )
        assert r.status_code == 200, r.text
        spans = r.json()["spans"]
        assert len(spans) == 1 and spans[0]["frames"] == 10
        replay = c.get(spans[0]["replay"])
        assert replay.status_code == 200 and "#EXTINF" in replay.text
        none = c.get(
            f"{API}/search",
            params={"camera": "gate-3", "label": "fire", "start": _iso(T0), "end": _iso(T0 + 30)},
        )
        assert none.json()["spans"] == []
        assert (
            c.get(f"{API}/search", params={"camera": "gate-3", "label": "Bad Label"}).status_code
            == 422
        )
