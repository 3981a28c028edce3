"""Recorded files as they are: low frame rates are whole files, truncated ones are not, and a
file's name is never read as an FFmpeg protocol (issue 12, findings 6 and 8)."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest
from videomake import write_video

from vigil.events.evidence import cut_clip
from vigil.streams.file import FileSource, SourceError, probe_video
from vigil.streams.reader import CameraReader, ReaderOptions
from vigil.streams.sources import parse_source


def truncate(path: Path, out: Path) -> Path:
    """``path`` cut in the middle of its media data (its index, up front, still declares the
    whole duration): what a recorder killed mid-write or a broken copy leaves."""
    data = path.read_bytes()
    mdat = data.find(b"mdat")
    out.write_bytes(data[: mdat + (len(data) - mdat) // 2])
    return out


@pytest.mark.parametrize(
    ("rate", "frames", "seconds"),
    [(Fraction(1, 2), 10, 20.0), (Fraction(1, 20), 4, 80.0), (Fraction(25), 50, 2.0)],
    ids=["0.5fps", "1/20fps", "25fps"],
)
def test_whole_files_at_any_frame_rate_are_read_whole(
    tmp_path: Path, rate: Fraction, frames: int, seconds: float
):
    video = write_video(tmp_path / "lapse.mp4", rate, frames)
    info = probe_video(video)
    assert info.duration == pytest.approx(seconds)
    assert info.last_frame_s == pytest.approx(1 / rate)
    pts = [frame.pts for frame in FileSource(video)]
    assert len(pts) == frames
    assert pts[-1] == pytest.approx(seconds - 1 / rate)


@pytest.mark.parametrize(
    ("rate", "frames"), [(Fraction(1, 2), 30), (Fraction(1, 20), 6), (Fraction(25), 100)]
)
def test_truncated_files_still_fail_whatever_their_frame_rate(
    tmp_path: Path, rate: Fraction, frames: int
):
    whole = write_video(tmp_path / "whole.mp4", rate, frames, faststart=True)
    cut = truncate(whole, tmp_path / "cut.mp4")
    with pytest.raises(SourceError, match=r"cut\.mp4: (corrupt or )?truncated video"):
        probe_video(cut)


@pytest.fixture
def concat_named(tmp_path: Path) -> Path:
    """A 3-frame file named ``concat:a.mp4|b.mp4`` beside two 10-frame files a.mp4 and b.mp4:
    opened through FFmpeg's concat protocol, it would read as a.mp4 then b.mp4."""
    write_video(tmp_path / "a.mp4", 10, 10)
    write_video(tmp_path / "b.mp4", 10, 10)
    return write_video(tmp_path / "concat:a.mp4|b.mp4", 10, 3, size=(32, 24))


def test_a_file_named_like_a_protocol_is_read_as_that_file(
    concat_named: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(concat_named.parent)  # where the protocol would find a.mp4 and b.mp4
    relative = Path(concat_named.name)
    info = probe_video(relative)
    assert (info.width, info.height, info.duration) == (32, 24, pytest.approx(0.3))
    assert len(list(FileSource(relative))) == 3


def test_clips_are_cut_from_the_named_file(
    concat_named: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(concat_named.parent)
    clip = cut_clip(Path(concat_named.name), 0.0, 5.0, tmp_path / "clip.mp4")
    assert clip.frames == 3


def test_a_camera_reading_a_file_named_like_a_protocol_reads_that_file(
    concat_named: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(concat_named.parent)
    spec = parse_source(concat_named.name)
    assert spec.kind == "file"
    reader = CameraReader("cam", spec, ReaderOptions(analysis_fps=30, ring_seconds=600))
    reader.start()
    frames = []
    deadline = time.monotonic() + 30
    while not reader.exhausted and time.monotonic() < deadline:
        frame = reader.take()
        if frame is not None:
            frames.append(frame)
        time.sleep(0.001)
    reader.stop()
    reader.join(5)
    assert len(frames) == 3 and frames[0].shape == (24, 32)
    assert spec.ffmpeg_url == f"file:{concat_named}"
