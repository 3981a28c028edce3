"""Evidence files: annotated snapshots, H.264 clips cut from real video, atomic writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from videocheck import is_faststart, probe

from vigil.events.evidence import ClipEncoder, EvidenceError, cut_clip, media_paths, write_snapshot
from vigil.events.violation import Violation

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FALL_VIDEO = SHARED / "data" / "videos" / "fall_01.mp4"


def violation(**changes: object) -> Violation:
    fields: dict[str, object] = dict(
        camera="cam-3",
        rule="fall",
        label="person_fallen",
        subject="track:4",
        severity="high",
        start_pts=2.0,
        start_wall=1_760_000_000.0,  # 2025-10-09 08:53:20 UTC
        end_pts=6.0,
        end_wall=1_760_000_004.0,
        peak_confidence=0.87,
        peak_pts=3.0,
        bbox=(40.0, 30.0, 200.0, 180.0),
        track_id=4,
    )
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_media_paths_by_camera_and_utc_day(tmp_path: Path) -> None:
    v = violation(id="abc123")
    jpg, mp4 = media_paths(tmp_path, v)
    assert jpg == tmp_path / "media" / "cam-3" / "2025-10-09" / "abc123.jpg"
    assert mp4 == jpg.with_suffix(".mp4")
    jpg, _ = media_paths(tmp_path, violation(camera="../etc/passwd"))
    assert jpg.parent.parent.parent == tmp_path / "media"


def test_snapshot_is_a_jpeg_of_the_frame_size(tmp_path: Path) -> None:
    frame = np.full((240, 320, 3), 90, dtype=np.uint8)
    original = frame.copy()
    out = tmp_path / "a" / "b" / "snap.jpg"
    assert write_snapshot(frame, violation(), out) == out
    data = out.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == frame.shape
    assert not np.array_equal(image, original)  # the box and label were drawn
    assert np.array_equal(frame, original)  # on a copy
    assert leftovers(out.parent) == []


def test_snapshot_rejects_a_non_image(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="BGR"):
        write_snapshot(np.zeros((10, 10)), violation(), tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []


def test_clip_encoder_synthetic_frames(tmp_path: Path) -> None:
    out = tmp_path / "clips" / "synthetic.mp4"
    rng = np.random.default_rng(0)
    with ClipEncoder(out, fps=10) as enc:
        for i in range(10):
            assert enc.write(rng.integers(0, 255, (49, 65, 3), dtype=np.uint8), 5.0 + i / 10)
        assert not enc.write(np.zeros((49, 65, 3), np.uint8), 5.5)  # pts going back: dropped
    info = enc.info
    assert info is not None and info.path == out and info.frames == 10
    assert info.start_pts == 5.0 and info.end_pts == pytest.approx(6.0)
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    codec, duration, frames, size = probe(out)
    assert (codec, frames, size) == ("h264", 10, (64, 48))  # odd sizes cropped to even
    assert duration == pytest.approx(1.0, abs=0.05)
    assert leftovers(out.parent) == []


def test_clip_encoder_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError), ClipEncoder(out, fps=10) as enc:
        enc.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        raise RuntimeError("camera went away")
    with pytest.raises(EvidenceError, match="no frames"), ClipEncoder(out, fps=10):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not FALL_VIDEO.is_file(), reason=f"sample video absent: {FALL_VIDEO}")
def test_cut_clip_from_real_video(tmp_path: Path) -> None:
    out = tmp_path / "media" / "clip.mp4"
    info = cut_clip(FALL_VIDEO, 2.0, 6.0, out)
    assert info.path == out and info.frames > 0
    assert info.start_pts == pytest.approx(2.0, abs=0.1)
    assert info.end_pts - info.start_pts == pytest.approx(4.0, abs=0.2)
    codec, duration, frames, _ = probe(out)
    assert codec == "h264" and frames == info.frames
    assert duration == pytest.approx(4.0, abs=0.2)
    assert is_faststart(out)
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert leftovers(out.parent) == []


def test_cut_clip_rejects_non_video_and_keeps_old_output(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    out = tmp_path / "out" / "clip.mp4"
    out.parent.mkdir()
    out.write_bytes(b"previous clip")
    for source in (fake, tmp_path / "missing.mp4"):
        with pytest.raises(EvidenceError) as err:
            cut_clip(source, 0.0, 1.0, out)
        assert str(source) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(EvidenceError, match="window"):
        cut_clip(fake, 3.0, 1.0, out)
    assert out.read_bytes() == b"previous clip"
    assert leftovers(out.parent) == []


@pytest.mark.skipif(not FALL_VIDEO.is_file(), reason=f"sample video absent: {FALL_VIDEO}")
def test_cut_clip_past_the_end_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(EvidenceError, match="no frames"):
        cut_clip(FALL_VIDEO, 3600.0, 3610.0, out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not FALL_VIDEO.is_file(), reason=f"sample video absent: {FALL_VIDEO}")
def test_cut_clip_rejects_truncated_video(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(FALL_VIDEO.read_bytes()[:1000])
    out = tmp_path / "clip.mp4"
    with pytest.raises(EvidenceError, match="cannot read video"):
        cut_clip(truncated, 0.0, 2.0, out)
    assert not out.exists() and leftovers(tmp_path) == []
