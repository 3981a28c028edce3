"""Live evidence without models: clips cut from the pre-roll buffer (remuxed H.264 packets or
encoded frames) and the evidence writer's open → update → end cycle, on a real store."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from videocheck import is_faststart, probe

from vigil.events.live import LiveEvidenceWriter
from vigil.events.recording import ClipRecording
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.events.violation import LifecycleEvent, Phase, Violation
from vigil.streams.reader import CameraReader, ReaderOptions
from vigil.streams.ring import Packet, Picture
from vigil.streams.sources import parse_source


def read_all(source: str, **options) -> CameraReader:
    """Read a recorded source to its end (in order), keeping everything in the buffer."""
    reader = CameraReader(
        "cam", parse_source(source), ReaderOptions(ring_seconds=600, analysis_fps=30, **options)
    )
    reader.start()
    deadline = time.monotonic() + 60
    while not reader.exhausted and time.monotonic() < deadline:
        reader.take()
        time.sleep(0.001)
    reader.stop()
    reader.join(5)
    assert reader.finished
    return reader


@pytest.fixture(scope="module")
def fall_reader(videos: Path) -> CameraReader:
    return read_all(str(videos / "fall_01.mp4"))


def test_h264_files_fill_the_buffer_with_packets(fall_reader: CameraReader):
    items = [item for _, item in fall_reader.ring.since(-1)]
    assert all(isinstance(i, Packet) for i in items)
    assert len(items) == 272 and items[0].keyframe  # every frame of the 11.3 s file
    assert items[0].data[:4] == b"\x00\x00\x00\x01"  # Annex B, parameter sets in front
    assert fall_reader.ring.nbytes < 400_000  # the whole file: packets cost next to nothing


def test_remuxed_clip_from_the_buffer_plays(fall_reader: CameraReader, tmp_path: Path):
    rec = ClipRecording(fall_reader.ring, tmp_path / "clip.mp4", start=2.0)
    rec.stop_at(6.0)
    rec.pump()
    assert rec.complete
    clip = rec.finish()
    assert clip is not None
    codec, seconds, frames, size = probe(clip.path)
    assert (codec, size) == ("h264", (640, 360)) and is_faststart(clip.path)
    # A remux starts at a keyframe: this file has one at 0 s and one at 10.4 s.
    assert clip.start_pts == pytest.approx(0.0, abs=0.05)
    assert clip.end_pts >= 6.0 - 0.1 and seconds == pytest.approx(6.0, abs=0.3)
    assert frames == pytest.approx(6.0 * 23.98, abs=3)


def test_frames_clip_from_an_image_folder(tmp_path: Path):
    folder = tmp_path / "stills"
    folder.mkdir()
    for i in range(10):
        image = np.full((120, 160, 3), i * 20, np.uint8)
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    reader = read_all(str(folder), picture_fps=30)  # an image every 1/30 s, each kept
    items = [item for _, item in reader.ring.since(-1)]
    assert len(items) == 10 and all(isinstance(i, Picture) for i in items)
    rec = ClipRecording(reader.ring, tmp_path / "c.mp4", start=0.1, picture_fps=30)
    rec.stop_at(0.25)
    clip = rec.finish()
    assert clip is not None
    assert probe(clip.path)[0] == "h264" and clip.frames == 5  # images 3 to 7: 0.1 .. 0.233 s


def violation(start: float, end: float) -> Violation:
    return Violation(
        camera="cam",
        rule="fall",
        label="person_fallen",
        subject="track:1",
        severity="critical",
        start_pts=start,
        start_wall=1_760_000_000.0 + start,
        end_pts=start,
        end_wall=1_760_000_000.0 + start,
        peak_confidence=0.7,
        peak_pts=start,
        bbox=(10.0, 10.0, 100.0, 100.0),
        track_id=1,
        peak_image=np.zeros((360, 640, 3), np.uint8),
    )


def test_writer_stores_open_update_end_with_clip(fall_reader: CameraReader, tmp_path: Path):
    store = EventStore.for_data_dir(tmp_path)
    writer = LiveEvidenceWriter(store, tmp_path, update_interval=0.0)
    writer.add_camera("cam", fall_reader.ring, source="rtsp://cam", pre_seconds=1, post_seconds=1)
    writer.start()
    v = violation(4.0, 4.0)
    writer.submit("cam", [LifecycleEvent(Phase.OPENED, v)])
    deadline = time.monotonic() + 10
    while store.get_event(v.id) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    opened = store.get_event(v.id)
    assert opened is not None and opened.state is LifecycleState.OPEN  # stored at once

    v.end_pts, v.peak_confidence = 6.0, 0.9
    writer.submit("cam", [LifecycleEvent(Phase.UPDATED, v)])
    v.end_pts = 7.0
    v.ended = True
    writer.submit("cam", [LifecycleEvent(Phase.ENDED, v)])
    writer.close(timeout=30)
    event = store.get_event(v.id)
    assert event.state is LifecycleState.ENDED and event.peak_confidence == 0.9
    assert event.snapshot_path.exists() and event.clip_path.exists()
    assert event.clip_start_pts <= 4.0 - 1 and event.clip_end_pts >= 7.0 + 1 - 0.1
    assert probe(event.clip_path)[0] == "h264"
    store.dispose()


def test_a_looped_file_plays_at_its_own_pace(videos: Path):
    # Every frame decoded (analysed at 2 fps, non-reference frames would be skipped: about
    # half of them, see test_live_parts).
    options = ReaderOptions(skip_nonref=0)
    source = parse_source(str(videos / "fall_01.mp4"), loop=True)
    reader = CameraReader("replay", source, options)
    reader.start()
    time.sleep(1.5)
    frame = reader.take()
    reader.stop()
    reader.join(5)
    # ~24 fps in real time from the first frame on: no burst, no lag, the newest frame wins.
    assert frame is not None and 1.2 <= frame.pts <= 1.6
    assert 28 <= frame.index <= 40
