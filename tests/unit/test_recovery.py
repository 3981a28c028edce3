"""Start-up recovery of a killed worker's events (issue 12, finding 5), without models: the
clip is salvaged from the unfinished recording a live clip leaves on disk, the snapshot kept,
stale temporary files swept, and a dead worker's journal replayed before anything is ended.

The recordings are real (fall_01.mp4's H.264 packets through the pre-roll buffer, and frames
through the encoder), left unfinished as a SIGKILL leaves them; the real kill of a `vigil run`
is in tests/integration/test_store_faults.py."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from videocheck import is_faststart, probe

from vigil.events.evidence import (
    ClipEncoder,
    Evidence,
    media_paths,
    recordings_of,
    salvage_clip,
    sha256_file,
    write_snapshot,
)
from vigil.events.recording import ClipRecording
from vigil.events.recovery import recover
from vigil.events.store.changes import Change
from vigil.events.store.journal import JOURNAL_DIR, Journal
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.events.violation import Violation
from vigil.streams.reader import CameraReader, ReaderOptions
from vigil.streams.ring import RingBuffer
from vigil.streams.sources import parse_source


@pytest.fixture(scope="module")
def fall_packets(videos: Path) -> list:
    """Every packet of fall_01.mp4 (11.3 s, keyframes at 0 and 10.4 s) as the reader buffers
    them."""
    reader = CameraReader(
        "cam",
        parse_source(str(videos / "fall_01.mp4")),
        ReaderOptions(ring_seconds=600, analysis_fps=30),
    )
    reader.start()
    deadline = time.monotonic() + 60
    while not reader.exhausted and time.monotonic() < deadline:
        reader.take()
        time.sleep(0.001)
    reader.stop()
    reader.join(5)
    return [item for _, item in reader.ring.since(-1)]


def violation(start: float) -> Violation:
    return Violation(
        camera="dock",
        rule="fall",
        label="person_fallen",
        subject="track:1",
        severity="critical",
        start_pts=start,
        start_wall=1_760_000_000.0 + start,
        end_pts=start + 1,
        end_wall=1_760_000_001.0 + start,
        peak_confidence=0.7,
        peak_pts=start,
        bbox=(10.0, 10.0, 100.0, 100.0),
        track_id=1,
        peak_image=np.zeros((360, 640, 3), np.uint8),
    )


def opened(store: EventStore, v: Violation) -> None:
    with store.unit_of_work() as writer:
        writer.opened(v, source="rtsp://dock")


def unfinished_recording(packets: list, data_dir: Path, v: Violation, until: float):
    """A live clip of ``v`` recorded up to camera time ``until`` and never finished."""
    ring = RingBuffer(600, 1 << 26)
    for packet in packets:
        if packet.t < until:
            ring.append(packet)
    recording = ClipRecording(ring, media_paths(data_dir, v)[1], start=v.start_pts - 2)
    recording.pump()
    return recording


def test_an_abandoned_event_ends_with_its_salvaged_clip_and_snapshot(
    fall_packets: list, tmp_path: Path
):
    store = EventStore.for_data_dir(tmp_path)
    v = violation(3.0)
    opened(store, v)
    snapshot, clip_path = media_paths(tmp_path, v)
    write_snapshot(v.peak_image, v, snapshot)  # the writer saves one when the event opens
    recording = unfinished_recording(fall_packets, tmp_path, v, until=8.0)
    (part,) = recordings_of(clip_path)
    assert part.stat().st_size > 0 and not clip_path.exists()
    stale = clip_path.parent / ".other.jpg.x1y2.part"
    stale.write_bytes(b"half a jpeg")

    report = recover(store, tmp_path, ["dock"])  # the worker was killed: a new one starts

    assert (report.ended, report.salvaged, report.swept) == (1, 1, 2)
    event = store.get_event(v.id)
    assert event.state is LifecycleState.ENDED and event.snapshot_path == snapshot
    assert event.clip_path == clip_path and event.clip_sha256 == sha256_file(clip_path)
    codec, seconds, frames, _ = probe(clip_path)
    assert codec == "h264" and is_faststart(clip_path)
    # Recorded up to 8 s from the keyframe at 0 s; at most the last fragment (1 s) is lost.
    assert 6.5 <= seconds <= 8.1 and frames >= 6.5 * 23.9
    assert event.clip_start_pts == pytest.approx(0.0, abs=0.05)  # camera time, as recorded
    assert 6.5 <= event.clip_end_pts <= 8.1
    assert "salvaged" in event.evidence_note and "stopped before it ended" in event.evidence_note
    assert not list(clip_path.parent.glob(".*.part"))
    recording.abort()
    store.dispose()


def test_an_abandoned_event_without_evidence_says_what_is_missing(tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    v = violation(3.0)
    opened(store, v)
    report = recover(store, tmp_path, ["dock", "other"])
    assert (report.ended, report.salvaged) == (1, 0)
    event = store.get_event(v.id)
    assert event.state is LifecycleState.ENDED
    assert event.clip_path is None and event.snapshot_path is None
    assert "clip missing: no recording found" in event.evidence_note
    assert "snapshot missing" in event.evidence_note
    assert recover(store, tmp_path, ["dock"]).ended == 0  # nothing open any more
    store.dispose()


def test_a_clip_finished_but_never_stored_is_attached(fall_packets: list, tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    v = violation(3.0)
    opened(store, v)
    recording = unfinished_recording(fall_packets, tmp_path, v, until=8.0)
    recording.stop_at(7.0)
    clip = recording.finish()  # killed after the clip, before the row was ended
    recover(store, tmp_path, ["dock"])
    event = store.get_event(v.id)
    assert event.clip_sha256 == clip.sha256 and "finished before the stop" in event.evidence_note
    assert event.clip_start_pts == pytest.approx(clip.start_pts, abs=1e-3)
    assert event.clip_end_pts == pytest.approx(clip.end_pts, abs=0.05)
    store.dispose()


def test_an_encoded_recording_is_salvaged_too(tmp_path: Path):
    """Sources that are not H.264 are recorded by encoding frames: as recoverable."""
    out = tmp_path / "clip.mp4"
    encoder = ClipEncoder(out, fps=10, recoverable=True)
    for i in range(40):  # 4 s from camera time 100
        encoder.write(np.full((120, 160, 3), i * 5, np.uint8), 100 + i / 10)
    (part,) = recordings_of(out)
    clip = salvage_clip(part, out)
    assert clip.start_pts == pytest.approx(100.0) and 102.0 <= clip.end_pts <= 104.1
    assert probe(out)[2] == clip.frames >= 20
    encoder.abort()


def test_a_dead_workers_journal_is_replayed_before_open_events_are_ended(tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    v = violation(3.0)
    opened(store, v)
    journal = Journal(tmp_path / JOURNAL_DIR / "dead.jsonl")  # its end never reached the store
    evidence = Evidence(tmp_path / "x.jpg", tmp_path / "x.mp4", "ab" * 32, 1.0, 9.0)
    journal.append(Change.ended(v, evidence, "rtsp://dock").to_json())
    journal._file.close()  # the worker dies holding it
    report = recover(store, tmp_path, ["dock"])
    assert (report.replayed, report.ended) == (1, 0)
    event = store.get_event(v.id)
    assert event.state is LifecycleState.ENDED and event.clip_sha256 == "ab" * 32
    assert event.evidence_note is None
    assert not journal.path.exists()
    store.dispose()
