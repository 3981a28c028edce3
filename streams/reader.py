"""Camera readers: one thread per camera that opens its source, decodes it, keeps the pre-roll
and hands frames to the analysis.

- Live sources (RTSP, HTTP, webcams, looped files) never lag: the reader decodes every frame
  (H.264 needs them all) but keeps only the newest for the analysis (:class:`LatestFrame`):
  a frame nobody took before the next one arrived is simply replaced.
- Recorded files and image folders (not looped) are read in order: every frame that the
  analysis rate samples is queued, and the reader waits while the queue is full.
- Every packet (H.264 sources) or decoded frame (others, at most ``picture_fps``) goes to the
  camera's :class:`~vigil.streams.ring.RingBuffer`, the pre-roll of event clips.
- A stream that ends, breaks or gives no frame for ``stall_seconds`` is reopened with capped
  exponential backoff and jitter (:class:`~vigil.streams.backoff.Backoff`); the hole is reported
  as a gap (``on_gap``), never filled with invented frames. A live camera is never given up.

Example::

    reader = CameraReader("gate-3", parse_source("rtsp://10.0.0.7/s1"), ReaderOptions())
    reader.start()
    frame = reader.take()        # the newest Frame, or None
    reader.stop(); reader.join()
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.bitstream
import cv2
import numpy as np

from vigil.streams.backoff import Backoff
from vigil.streams.file import Sampler, probe_video
from vigil.streams.frame import Frame
from vigil.streams.health import CameraHealth
from vigil.streams.ring import Packet, Picture, RingBuffer, StreamParams
from vigil.streams.sources import IMAGE_SUFFIXES, SourceSpec
from vigil.streams.timeline import PacketClock, Timeline
from vigil.streams.timing import StageTimer

log = logging.getLogger(__name__)

GapListener = Callable[[str, float, float, str], None]  # camera, start wall, end wall, reason
STABLE_S = 10.0  # a connection live this long resets the backoff


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """How a reader connects and what it keeps. Times in seconds."""

    analysis_fps: float = 2.0  # in-order sources: the rate frames are sampled at
    open_timeout: float = 10.0  # connecting, up to the stream's first packet
    stall_seconds: float = 5.0  # no frame for this long: the stream is stalled, reopen it
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    fail_after: int = 3  # consecutive failed attempts before the camera shows failed
    ring_seconds: float = 12.0  # pre-roll kept, counted back from a keyframe
    ring_max_bytes: int = 64 << 20
    picture_fps: float = 10.0  # decoded frames kept per second for non-H.264 clips
    queue_size: int = 2  # in-order sources: sampled frames waiting for the analysis


@dataclass(frozen=True, slots=True)
class Captured:
    """A decoded frame waiting for the analysis; converted to BGR only if it is taken."""

    picture: av.VideoFrame | np.ndarray
    t: float
    wall: float
    index: int

    def frame(self, camera: str) -> Frame:
        image = self.picture
        if isinstance(image, av.VideoFrame):
            image = image.to_ndarray(format="bgr24")
        return Frame(image=image, pts=self.t, wall=self.wall, camera=camera, index=self.index)


class LatestFrame:
    """A one-frame mailbox where the newest frame wins.

    >>> slot = LatestFrame()
    >>> slot.put("a"), slot.put("b"), slot.take(), slot.take()
    (False, True, 'b', None)
    """

    def __init__(self) -> None:
        self._item: Captured | None = None
        self._lock = threading.Lock()

    def put(self, item) -> bool:
        """Store ``item``; True when it replaced one nobody took."""
        with self._lock:
            replaced = self._item is not None
            self._item = item
            return replaced

    def take(self):
        with self._lock:
            item, self._item = self._item, None
            return item


class _Lost(Exception):
    """The stream stopped after it had given frames."""


class _Failed(Exception):
    """An attempt that gave no frame; ``permanent`` when retrying soon will not help."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class _Finished(Exception):
    """A recorded source reached its end."""


