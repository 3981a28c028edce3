"""Continuous recording without a network: real H.264 packets of the shared footage pushed
through a ring buffer into segments, a real store (SQLite and PostgreSQL), real files."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import supervision as sv
from recordhelpers import looped_packets
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import ConfigError, SiteConfig, load_site_config
from vigil.events.continuous import ContinuousRecorder
from vigil.events.exports import KEEP_SECONDS, ExportJobs
from vigil.events.replay import (
    ExportError,
    export_range,
    hls_playlist,
    parse_time,
    recorded_spans,
    segment_ts,
)
from vigil.events.retention import DAY, DiskFloor, enforce_retention
from vigil.events.seen import search_seen
from vigil.events.segments import RecordSettings, SegmentWriter, recover_segments
from vigil.events.store.recordings import RecordingIndex, SegmentRecord
from vigil.events.store.store import EventStore
from vigil.events.violation import Violation
from vigil.events.zones import Zone
from vigil.streams.ring import Picture, RingBuffer

T0 = 1_800_000_000.0  # wall time of camera time 0
HELMETS = "workers_helmets_01.mp4"  # 16.1 s, 30 fps, keyframes at 0 and 8.33 s of each loop
GOP = 8.4


def record(video: Path, data: Path, index: RecordingIndex | None, pieces, seconds=10.0):
    """Record ``pieces`` [(t0, seconds), …] of looped footage; returns the writer."""
    ring = RingBuffer(30, 64 << 20)
    writer = SegmentWriter(
        "cam", ring, data, index, RecordSettings(segment_seconds=seconds), lambda t: T0 + t
    )
    for t0, length in pieces:
        for i, packet in enumerate(looped_packets(video, length, t0)):
            ring.append(packet)
            if i % 20 == 0:
                writer.pump()
    return writer


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [frame.time for frame in container.decode(video=0)]


def picture_at(path: Path, t: float) -> bytes:
    """The decoded picture (luma plane) shown at ``t`` seconds into ``path``."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= t - 1e-3:
                return frame.to_ndarray(format="gray").tobytes()
    raise AssertionError(f"no frame at {t} s in {path.name}")


@pytest.fixture
def index(url: str):
    store = EventStore(url)
    yield RecordingIndex(store)
    store.dispose()


