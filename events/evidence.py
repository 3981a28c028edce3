"""Evidence for an event: an annotated JPEG snapshot and a browser-playable H.264 clip.

Files are written atomically (a temporary name in the same folder, then ``os.replace``), so a
crash or a bad source never leaves a half-written snapshot or clip under the final name. Live
clips are recorded as fragmented MP4 (``.rec.part``) that stays readable up to its last second
if the worker is killed: :func:`salvage_clip` turns what it holds into the clip.

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
    """Where an event's evidence lies; what ``EventWriter.ended`` stores. ``note`` says what is
    missing or partial, and why (a clip salvaged after a crash, a snapshot that was never
    written)."""

    snapshot_path: Path | None
    clip_path: Path | None
    clip_sha256: str | None
    clip_start_pts: float | None
    clip_end_pts: float | None
    note: str | None = None


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
    return event_media_paths(data_dir, violation.camera, violation.id, violation.start_wall)


def event_media_paths(
    data_dir: Path, camera: str, event_id: str, start_wall: float
) -> tuple[Path, Path]:
    """:func:`media_paths` from an event's camera, id and start (epoch seconds)."""
    day = datetime.fromtimestamp(start_wall, tz=UTC).date().isoformat()
    folder = camera_media_dir(data_dir, camera) / day
    name = _safe_name(event_id)
    return folder / f"{name}.jpg", folder / f"{name}.mp4"


def camera_media_dir(data_dir: Path, camera: str) -> Path:
    """The folder of one camera's media: ``<data_dir>/media/<camera>``."""
    return Path(data_dir) / "media" / _safe_name(camera)


PART_SUFFIX = ".part"  # every temporary file of evidence; none outlives its writer
RECORDING_SUFFIX = ".rec.part"  # a live clip being recorded (fragmented MP4, salvageable)


def recordings_of(clip: Path) -> list[Path]:
    """The unfinished recordings of the clip ``clip``, newest first."""
    found = clip.parent.glob(f".{clip.name}.*{RECORDING_SUFFIX}") if clip.parent.is_dir() else []
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _temp_beside(path: Path, suffix: str = PART_SUFFIX) -> Path:
    """A new empty file in ``path``'s folder (created), to be renamed onto ``path`` later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
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
    return _write_jpeg(scene, path, 90)


def _write_jpeg(image: np.ndarray, path: Path, quality: int) -> Path:
    """``image`` (BGR) as a JPEG at ``path``, whole or not at all."""
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise EvidenceError(f"could not encode a JPEG of shape {image.shape}")
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        tmp.write_bytes(jpeg.tobytes())
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def latest_frame_path(data_dir: Path, camera: str) -> Path:
    """Where a worker keeps a camera's newest frame: ``media/<camera>/latest.jpg``."""
    return camera_media_dir(data_dir, camera) / "latest.jpg"


def write_latest_frame(image: np.ndarray, data_dir: Path, camera: str) -> Path:
    """Keep ``image`` (BGR, unannotated) as the camera's newest frame (zones are drawn on it)."""
    _check_image(image)
    return _write_jpeg(image, latest_frame_path(data_dir, camera), 85)


# --- clip --------------------------------------------------------------------------------------

_TIME_BASE = Fraction(1, 90_000)  # the MPEG clock: fine enough for any camera's pts


# The moov box first so browsers play before the whole file is there.
_FASTSTART = {"movflags": "+faststart"}
# A fragment a second, each handed to the OS at once: a killed worker leaves a file that is
# readable up to its last second.
_FRAGMENTED = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",
    "flush_packets": "1",
}
_ORIGIN_TAG = "vigil-origin="  # in the MP4 comment: the camera time of the clip's first frame


class AtomicMp4:
    """A faststart MP4 written to a temp file beside ``out``; only a complete file gets the name
    ``out`` (:meth:`_close_and_commit`), and :meth:`abort` leaves nothing behind.

    With ``recoverable``, the temp file (``.<name>.*.rec.part``) is a fragmented MP4 that a
    killed process leaves readable (see :func:`salvage_clip`); it is remuxed into the faststart
    ``out`` when the clip is complete. The shared file handling of :class:`ClipEncoder` and the
    live remuxer's clips.
    """

    def __init__(self, out: Path, *, recoverable: bool = False) -> None:
        self.out = Path(out)
        self.recoverable = recoverable
        self._tmp = _temp_beside(self.out, RECORDING_SUFFIX if recoverable else PART_SUFFIX)
        options = _FRAGMENTED if recoverable else _FASTSTART
        try:
            self._container = av.open(str(self._tmp), "w", format="mp4", options=options)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        self._closed = False

    def _set_origin(self, t: float) -> None:
        """Record that the clip's first frame shows camera time ``t`` (call it before the first
        packet), so a clip salvaged after a crash still lines up with the event's timeline."""
        self._container.metadata["comment"] = f"{_ORIGIN_TAG}{t!r}"

    def _flush(self) -> None:
        """Write what is still buffered before the file is closed (an encoder's delayed frames)."""

    def _close_and_commit(self) -> None:
        """Flush, close the file and move it to ``out``; on any failure abort and re-raise."""
        try:
            self._flush()
            self._container.close()
            self._closed = True
            if self.recoverable:
                _remux(self._tmp, self.out)
                self._tmp.unlink()
            else:
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


