"""Continuous recording with real parts: `vigil run` recording a looped real video served over
RTSP by GStreamer, killed with SIGKILL mid-segment and started again; retention on a real
small filesystem (tmpfs) that fills up.

fall_01.mp4 (11.3 s, keyframes at 0 and 10.4 s) shows a worker falling at ~3.6 s and lying on
the floor to its end; the server loops it, so the fall model sees ``person_fallen`` for most of
every loop and the fall rule opens an event in each.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
from livehelpers import RtspServer, rtsp_server_available, wait_for
from recordhelpers import looped_packets

from vigil.events.replay import export_range, recorded_spans
from vigil.events.retention import DiskFloor, enforce_retention
from vigil.events.seen import search_seen
from vigil.events.segments import RecordSettings, SegmentWriter
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.store import EventStore
from vigil.events.violation import Violation
from vigil.streams.ring import RingBuffer

pytestmark = pytest.mark.slow


def _site(tmp_path: Path, source: str, data: Path) -> Path:
    config = tmp_path / "site.yaml"
    config.write_text(
        f"""
cameras:
  - id: yard
    source: {source}
    fps: 2
    rules: {{fall: {{}}}}
    record: {{enabled: true, segment_seconds: 10}}
reconnect: {{stall_seconds: 2, open_timeout: 3, backoff_initial: 0.2, backoff_max: 1}}
evidence: {{pre_seconds: 2, post_seconds: 2}}
storage: {{data_dir: {data}}}
"""
    )
    return config


def _indexed(data: Path) -> list[tuple[str, int]]:
    if not (data / "vigil.db").exists():
        return []
    try:
        with sqlite3.connect(data / "vigil.db") as db:
            return db.execute("select path, frames from recording_segments order by id").fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _check_whole(data: Path, rows: list[tuple[str, int]]) -> None:
    """Every indexed segment is a finished file that decodes to the frames the index says."""
    for path, frames in rows:
        assert not path.endswith(".part"), path
        assert _decoded_frames(data / path) == frames, path


def test_record_over_rtsp_kill_mid_segment_restart_export_and_search(videos: Path, tmp_path: Path):
    reason = rtsp_server_available()
    if reason:
        pytest.skip(reason)
    data = tmp_path / "data"
    log = (tmp_path / "run.log").open("w")
    with RtspServer({"yard": videos / "fall_01.mp4"}) as server:
        config = _site(tmp_path, server.url("yard"), data)
        run = [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)]
        worker = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for(lambda: len(_indexed(data)) >= 3, 120, "three recorded segments", step=0.5)
            # Mid-segment: the next one is being written (a fragmented MP4, not indexed).
            parts = wait_for(
                lambda: list(data.rglob(".*.rec.part")), 20, "a segment in progress", step=0.2
            )
            time.sleep(2.0)
            worker.send_signal(signal.SIGKILL)
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
        before = _indexed(data)
        assert all(p.name not in {Path(r).name for r, _ in before} for p in parts)
        _check_whole(data, before)
        assert len(recorded_spans_of(data)) == 1  # one unbroken span while it ran

        # The next start salvages the killed worker's segment and sweeps every temporary file.
        again = subprocess.run(
            [*run, "--for", "15"], stdout=subprocess.DEVNULL, stderr=log, timeout=180
        )
        assert again.returncode == 0
    log.close()
    stderr = (tmp_path / "run.log").read_text()
    assert "Traceback" not in stderr, stderr
    assert "1 unfinished segments salvaged" in stderr
    assert not list(data.rglob("*.part"))
    after = _indexed(data)
    _check_whole(data, after)
    assert len(after) >= len(before) + 2  # the salvaged one and the new run's
    spans = recorded_spans_of(data)
    assert len(spans) == 2  # the time the worker was dead is a gap, not filled

    store = EventStore.for_data_dir(data)
    index = RecordingIndex(store)
    try:
        # What the models saw: each fall event lies inside a person_fallen span.
        falls = search_seen(index, "yard", "person_fallen", spans[0].start, spans[-1].end)
        assert falls
        events = [e for e in store.list_events(camera="yard") if e.rule == "fall"]
        assert events
        for event in events:
            assert any(
                s.start - 0.6 <= event.start_wall and event.end_wall <= s.end + 0.6 for s in falls
            ), (event.start_wall, event.end_wall, falls)
        assert search_seen(index, "yard", "fire", spans[0].start, spans[-1].end) == []
        # Export 12 s from the middle of the first span.
        start = spans[0].start + 5.0
        result = export_range(index, data, "yard", start, start + 12, tmp_path / "out.mp4")
        assert start - 10.5 <= result.start_wall <= start  # one keyframe interval at most
        assert result.end_wall == pytest.approx(start + 12, abs=0.2)
        assert _decoded_frames(tmp_path / "out.mp4") == result.frames
    finally:
        store.dispose()


def recorded_spans_of(data: Path):
    store = EventStore.for_data_dir(data)
    try:
        return recorded_spans(RecordingIndex(store).segments("yard"))
    finally:
        store.dispose()


@pytest.fixture
def small_disk(tmp_path: Path):
    """An 8 MB tmpfs (root only), unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_retention_keeps_the_floor_on_a_full_disk_and_spares_an_open_hazard(
    videos: Path, tmp_path: Path, small_disk: Path
):
    store = EventStore(f"sqlite:///{tmp_path / 'vigil.db'}")  # the database elsewhere
    index = RecordingIndex(store)
    t0 = 1_800_000_000.0
    ring = RingBuffer(30, 64 << 20)
    writer = SegmentWriter(
        "cam", ring, small_disk, index, RecordSettings(segment_seconds=10), lambda t: t0 + t
    )
    floor = DiskFloor(min_free_gb=0.003)  # 3 MB of the 8
    policy = {"cam": RecordSettings(retain_days=30, keep_event_days=0)}
    hazard = None
    try:
        # ~16 MB of footage through an 8 MB disk, with retention every ~10 s of stream.
        for i, packet in enumerate(looped_packets(videos / "workers_helmets_01.mp4", 150)):
            ring.append(packet)
            if i % 30 == 0:
                writer.pump()
            if i % 300 == 0 and i:
                if hazard is None and index.segments("cam"):
                    first = index.segments("cam")[0]
                    hazard = Violation(
                        "cam", "no_helmet", "head_bare", "track:1", "high", 0,
                        first.start_wall + 1, 1, first.start_wall + 3, 0.9, 0, (0, 0, 1, 1),
                    )  # fmt: skip
                    with store.unit_of_work() as w:
                        w.opened(hazard)  # status new: an open hazard
                report = enforce_retention(index, small_disk, policy, floor, now=t0 + 200)
                assert not report.below_floor, report
        writer.close()
        report = enforce_retention(index, small_disk, policy, floor, now=t0 + 200)
        usage = os.statvfs(small_disk)
        assert usage.f_bavail * usage.f_frsize >= floor.bytes_for(8 << 20)
        deletions = index.deletions("cam")
        assert len(deletions) >= 3 and {d.reason for d in deletions} == {"disk"}
        left = index.segments("cam")
        assert hazard is not None
        assert left[0].start_wall <= hazard.start_wall < left[0].end_wall  # the hazard's media
        assert (small_disk / left[0].path).exists()
        # Oldest first: everything deleted is older than what is left, bar the hazard's.
        assert max(d.start_wall for d in deletions) < left[1].start_wall
        on_disk = {p.relative_to(small_disk).as_posix() for p in small_disk.rglob("*.mp4")}
        assert on_disk == {s.path for s in left}
    finally:
        store.dispose()
