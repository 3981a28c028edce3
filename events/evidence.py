"""Evidence for an event: an annotated JPEG snapshot and a browser-playable H.264 clip.

Files are written atomically (a temporary name in the same folder, then ``os.replace``), so a
crash or a bad source never leaves a half-written snapshot or clip under the final name.

Example::

    jpg, mp4 = media_paths(data_dir, violation)
    write_snapshot(violation.peak_image, violation, jpg)
    clip = cut_clip(Path("cam3.mp4"), violation.start_pts - 5, violation.end_pts + 5, mp4)
    Evidence(jpg, clip.path, clip.sha256, clip.start_pts, clip.end_pts)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
import supervision as sv

from vigil import VigilError
from vigil.events.violation import Violation
from vigil.streams.file import local_url


class EvidenceError(VigilError, ValueError):
    """Evidence could not be made (unreadable source, empty clip window, bad image)."""


@dataclass(frozen=True)
class Evidence:
    """Where an event's evidence lies; what ``EventWriter.ended`` stores."""

    snapshot_path: Path
    clip_path: Path | None
    clip_sha256: str | None
    clip_start_pts: float | None
    clip_end_pts: float | None


@dataclass(frozen=True)
class ClipInfo:
    """A written clip. ``start_pts``/``end_pts`` are source times: the first frame's pts and
    the end of the last frame (its pts plus one frame period), so ``end - start`` is the clip's
    duration and a source time ``t`` plays at ``t - start_pts`` in the clip."""

    path: Path
    sha256: str
    start_pts: float
    end_pts: float
    frames: int


# --- paths -------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_name(value: str) -> str:
    name = _UNSAFE.sub("_", value).strip(".")
    return name or "_"


def media_paths(data_dir: Path, violation: Violation) -> tuple[Path, Path]:
    """The snapshot and clip paths of a violation: ``media/<camera>/<UTC date>/<id>.{jpg,mp4}``.

    The date is the UTC date of ``start_wall``; camera and id are reduced to safe file names.

    >>> v = Violation("cam 3", "fall", "person_fallen", "track:1", "high", 0, 0, 0, 0, .9, 0,
    ...               (0, 0, 1, 1), id="ab12")
    >>> [p.as_posix() for p in media_paths(Path("d"), v)]
    ['d/media/cam_3/1970-01-01/ab12.jpg', 'd/media/cam_3/1970-01-01/ab12.mp4']
    """
    day = datetime.fromtimestamp(violation.start_wall, tz=UTC).date().isoformat()
    folder = Path(data_dir) / "media" / _safe_name(violation.camera) / day
    name = _safe_name(violation.id)
    return folder / f"{name}.jpg", folder / f"{name}.mp4"


def _temp_beside(path: Path) -> Path:
    """A new empty file in ``path``'s folder (created), to be renamed onto ``path`` later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    return Path(name)


def _commit(tmp: Path, path: Path) -> None:
    """Make ``tmp`` durable, then atomically give it the name ``path``."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- snapshot ----------------------------------------------------------------------------------


def _check_image(image: np.ndarray) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
        raise EvidenceError(f"expected a BGR image of shape (h, w, 3), got {_shape(image)}")


def _shape(image: object) -> str:
    return str(getattr(image, "shape", type(image).__name__))