@dataclass(frozen=True)
class _Packets:
    """What was read of a clip's video packets: how many, first and last pts (clip seconds)."""

    frames: int
    first: float
    last: float


@contextlib.contextmanager
def _open_clip(
    path: Path,
) -> Iterator[tuple[av.container.InputContainer, av.VideoStream, float | None]]:
    """An MP4's container, video stream and origin (the camera time of its first frame; None
    when the file does not say). Errors opening it become :class:`EvidenceError`."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise EvidenceError(f"cannot read {path.name}: {_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise EvidenceError(f"no video stream in {path.name}")
        comment = container.metadata.get("comment", "")
        origin = float(comment[len(_ORIGIN_TAG) :]) if comment.startswith(_ORIGIN_TAG) else None
        yield container, container.streams.video[0], origin


def _readable_packets(
    container: av.container.InputContainer, stream: av.VideoStream
) -> Iterator[av.Packet]:
    """The stream's packets from its first keyframe up to where the file is cut or torn."""
    started = False
    try:
        for packet in container.demux(stream):
            if packet.dts is None or packet.pts is None or packet.is_corrupt:
                continue  # the demuxer's end-of-stream marker, or a torn last packet
            started = started or packet.is_keyframe
            if started:
                yield packet
    except (av.error.FFmpegError, OSError):
        return  # the file was cut short: keep what came before the cut


def _remux(source: Path, out: Path) -> _Packets:
    """Copy the readable video packets of ``source`` (an MP4, whole or cut short) into a
    faststart MP4 at ``out``, atomically. Raises :class:`EvidenceError` when there are none."""
    with _open_clip(source) as (src, stream, _):
        tmp = _temp_beside(out)
        try:
            with av.open(str(tmp), "w", format="mp4", options=_FASTSTART) as dst:
                if "comment" in src.metadata:
                    dst.metadata["comment"] = src.metadata["comment"]
                target = dst.add_stream_from_template(stream)
                times: list[float] = []
                shift = (
                    None  # the first frame plays at 0, whatever shift the recording's muxer made
                )
                for packet in _readable_packets(src, stream):
                    shift = packet.pts if shift is None else shift
                    times.append(float(packet.pts * stream.time_base))
                    packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
                    packet.stream = target
                    dst.mux(packet)
            if not times:
                raise EvidenceError(f"no readable frames in {source.name}")
            _commit(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return _Packets(len(times), min(times), max(times))


def salvage_clip(recording: Path, out: Path) -> ClipInfo:
    """The clip at ``out`` from what can be read of an unfinished recording (``.rec.part``: the
    fragmented MP4 of a killed worker); with ``recording == out``, the ClipInfo of a clip that
    was finished but never stored.

    Times are camera times: the recording carries the camera time of its first frame (muxers
    may shift the stored timestamps, so only their differences are used). Raises
    :class:`EvidenceError` when nothing in it can be read; ``out`` is then left as it was.

    >>> salvage_clip(Path(".ab12.mp4.x1y2.rec.part"), Path("ab12.mp4")).frames  # doctest: +SKIP
    57
    """
    recording, out = Path(recording), Path(out)
    if recording != out:
        _remux(recording, out)
    with _open_clip(out) as (container, stream, origin):
        times = [float(p.pts * stream.time_base) for p in _readable_packets(container, stream)]
    if not times:
        raise EvidenceError(f"no readable frames in {out.name}")
    first, last = min(times), max(times)
    period = (last - first) / (len(times) - 1) if len(times) > 1 else 0.0
    start = first if origin is None else origin
    return ClipInfo(
        path=out,
        sha256=sha256_file(out),
        start_pts=start,
        end_pts=start + last - first + period,
        frames=len(times),
    )


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
        self,
        out: Path,
        fps: float | Fraction,
        *,
        crf: int = 23,
        preset: str = "veryfast",
        recoverable: bool = False,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = Fraction(fps).limit_denominator(1001)
        self.info: ClipInfo | None = None
        self._options = {"preset": preset, "crf": str(crf)}
        super().__init__(out, recoverable=recoverable)
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
        if self._first_pts is None:
            self._set_origin(pts)
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