def describe_error(exc: BaseException, timeout: float | None = None) -> tuple[str, bool]:
    """A one-line reason for a failed open or read, without the URL (it may hold a password),
    and whether the failure is permanent (retrying soon will not help)."""
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return "401 Unauthorized: wrong or missing credentials", True
    if isinstance(exc, av.error.HTTPForbiddenError):
        return "403 Forbidden: these credentials may not read this stream", True
    if isinstance(exc, av.error.HTTPNotFoundError):
        return "404 Not Found: no stream at this path", True
    if isinstance(exc, av.error.InvalidDataError):
        return "not a video stream (invalid data)", True
    if isinstance(exc, av.error.ExitError):
        return (f"timed out after {timeout:g} s" if timeout else "timed out"), False
    if isinstance(exc, av.error.ConnectionRefusedError):
        return "connection refused", False
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason).splitlines()[0], False


class CameraReader:
    """Reads one camera's source on a thread of its own (see the module docstring).

    Args:
        camera: camera id.
        spec: the parsed source.
        options: timeouts, backoff, buffer sizes.
        health: updated with every state change, frame and error.
        on_gap: told of every hole in a live stream once frames flow again (or at stop).
        wakeup: set whenever a frame is ready for the analysis.
    """

    def __init__(
        self,
        camera: str,
        spec: SourceSpec,
        options: ReaderOptions | None = None,
        health: CameraHealth | None = None,
        *,
        on_gap: GapListener | None = None,
        wakeup: threading.Event | None = None,
    ) -> None:
        self.camera = camera
        self.spec = spec
        self.options = options or ReaderOptions()
        self.health = health or CameraHealth(
            camera, source=spec.display, fail_after=self.options.fail_after
        )
        self.ring = RingBuffer(self.options.ring_seconds, self.options.ring_max_bytes)
        self.timeline = Timeline(
            max_drift=10.0 if spec.live else None,
            anchor_on_clock=spec.live,
            adapt=spec.kind in ("rtsp", "http", "webcam"),
        )
        self.wall_origin = time.time() - self.timeline.now()
        self.on_gap = on_gap
        self.wakeup = wakeup
        self.finished = False  # a recorded source has been read to its end
        self._latest = LatestFrame()
        self._queue: queue.Queue[Captured] = queue.Queue(maxsize=self.options.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._index = 0
        self._last_frame = 0.0  # monotonic time of the newest decoded frame
        self._gap: tuple[float, str] | None = None  # (start wall, reason) of an open gap
        self._sampler = Sampler(self.options.analysis_fps)
        self._picture_sampler = Sampler(self.options.picture_fps)
        self._frames_this_attempt = 0
        self._live_since = 0.0  # monotonic time of this attempt's first frame
        self._last_t = float("-inf")
        self.timer: StageTimer | None = None  # `vigil bench`: decode timings

    # --- control ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or, after the thread died, restart) reading."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reader-{self.camera}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def take(self) -> Frame | None:
        """The frame for the analysis: the newest (live) or the next in order (recorded)."""
        item = self._latest.take() if self.spec.live else self._next_queued()
        if item is None:
            return None
        if self.timer is None:
            return item.frame(self.camera)
        with self.timer.time("to_bgr"):
            return item.frame(self.camera)

    @property
    def exhausted(self) -> bool:
        """A recorded source that is read to its end and whose every frame was taken."""
        return self.finished and self._queue.empty()

    def _next_queued(self) -> Captured | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(self.options.backoff_initial, self.options.backoff_max)
        while not self.stopping:
            self.health.connecting()
            self._frames_this_attempt = 0
            try:
                self._attempt()
            except _Finished:
                self.finished = True
                break
            except _Lost as exc:
                self._lost(str(exc))
            except _Failed as exc:
                if self._frames_this_attempt:
                    self._lost(str(exc))
                else:
                    self.health.failed_attempt(str(exc), permanent=exc.permanent)
            except Exception as exc:  # a bug or an odd library error: log it, never die
                log.exception("camera %s: reader error", self.camera)
                reason = f"reader error: {type(exc).__name__}: {exc}".splitlines()[0]
                if self._frames_this_attempt:
                    self._lost(reason)
                else:
                    self.health.failed_attempt(reason)
            if self.stopping:
                break
            if not self.spec.live:
                self.finished = True  # a recorded file that cannot be read will not heal
                break
            if self._frames_this_attempt and time.monotonic() - self._live_since >= STABLE_S:
                backoff.reset()  # a stream that flaps (live a second, gone) keeps backing off
            self._stop.wait(backoff.next_delay())
        self._close_gap(time.time(), "until the camera stopped")
        self.health.stopped(None if self.finished or self.stopping else "reader ended")
        if self.wakeup is not None:
            self.wakeup.set()

    def _lost(self, reason: str) -> None:
        self.health.lost(reason)
        if self._gap is None:
            last = self.health.last_frame_wall or time.time()
            self._gap = (last, reason)

    def _close_gap(self, end_wall: float, note: str | None = None) -> None:
        if self._gap is None:
            return
        start, reason = self._gap
        self._gap = None
        if self.on_gap is not None:
            self.on_gap(self.camera, start, end_wall, f"{reason} ({note})" if note else reason)

    def _attempt(self) -> None:
        if self.spec.kind == "images":
            self._read_images()
        else:
            while True:
                self._read_container()  # returns at the end of a looped file: go round
                if self.stopping:
                    return

    # --- PyAV sources -------------------------------------------------------------------------

    def _open(self) -> av.container.InputContainer:
        spec, opts = self.spec, self.options
        options: dict[str, str] = {}
        fmt = None
        if spec.kind in ("rtsp", "http"):
            # FFmpeg's default 5 s of probing cost 1.2 s per (re)connect on RTSP; 0.5 s is
            # enough to know an H.264 stream's codec and size (benchmarks/reconnect_time.py).
            options["analyzeduration"] = "500000"
        if spec.kind == "rtsp":
            options["rtsp_transport"] = spec.transport
        elif spec.kind == "webcam":
            fmt = "v4l2"
        try:
            # The read timeout makes a silent stream fail its read, so stalls are seen even
            # when no packet arrives at all. Measured on RTSP over TCP, a silent stream raises
            # after twice the read timeout (`reconnect_time.py --freeze`): hence the half.
            return av.open(
                spec.ffmpeg_url,
                format=fmt,
                options=options,
                timeout=(opts.open_timeout, opts.stall_seconds / 2),
            )
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            reason, permanent = describe_error(exc, opts.open_timeout)
            raise _Failed(reason, permanent or spec.kind == "file") from None

    def _read_container(self) -> None:
        start_wall = None
        if self.spec.kind == "file" and not self.spec.live:
            start_wall = probe_video(Path(self.spec.url)).start_wall
        container = self._open()
        with container:
            if not container.streams.video:
                raise _Failed("no video stream", permanent=True)
            stream = container.streams.video[0]
            if self.spec.kind == "file":
                stream.thread_type = "AUTO"
            period = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
            self.timeline.period = period
            self.timeline.new_segment()
            packets = _PacketRing(stream, period, self.ring, self.timeline)
            self._last_frame = time.monotonic()
            for packet in self._demux(container, stream):
                if self.stopping:
                    return
                packets.add(packet)  # reads the packet's fields before decoding moves it
                for decoded in self._decode(packet):
                    self._publish(decoded, start_wall, keep=not packets.enabled)
                if time.monotonic() - self._last_frame > self.options.stall_seconds:
                    raise _Failed(f"no frame for {self.options.stall_seconds:g} s")
        if self.spec.live and self.spec.kind != "file":
            raise _Lost("stream ended")
        if not self.spec.loop:
            raise _Finished

    def _demux(self, container, stream) -> Iterator[av.Packet]:
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.FFmpegError, OSError) as exc:
                reason, permanent = describe_error(exc, self.options.stall_seconds)
                if isinstance(exc, av.error.ExitError):
                    reason = f"no data for {self.options.stall_seconds:g} s"
                raise _Failed(reason, permanent and not self._frames_this_attempt) from None
            yield packet

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            if self.timer is None:
                return packet.decode()
            with self.timer.time("decode"):
                return packet.decode()
        except av.error.InvalidDataError:
            return []  # a damaged packet: skip it; no frame for long is caught as a stall
        except av.FFmpegError as exc:
            if not self.spec.live:  # a recorded file must not look whole when it is not
                raise _Failed(f"decoding failed: {describe_error(exc)[0]}", True) from None
            return []

    def _publish(
        self,
        picture: av.VideoFrame | np.ndarray,
        start_wall: float | None,
        keep: bool,
        stamp: float | None = None,
    ) -> None:
        """Hand one decoded frame on: health, pre-roll (``keep``), analysis."""
        if stamp is None and isinstance(picture, av.VideoFrame):
            stamp = picture.time
        t = self.timeline.t(stamp) if stamp is not None else self.timeline.unstamped()
        t = max(t, self._last_t + 1e-3)  # frames reach the analysis in increasing time
        self._last_t = t
        if self.spec.live and self.spec.kind in ("file", "images"):
            # A simulated camera plays at its own pace.
            delay = t - self.timeline.now()
            if delay > 0 and self._stop.wait(delay):
                return
        wall = (start_wall + t) if start_wall is not None else self.wall_origin + t
        self._last_frame = time.monotonic()
        if not self._frames_this_attempt:
            self._live_since = self._last_frame
        self._frames_this_attempt += 1
        self._close_gap(wall)
        self.health.frame(t, wall)
        if keep and self._picture_sampler.take(t):
            self.ring.append(Picture(picture, t, _nbytes(picture)))
        captured = Captured(picture, t, wall, self._index)
        self._index += 1
        if self.spec.live:
            replaced = self._latest.put(captured)
            if not replaced and self.wakeup is not None:
                self.wakeup.set()
        elif self._sampler.take(t):
            while not self.stopping:
                try:
                    self._queue.put(captured, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if self.wakeup is not None:
                self.wakeup.set()

    # --- image folders ------------------------------------------------------------------------

    def _read_images(self) -> None:
        paths = sorted(
            p for p in Path(self.spec.url).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not paths:
            raise _Failed("folder holds no images", permanent=True)
        period = 1.0 / self.options.analysis_fps
        self.timeline.period = period
        start_wall = None if self.spec.live else time.time()
        readable = 0
        while True:
            self.timeline.new_segment()
            for i, path in enumerate(paths):
                if self.stopping:
                    return
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    log.warning("camera %s: %s is not a readable image", self.camera, path)
                    continue
                readable += 1
                self._publish(image, start_wall, keep=True, stamp=i * period)
            if not readable:
                raise _Failed("no readable image in the folder", permanent=True)
            if not self.spec.loop:
                raise _Finished


class _PacketRing:
    """Copies a connection's H.264 packets (Annex B, timestamps filled in) into the ring.

    Disabled for other codecs: their clips are encoded from decoded frames instead.
    """

    def __init__(self, stream, period: float, ring: RingBuffer, timeline: Timeline) -> None:
        ctx = stream.codec_context
        # A size still unknown after probing: clips are encoded from decoded frames instead.
        self.enabled = ctx.name == "h264" and ctx.width > 0 and ctx.height > 0
        self.ring, self.timeline = ring, timeline
        self.time_base = stream.time_base
        self.clock = PacketClock(period)
        extradata = bytes(ctx.extradata) if ctx.extradata else None
        # MP4/MKV carry H.264 as length-prefixed NAL units (avcC); clips and RTSP use Annex B.
        self.bsf = None
        if self.enabled and extradata and extradata[0] == 1:
            self.bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
            extradata = None  # the filter puts the parameter sets in front of keyframes
        self.params = StreamParams("h264", ctx.width, ctx.height, extradata)

    def add(self, packet: av.Packet) -> None:
        if not self.enabled or packet.size == 0:
            return
        tb = float(self.time_base) if self.time_base else 1 / 90_000
        pts = None if packet.pts is None else packet.pts * tb
        dts = None if packet.dts is None else packet.dts * tb
        key = packet.is_keyframe
        if self.bsf is not None:
            copy = av.Packet(bytes(packet))  # the filter takes its input's data: keep ours
            copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
            data = b"".join(bytes(p) for p in self.bsf.filter(copy))
        else:
            data = bytes(packet)
        for blob, p, d, k in self.clock.push(data, pts, dts, key):
            t = self.timeline.t(p)
            self.ring.append(Packet(blob, t, d + (t - p), k, self.params))


def _nbytes(picture: av.VideoFrame | np.ndarray) -> int:
    if isinstance(picture, np.ndarray):
        return int(picture.nbytes)
    return sum(plane.buffer_size for plane in picture.planes)
