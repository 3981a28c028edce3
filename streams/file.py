"""Recorded video files: probe, then read every frame in order with its presentation time.

>>> from pathlib import Path
>>> try:
...     probe_video(Path("missing.mp4"))
... except SourceError as exc:
...     print(exc)
missing.mp4: no such file
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av

from vigil import VigilError
from vigil.streams.frame import Frame

# A file whose data (its last frame, that frame's own duration included) ends this far short of
# its declared duration is truncated.
TRUNCATION_TOLERANCE_S = 1.0


class SourceError(VigilError, ValueError):
    """A source that cannot be read: the message is one line naming the source and the problem.

    A ValueError too, so that pydantic reports it under the field that holds the source.
    """


def local_url(path: Path | str) -> str:
    """What FFmpeg is given to open a local file: the ``file:`` protocol and an absolute path,
    so that a name such as ``concat:a.mp4|b.mp4`` is read as the file it names, never through
    the protocol its name spells.

    >>> local_url("/videos/concat:a.mp4|b.mp4")
    'file:/videos/concat:a.mp4|b.mp4'
    """
    return "file:" + str(Path(path).absolute())


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    duration: float
    codec: str
    start_wall: float
    last_frame_s: float = 0.0  # how long the last frame is shown (0.5 fps: 2 s)

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)


def _first_line(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc).strip()
    return (reason.splitlines() or [type(exc).__name__])[0]


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if not path.is_file():
        raise SourceError(f"{path}: not a file")
    try:
        return av.open(local_url(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable video ({_first_line(exc)})") from None


def _start_wall(container: av.container.InputContainer, path: Path) -> float:
    """When the recording started: the container's creation_time if it has one, else the file's
    modification time less its duration (a recorder closes the file when it stops)."""
    stamp = container.metadata.get("creation_time")
    if stamp:
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    duration = (container.duration or 0) / av.time_base
    return os.path.getmtime(path) - duration


def _check_complete(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    duration: float,
    period: float,
    path: Path,
) -> float:
    """Read every packet (no decoding: fast) so a truncated file fails before any analysis.

    The data ends where the last frame stops being shown: its pts plus its own duration (the
    packet's, else one frame period), which is 20 s in a 1/20 fps time-lapse. Returns that last
    frame's duration.
    """
    last, last_duration = 0.0, period
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            pts = float((packet.pts - (stream.start_time or 0)) * packet.time_base)
            if pts >= last:
                last = pts
                last_duration = float(packet.duration * packet.time_base) or period
    except av.FFmpegError as exc:
        raise SourceError(
            f"{path}: corrupt or truncated video, reading failed at {last:.1f} s "
            f"({_first_line(exc)})"
        ) from None
    end = last + last_duration
    if duration - end > TRUNCATION_TOLERANCE_S:
        raise SourceError(
            f"{path}: truncated video, data ends at {end:.1f} s "
            f"but the file declares {duration:.1f} s"
        )
    return last_duration


def probe_video(path: Path) -> VideoInfo:
    """Check that ``path`` is a video with a decodable video stream and describe it."""
    container = _open(path)
    with container:
        if not container.streams.video:
            raise SourceError(f"{path}: no video stream")
        stream = container.streams.video[0]
        if stream.codec_context.width <= 0 or stream.codec_context.height <= 0:
            raise SourceError(f"{path}: video stream has no picture size")
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        last_frame_s = _check_complete(container, stream, duration, 1.0 / fps, path)
        return VideoInfo(
            path=path,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            duration=duration,
            codec=stream.codec_context.name,
            start_wall=_start_wall(container, path),
            last_frame_s=last_frame_s,
        )


class FileSource:
    """Every frame of a video file, in order, as :class:`Frame` objects.

    Raises :class:`SourceError` when decoding breaks off or the file ends well before its
    declared duration (a truncated recording): a half-read file must not look like a whole one.

    Example:
        >>> source = FileSource(Path("fall_01.mp4"), camera="fall_01")  # doctest: +SKIP
        >>> next(iter(source)).pts  # doctest: +SKIP
        0.0
    """

    def __init__(self, path: Path, camera: str | None = None) -> None:
        self.info = probe_video(path)
        self.path = path
        self.camera = camera or path.stem

    def __iter__(self) -> Iterator[Frame]:
        last_pts = 0.0
        index = 0
        with _open(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            first_pts: float | None = None
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    pts = float(frame.pts * frame.time_base)
                    first_pts = pts if first_pts is None else first_pts
                    last_pts = pts - first_pts
                    yield Frame(
                        image=frame.to_ndarray(format="bgr24"),
                        pts=last_pts,
                        wall=self.info.start_wall + last_pts,
                        camera=self.camera,
                        index=index,
                    )
                    index += 1
            except av.FFmpegError as exc:
                raise SourceError(
                    f"{self.path}: corrupt or truncated video, decoding failed at "
                    f"{last_pts:.1f} s of {self.info.duration:.1f} s ({_first_line(exc)})"
                ) from None
        if index == 0:
            raise SourceError(f"{self.path}: no decodable frame")
        end = last_pts + self.info.last_frame_s
        if self.info.duration - end > TRUNCATION_TOLERANCE_S:
            raise SourceError(
                f"{self.path}: truncated video, frames end at {end:.1f} s "
                f"but the file declares {self.info.duration:.1f} s"
            )


class Sampler:
    """Picks the frames to analyse at ``fps`` per second of presentation time.

    >>> s = Sampler(2.0)
    >>> [s.take(t / 10) for t in range(0, 12)].count(True)
    3
    """

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self._next = 0.0

    def take(self, pts: float) -> bool:
        if pts + 1e-6 < self._next:
            return False
        self._next = max(self._next + self.interval, pts + self.interval / 2)
        return True