def test_segments_start_on_keyframes_are_indexed_whole_and_a_gap_stays_a_gap(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    writer = record(videos / HELMETS, tmp_path, index, [(0, 40), (70, 20)])
    writer.close()
    segments = index.segments("cam")
    assert len(segments) >= 4
    for s in segments:
        path = tmp_path / s.path
        assert path.is_file() and path.stat().st_size == s.bytes
        assert s.keyframes[0] == 0.0 and s.codec == "h264" and (s.width, s.height) == (360, 640)
        times = frame_times(path)
        assert len(times) == s.frames  # every frame decodes: nothing half-written
        assert s.duration == pytest.approx(s.frames / 30, abs=0.05)
    # The hole from 40 s to 70 s is between segments, not inside one.
    spans = recorded_spans(segments)
    assert len(spans) == 2
    assert spans[0].end == pytest.approx(T0 + 40, abs=GOP)
    assert spans[1].start == pytest.approx(T0 + 70, abs=0.1)
    assert not index.segments("cam", T0 + 41, T0 + 69)
    assert not list(tmp_path.rglob("*.part"))


def test_a_segment_in_progress_is_never_indexed_and_a_killed_one_is_salvaged(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    # Kept alive (unclosed) through the test, as a killed worker leaves its file.
    writer = record(videos / HELMETS, tmp_path, index, [(0, 25)])  # a segment is open now
    assert writer.written >= 1
    indexed = index.segments("cam")
    parts = list(tmp_path.rglob(".*.rec.part"))
    assert len(parts) == 1  # the segment being written: fragmented MP4, not indexed
    assert all(not s.path.endswith(".part") for s in indexed)
    assert sum(s.duration for s in indexed) < 25 - 1
    (parts[0].parent / ".123.mp4.junk.part").write_bytes(b"half a file")
    # The worker dies here (nothing is closed); the next start salvages and sweeps.
    found = recover_segments(index, tmp_path, ["cam"])
    assert (found.salvaged, found.swept) == (1, 2)
    assert not list(tmp_path.rglob("*.part"))
    after = index.segments("cam")
    assert len(after) == len(indexed) + 1
    salvaged = after[-1]
    assert len(frame_times(tmp_path / salvaged.path)) == salvaged.frames > 0
    assert salvaged.start_wall == pytest.approx(indexed[-1].end_wall, abs=0.05)
    # Again: nothing left to do.
    assert recover_segments(index, tmp_path, ["cam"]) == type(found)(0, 0, 0)


def test_finished_segments_the_store_never_took_are_indexed_at_start(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    writer = record(videos / HELMETS, tmp_path, None, [(0, 40)])  # the store was away
    writer.close()
    assert len(writer.pending) == 3 and index.segments("cam") == []
    found = recover_segments(index, tmp_path, ["cam"])
    assert (found.salvaged, found.indexed, found.swept) == (0, 3, 0)
    indexed = index.segments("cam")
    assert [(s.path, s.frames, s.keyframes) for s in indexed] == [
        (p.path, p.frames, p.keyframes) for p in writer.pending
    ]
    assert [s.start_wall for s in indexed] == pytest.approx([p.start_wall for p in writer.pending])
    assert [s.end_wall for s in indexed] == pytest.approx(
        [p.end_wall for p in writer.pending], abs=0.02
    )


def test_sources_that_are_not_h264_are_encoded_into_segments(videos: Path, tmp_path: Path):
    ring = RingBuffer(30, 256 << 20)
    settings = RecordSettings(segment_seconds=3, crf=30, picture_fps=10)
    writer = SegmentWriter("mjpeg", ring, tmp_path, None, settings, lambda t: T0 + t)
    with av.open(str(videos / HELMETS)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if frame.time >= 7.0:
                break
            if i % 3 == 0:  # 10 decoded pictures a second, as a reader keeps them
                ring.append(Picture(frame.to_ndarray(format="bgr24"), frame.time, 360 * 640 * 3))
                writer.pump()
    writer.close()
    assert [round(s.duration, 1) for s in writer.pending] == [3.0, 3.0, 1.0]
    for s in writer.pending:
        assert s.codec == "h264" and s.keyframes[0] == 0.0
        assert len(frame_times(tmp_path / s.path)) == s.frames == round(s.duration * 10)


def test_export_cuts_at_keyframes_or_exactly_and_bad_ranges_say_why(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    record(videos / HELMETS, tmp_path, index, [(0, 60)]).close()
    start, end = T0 + 12.0, T0 + 40.0
    copy = export_range(index, tmp_path, "cam", start, end, tmp_path / "copy.mp4")
    times = frame_times(tmp_path / "copy.mp4")
    assert len(times) == copy.frames
    assert start - GOP <= copy.start_wall <= start  # the keyframe at or before the start
    assert copy.end_wall == pytest.approx(end, abs=0.2)
    assert times[-1] - times[0] == pytest.approx(copy.duration - 1 / 30, abs=0.1)
    exact = export_range(index, tmp_path, "cam", start, end, tmp_path / "x.mp4", exact=True)
    times = frame_times(tmp_path / "x.mp4")
    assert exact.start_wall == pytest.approx(start, abs=0.05)
    assert exact.duration == pytest.approx(28.0, abs=0.1)
    assert len(times) == exact.frames == pytest.approx(28 * 30, abs=3)
    # Only the ends are encoded: between the first and last keyframe inside the range the
    # camera's pictures are copied, bit for bit the same as in the keyframe cut.
    middle = T0 + 20.0  # keyframes inside: 16.1, 24.43, 32.2
    assert picture_at(tmp_path / "x.mp4", middle - start) == picture_at(
        tmp_path / "copy.mp4", middle - copy.start_wall
    )
    assert picture_at(tmp_path / "x.mp4", 1.0) != picture_at(
        tmp_path / "copy.mp4", start + 1.0 - copy.start_wall
    )  # the head is encoded
    with av.open(str(tmp_path / "x.mp4")) as container:
        avcc = bytes(container.streams.video[0].codec_context.extradata)
    assert avcc[5] & 0x1F == 3  # the camera's parameter sets, the head's and the tail's
    # No keyframe inside the range: all of it is encoded, still exactly.
    short = export_range(index, tmp_path, "cam", T0 + 1, T0 + 5, tmp_path / "s.mp4", exact=True)
    assert short.start_wall == pytest.approx(T0 + 1, abs=0.05)
    assert short.duration == pytest.approx(4.0, abs=0.1)
    assert len(frame_times(tmp_path / "s.mp4")) == short.frames
    with pytest.raises(ExportError, match="no recording of camera 'cam'"):
        export_range(index, tmp_path, "cam", T0 + 500, T0 + 600, tmp_path / "none.mp4")
    with pytest.raises(ExportError, match="not after start"):
        export_range(index, tmp_path, "cam", end, start, tmp_path / "none.mp4")
    assert not (tmp_path / "none.mp4").exists()


def test_hls_playlist_and_ts_segments_play_without_reencoding(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    record(videos / HELMETS, tmp_path, index, [(0, 35), (60, 20)]).close()
    segments = index.segments("cam")
    text = hls_playlist(segments, lambda s: f"segments/{s.id}.ts")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in lines
    assert lines.count("#EXT-X-DISCONTINUITY") == 1  # the gap
    assert sum(line.startswith("#EXTINF:") for line in lines) == len(segments)
    target = int(next(x for x in lines if x.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
    assert all(s.duration <= target for s in segments)
    ts = tmp_path / "one.ts"
    ts.write_bytes(segment_ts(tmp_path, segments[1]))
    with av.open(str(ts)) as container:
        assert container.format.name == "mpegts"
        frames = [f.time for f in container.decode(video=0)]
    assert len(frames) == segments[1].frames
    # TS time is the time of day of the segment: consecutive segments continue.
    assert frames[0] == pytest.approx((segments[1].start_wall % DAY), abs=0.05)


def _event(
    store: EventStore, start: float, end: float, status: str | None = None, camera: str = "cam"
) -> str:
    v = Violation(
        camera, "no_helmet", "head_bare", "track:1", "high", 0, start, 1, end, 0.9, 0, (0, 0, 1, 1)
    )
    with store.unit_of_work() as w:
        w.opened(v)
        if status == "dismissed":
            w.record_transition(v.id, "new", "dismissed", "tester", note="false alarm")
    return v.id


def test_retention_by_age_and_free_space_spares_open_hazards(
    videos: Path, tmp_path: Path, index: RecordingIndex
):
    record(videos / HELMETS, tmp_path, index, [(0, 80)]).close()
    segments = index.segments("cam")
    assert len(segments) == 5
    # An open hazard in the first segment, a dismissed false alarm in the second.
    _event(index.store, segments[0].start_wall + 1, segments[0].start_wall + 3)
    _event(index.store, segments[1].start_wall + 2, segments[1].start_wall + 4, "dismissed")
    # Another worker's camera in a shared index: its files are on that worker's disk.
    theirs = index.add_segment(
        SegmentRecord(
            0, "other", T0 - 30 * DAY, T0 - 30 * DAY + 60, "recordings/o/1.mp4", 9, 9, (0,)
        )
    )
    policy = {"cam": RecordSettings(retain_days=1, keep_event_days=0)}
    now = segments[2].end_wall + DAY + 1  # the first three segments are past retain_days
    report = enforce_retention(index, tmp_path, policy, now=now)
    assert (report.deleted_age, report.kept_for_events) == (2, 1)
    assert index.segments("other") == [theirs]
    left = [s.id for s in index.segments("cam")]
    assert left == [segments[0].id, segments[3].id, segments[4].id]
    assert not (tmp_path / segments[1].path).exists()
    assert (tmp_path / segments[0].path).exists()
    # Disk below its floor: the oldest go until it is back above, never the open hazard's.
    used = {s.path: s.bytes for s in index.segments("cam")}
    total = sum(used.values()) + 10**6  # a disk with 1 MB free

    def usage(_path: Path) -> tuple[int, int]:
        on_disk = sum(b for p, b in used.items() if (tmp_path / p).exists())
        return total - on_disk, total

    floor = DiskFloor(min_free_gb=0.0015)  # 1.5 MB: one segment (~0.9 MB) must go
    report = enforce_retention(
        index, tmp_path, {"cam": RecordSettings(retain_days=30)}, floor, now=now, free_bytes=usage
    )
    assert report.deleted_disk == 1 and not report.below_floor
    assert [s.id for s in index.segments("cam")] == [segments[0].id, segments[4].id]
    reasons = [(d.path, d.reason) for d in index.deletions("cam")]
    assert reasons == [
        (segments[1].path, "age"),
        (segments[2].path, "age"),
        (segments[3].path, "disk"),
    ]


def test_search_finds_labels_in_zones_as_spans(tmp_path: Path, index: RecordingIndex):
    recorder = ContinuousRecorder(index, tmp_path)
    tank = Zone(name="tank-farm", polygon=[(0, 0), (100, 0), (100, 100), (0, 100)])
    recorder.add_camera("cam", RingBuffer(5, 1 << 20), RecordSettings(), lambda t: t, [tank])
    recorder.start()

    def boxes(*found: tuple[str, float, tuple[float, float, float, float]]) -> sv.Detections:
        d = sv.Detections(
            xyxy=np.array([b for _, _, b in found], dtype=np.float32).reshape(-1, 4),
            confidence=np.array([c for _, c, _ in found], dtype=np.float32),
            tracker_id=np.arange(len(found)),
        )
        d.data["label"] = np.array([lab for lab, _, _ in found], dtype=object)
        return d

    inside, outside = (10, 10, 50, 90), (200, 200, 260, 300)
    for i in range(40):  # 2 analysed frames per second for 20 s
        wall = T0 + i * 0.5
        found = []
        if 4 <= wall - T0 < 8:
            found.append(("person", 0.8, inside))
        if 12 <= wall - T0 < 15:
            found.append(("person", 0.6, outside))
        if wall - T0 >= 17:
            found.append(("head_bare", 0.7, inside))
        recorder.seen("cam", wall, boxes(*found))
    recorder.close()
    assert recorder.seen_written == 40 and index.seen_count("cam") == 40
    people = search_seen(index, "cam", "person", T0, T0 + 20)
    assert [(s.start - T0, s.end - T0, s.frames) for s in people] == [
        (4.0, 8.0, 8),
        (12.0, 15.0, 6),
    ]
    in_zone = search_seen(index, "cam", "person", T0, T0 + 20, zone="tank-farm")
    assert [(s.start - T0, s.end - T0) for s in in_zone] == [(4.0, 8.0)]
    assert search_seen(index, "cam", "person", T0, T0 + 20, min_confidence=0.7)[0].frames == 8
    bare = search_seen(index, "cam", "head_bare", T0 + 10, T0 + 20)
    assert [(s.start - T0, s.end - T0) for s in bare] == [(17.0, 20.0)]
    assert search_seen(index, "cam", "fire", T0, T0 + 20) == []


def test_record_config_per_camera_and_site_default(tmp_path: Path):
    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "a", "source": "rtsp://h/a", "record": {"enabled": True, "retain_days": 3}},
                {"id": "b", "source": "rtsp://h/b"},
            ],
            "record": {"enabled": False, "segment_seconds": 30},
            "storage": {"min_free_gb": 50, "min_free_percent": 5},
        }
    )
    a, b = site.cameras
    assert site.record_of(a).enabled and site.record_of(a).retain_days == 3
    assert not site.record_of(b).enabled and site.record_of(b).segment_seconds == 30
    assert site.storage.min_free_gb == 50
    bad = tmp_path / "site.yaml"
    bad.write_text("cameras: [{id: a, source: rtsp://h/a, record: {retain: 3}}]\n")
    with pytest.raises(ConfigError, match=r"cameras\.a\.record\.retain: Extra inputs"):
        load_site_config(bad)


def test_cli_lists_exports_and_rejects_bad_input(videos: Path, tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    record(videos / HELMETS, tmp_path, RecordingIndex(store), [(0, 30)]).close()
    store.dispose()
    runner = CliRunner()
    data = ["--data", str(tmp_path)]
    listed = runner.invoke(app, ["recordings", "cam", "--json", *data])
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert len(document["spans"]) == 1 and len(document["segments"]) == 2
    out = tmp_path / "cut.mp4"
    done = runner.invoke(
        app, ["export", "cam", str(T0 + 9), "2027-01-15T08:00:20Z", "-o", str(out), *data]
    )
    assert done.exit_code == 0, done.output
    assert frame_times(out)
    for args, message in [
        (["export", "cam", "yesterday-ish", str(T0 + 5), "-o", str(out)], "time 'yesterday-ish'"),
        (
            ["export", "cam", str(T0 + 900), str(T0 + 950), "-o", str(tmp_path / "n.mp4")],
            "no recording of camera 'cam'",
        ),
        (
            ["export", "cam", str(T0), str(T0 + 5), "-o", str(tmp_path / "no" / "n.mp4")],
            "does not exist",
        ),
        (["search", "--camera", "cam", "--label", "person", "--start", "soon"], "time 'soon'"),
    ]:
        result = runner.invoke(app, [*args, *data])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "n.mp4").exists()


def test_parse_time_forms():
    assert parse_time("2027-01-15T08:00:00Z") == T0
    assert parse_time("2027-01-15T08:00:00") == T0  # no zone: UTC
    assert parse_time("2027-01-15T09:00:00+01:00") == T0
    assert parse_time(str(T0)) == T0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_export_jobs_run_in_the_background_and_say_why_they_failed(videos: Path, tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    index = RecordingIndex(store)
    record(videos / HELMETS, tmp_path, index, [(0, 20)]).close()
    jobs = ExportJobs(index, tmp_path)
    try:
        good = jobs.submit("cam", T0 + 2, T0 + 12, exact=False, owner="alice")
        bad = jobs.submit("cam", T0 + 100, T0 + 110, exact=False, owner="alice")
        done, failed = jobs.wait(good.id), jobs.wait(bad.id)
    finally:
        jobs.close()
        store.dispose()
    assert done.state == "done" and done.path == tmp_path / "exports" / f"{good.id}.mp4"
    assert len(frame_times(done.path)) == done.result.frames
    assert failed.state == "failed" and "no recording of camera 'cam'" in failed.error
    assert not (tmp_path / "exports" / f"{bad.id}.mp4").exists()


def test_export_files_go_with_their_jobs_and_with_age(videos: Path, tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    index = RecordingIndex(store)
    record(videos / HELMETS, tmp_path, index, [(0, 20)]).close()
    folder = tmp_path / "exports"
    folder.mkdir()
    crashed = folder / ".0123.mp4.exact.part"  # what a crash mid-export leaves
    crashed.write_bytes(b"x")
    os.utime(crashed, (time.time() - KEEP_SECONDS - 60,) * 2)
    jobs = ExportJobs(index, tmp_path, keep=1)
    try:
        assert not crashed.exists()  # swept at start: a restart forgets every job
        first = jobs.wait(jobs.submit("cam", T0 + 2, T0 + 6, exact=False, owner="a").id)
        assert first.state == "done" and first.path.is_file()
        second = jobs.wait(jobs.submit("cam", T0 + 6, T0 + 10, exact=False, owner="a").id)
        # keep=1: the first job is forgotten, and its file with it.
        assert jobs.get(first.id) is None and not first.path.exists()
        assert second.path.is_file() and jobs.sweep() == 0
        assert jobs.sweep(now=time.time() + KEEP_SECONDS + 1) == 1 and not second.path.exists()
    finally:
        jobs.close()
        store.dispose()