def write_snapshot(image: np.ndarray, violation: Violation, path: Path) -> Path:
    """Write ``image`` (BGR) as a JPEG with the violation's box and "rule label conf" drawn.

    The input image is not modified. Returns ``path``.
    """
    _check_image(image)
    scene = np.ascontiguousarray(image, dtype=np.uint8).copy()
    detections = sv.Detections(
        xyxy=np.array([violation.bbox], dtype=np.float32),
        confidence=np.array([violation.peak_confidence], dtype=np.float32),
        class_id=np.array([0]),
    )
    wh = (scene.shape[1], scene.shape[0])
    thickness = sv.calculate_optimal_line_thickness(resolution_wh=wh)
    scene = sv.BoxAnnotator(color=sv.Color.RED, thickness=thickness).annotate(scene, detections)
    scene = sv.LabelAnnotator(
        color=sv.Color.RED,
        text_scale=sv.calculate_optimal_text_scale(resolution_wh=wh),
        text_thickness=thickness,
        smart_position=True,
    ).annotate(
        scene,
        detections,
        labels=[f"{violation.rule} {violation.label} {violation.peak_confidence:.2f}"],
    )
    ok, jpeg = cv2.imencode(".jpg", scene, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise EvidenceError(f"could not encode a JPEG of shape {scene.shape}")
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        tmp.write_bytes(jpeg.tobytes())
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --- clip --------------------------------------------------------------------------------------

_TIME_BASE = Fraction(1, 90_000)  # the MPEG clock: fine enough for any camera's pts


class AtomicMp4:
    """A faststart MP4 written to a temp file beside ``out``; only a complete file gets the name
    ``out`` (:meth:`_close_and_commit`), and :meth:`abort` leaves nothing behind.

    The shared file handling of :class:`ClipEncoder` and the live remuxer's clips.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self._tmp = _temp_beside(self.out)
        try:
            self._container = av.open(
                str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"}
            )
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self._closed = False

    def _flush(self) -> None:
        """Write what is still buffered before the file is closed (an encoder's delayed frames)."""

    def _close_and_commit(self) -> None:
        """Flush, close the file and move it to ``out``; on any failure abort and re-raise."""
        try:
            self._flush()
            self._container.close()
            self._closed = True
            _commit(self._tmp, self.out)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written so far; ``out`` is left as it was."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # a broken half-file is deleted anyway
                self._container.close()
        self._tmp.unlink(missing_ok=True)


class ClipEncoder(AtomicMp4):
    """Encodes frames with their pts (seconds) into an H.264 MP4 that browsers play.

    libx264, yuv420p, ``preset=veryfast``, ``crf=23``, ``movflags=+faststart`` (the index before
    the data). The clip starts at 0 at the first frame; later frames keep their spacing, so gaps
    stay gaps. Frames whose pts does not increase are dropped. Odd widths or heights lose their
    last column or row (yuv420p needs even sizes; box coordinates stay valid).

    The file appears under ``out`` only when :meth:`finish` succeeds; until then it is a hidden
    temporary file beside it, removed by :meth:`abort`. As a context manager it finishes on a
    normal exit and aborts on an exception.

    >>> with ClipEncoder(Path("/tmp/c.mp4"), fps=25) as enc:      # doctest: +SKIP
    ...     for i, img in enumerate(images):                      # BGR arrays
    ...         enc.write(img, i / 25)
    >>> enc.info.sha256                                           # doctest: +SKIP
    """

    def __init__(
        self, out: Path, fps: float | Fraction, *, crf: int = 23, preset: str = "veryfast"
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = Fraction(fps).limit_denominator(1001)
        self.info: ClipInfo | None = None
        self._options = {"preset": preset, "crf": str(crf)}
        super().__init__(out)
        self._stream: av.VideoStream | None = None
        self._size = (0, 0)
        self._first_pts: float | None = None
        self._last_ticks = -1
        self._last_pts = 0.0
        self.frames = 0

    def write(self, image: np.ndarray | av.VideoFrame, pts: float) -> bool:
        """Add one frame (a BGR array, or a decoded PyAV frame) shown at ``pts`` seconds.

        Returns False when the frame was dropped because its pts did not increase.
        """
        if self._closed:
            raise RuntimeError(f"clip {self.out} is already finished or aborted")
        first = self._first_pts if self._first_pts is not None else pts
        ticks = round((pts - first) / _TIME_BASE)
        if ticks <= self._last_ticks:
            return False
        frame = self._to_frame(image)
        frame.pts = ticks
        frame.time_base = _TIME_BASE
        frame.duration = round(1 / (self.fps * _TIME_BASE))
        for packet in self._stream_for(frame).encode(frame):
            self._container.mux(packet)
        self._first_pts = first
        self._last_ticks, self._last_pts = ticks, pts
        self.frames += 1
        return True

    def finish(self) -> ClipInfo:
        """Flush the encoder, close the file and move it to ``out``; returns what was written.

        Raises :class:`EvidenceError` (and leaves nothing) if no frame was written.
        """
        if self.info is not None:
            return self.info
        if self._stream is None or self._first_pts is None:
            self.abort()
            raise EvidenceError(f"no frames to write to {self.out}")
        self._close_and_commit()
        self.info = ClipInfo(
            path=self.out,
            sha256=sha256_file(self.out),
            start_pts=self._first_pts,
            end_pts=self._last_pts + float(1 / self.fps),
            frames=self.frames,
        )
        return self.info

    def _flush(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)

    def __enter__(self) -> ClipEncoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def _stream_for(self, frame: av.VideoFrame) -> av.VideoStream:
        if self._stream is None:
            stream = self._container.add_stream("libx264", rate=self.fps)
            stream.width, stream.height = frame.width, frame.height
            stream.pix_fmt = "yuv420p"
            stream.time_base = _TIME_BASE
            stream.codec_context.time_base = _TIME_BASE
            stream.options = self._options
            self._stream, self._size = stream, (frame.width, frame.height)
        return self._stream

    def _to_frame(self, image: np.ndarray | av.VideoFrame) -> av.VideoFrame:
        if isinstance(image, av.VideoFrame):
            if image.width % 2 == 0 and image.height % 2 == 0:
                return self._check_size(image.reformat(format="yuv420p"))
            image = image.to_ndarray(format="bgr24")
        _check_image(image)
        h, w = image.shape[0] & ~1, image.shape[1] & ~1
        if h == 0 or w == 0:
            raise EvidenceError(f"frame too small for a clip: {image.shape}")
        bgr = np.ascontiguousarray(image[:h, :w], dtype=np.uint8)
        return self._check_size(
            av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        )

    def _check_size(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self._stream is not None and (frame.width, frame.height) != self._size:
            raise EvidenceError(
                f"frame size changed mid-clip: {frame.width}x{frame.height}, "
                f"expected {self._size[0]}x{self._size[1]}"
            )
        return frame


def cut_clip(source: Path, start: float, end: float, out: Path) -> ClipInfo:
    """Re-encode the ``[start, end)`` seconds of a video file into an H.264 MP4 at ``out``.

    Times are seconds from the start of the source's video stream; ``end`` is clamped to the
    video. Decoding starts at the keyframe before ``start``; frames before it are dropped. The
    clip keeps the source's frame rate. Raises :class:`EvidenceError` for an unreadable source
    or a window with no frames; ``out`` is then left as it was.

    >>> cut_clip(Path("fall_01.mp4"), 2.0, 6.0, Path("clip.mp4")).frames   # doctest: +SKIP
    96
    """
    source, out = Path(source), Path(out)
    if not 0 <= start < end:
        raise EvidenceError(f"bad clip window [{start:g}, {end:g}) seconds for {source}")
    try:
        container = av.open(local_url(source))
    except (av.error.FFmpegError, OSError) as exc:
        raise EvidenceError(f"cannot read video {source}: {_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise EvidenceError(f"no video stream in {source}")
        stream = container.streams.video[0]
        time_base = stream.time_base or _TIME_BASE
        offset = stream.start_time or 0  # the first frame's pts, in time_base units
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        encoder = ClipEncoder(out, fps)
        try:
            for frame in _decode(container, stream, offset + int(start / time_base), source):
                t = float((frame.pts - offset) * time_base)
                if t >= end:
                    break
                if t >= start - 1e-6:
                    encoder.write(frame, t)
            if encoder.frames == 0:
                raise EvidenceError(f"no frames of {source} in [{start:g}, {end:g}) seconds")
            return encoder.finish()
        except BaseException:
            encoder.abort()
            raise


def _decode(
    container: av.container.InputContainer, stream: av.VideoStream, seek_to: int, source: Path
) -> Iterator[av.VideoFrame]:
    """Frames from the keyframe before ``seek_to`` (stream ticks) on; read errors become
    :class:`EvidenceError` (encoder errors stay what they are: they are not the source's)."""
    try:
        if seek_to > (stream.start_time or 0):
            container.seek(seek_to, stream=stream, backward=True)
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            if frame.pts is not None:
                yield frame
    except (av.error.FFmpegError, OSError) as exc:
        raise EvidenceError(f"cannot read video {source}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).splitlines()[0]
