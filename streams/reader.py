"""Camera readers: one thread per camera that opens its source, decodes it, keeps the pre-roll
and hands frames to the analysis.

- Live sources (RTSP, HTTP, webcams, looped files) never lag: the reader decodes every frame
  (H.264 needs them all) but keeps only the newest for the analysis (:class:`LatestFrame`):
  a frame nobody took before the next one arrived is simply replaced.
- Recorded files and image folders (not looped) are read in order: every frame that the
  analysis rate samples is queued, and the reader waits while the queue is full.
- Every packet (H.264 sources) or decoded frame (others, at most ``picture_fps``) goes to the
  camera's :class:`~vigil.streams.ring.RingBuffer`, the pre-roll of event clips.
- Detect and record roles: a camera with a low-resolution substream (``detect``, the site's
  ``detect_source``) has it decoded for the analysis, while its main stream is only demuxed on
  a second thread (:class:`_MainStream`): its H.264 packets go to the ring (clips, continuous
  recording) and it is never decoded. Both streams map onto one camera clock (both timelines
  are anchored on the same monotonic origin), so a detection at ``t`` finds its clip at ``t``.
  Either stream's failures are retried with the same backoff and show in the camera's health.
- When the analysis samples well below the stream's rate (``skip_nonref``), a live H.264
  stream whose ring holds packets (not decoded pictures) is decoded without its non-reference
  frames (``skip_frame = NONREF``): no other frame depends on them, and the analysis takes
  only the newest frame anyway. An encode without B-frames has none to skip.
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
from vigil.streams.health import CameraHealth, CameraState
from vigil.streams.ring import Packet, Picture, RingBuffer, StreamParams
from vigil.streams.sources import IMAGE_SUFFIXES, SourceSpec
from vigil.streams.timeline import PacketClock, Timeline
from vigil.streams.timing import StageTimer, timed

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
    # Live sources whose stream rate is this many times the analysis rate or more skip
    # decoding non-reference frames (0: never).
    skip_nonref: float = 3.0


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
        detect: a substream of the same camera to decode for the analysis instead of
            ``spec``, which is then only demuxed into the ring (see the module docstring).
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
        detect: SourceSpec | None = None,
    ) -> None:
        self.camera = camera
        self.spec = spec
        self.detect_spec = detect
        self.options = options or ReaderOptions()
        self.health = health or CameraHealth(
            camera, source=sources_shown(spec, detect), fail_after=self.options.fail_after
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
        self.skipping_nonref = False  # the current connection skips non-reference frames
        self._main = _MainStream(self) if detect is not None else None

    # --- control ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or, after the thread died, restart) reading."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"reader-{self.camera}", daemon=True
            )
            self._thread.start()
        if self._main is not None:
            self._main.start()  # nothing if it runs

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
        if self._main is not None:
            self._main.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def is_alive(self) -> bool:
        """Both threads run (the main stream's too, when detection reads a substream)."""
        alive = self._thread is not None and self._thread.is_alive()
        return alive and (self._main is None or self._main.is_alive())

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def take(self) -> Frame | None:
        """The frame for the analysis: the newest (live) or the next in order (recorded)."""
        item = self._latest.take() if self.spec.live else self._next_queued()
        if item is None:
            return None
        with timed(self.timer, "to_bgr"):
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
                    self.health.failed_attempt(self._named(str(exc)), permanent=exc.permanent)
            except Exception as exc:  # a bug or an odd library error: log it, never die
                log.exception("camera %s: reader error", self.camera)
                reason = f"reader error: {type(exc).__name__}: {exc}".splitlines()[0]
                if self._frames_this_attempt:
                    self._lost(reason)
                else:
                    self.health.failed_attempt(self._named(reason))
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

    def _named(self, reason: str) -> str:
        """A reason, naming the stream when the camera has two."""
        return reason if self.detect_spec is None else f"detect stream: {reason}"

    def _lost(self, reason: str) -> None:
        reason = self._named(reason)
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
        return open_source(self.detect_spec or self.spec, self.options)

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
            # With a substream to detect on, the ring is the main stream's (_MainStream).
            ring = self.ring if self.detect_spec is None else None
            packets = _PacketRing(stream, period, ring, self.timeline)
            keep = ring is not None and not packets.enabled  # decoded pictures for clips
            self.skipping_nonref = self._skip_nonref(stream, period, keep)
            self._last_frame = time.monotonic()
            for packet in _demux(
                container, stream, self.options, lambda: self._frames_this_attempt
            ):
                if self.stopping:
                    return
                size = packet.size
                packets.add(packet)  # reads the packet's fields before decoding moves it
                decoded = self._decode(packet)
                for picture in decoded:
                    self._publish(picture, start_wall, keep=keep)
                if not decoded and size and self.skipping_nonref:
                    self.health.frame_skipped()
                if time.monotonic() - self._last_frame > self.options.stall_seconds:
                    raise _Failed(f"no frame for {self.options.stall_seconds:g} s")
        if self.spec.live and self.spec.kind != "file":
            raise _Lost("stream ended")
        if not self.spec.loop:
            raise _Finished

    def _skip_nonref(self, stream, period: float, keep: bool) -> bool:
        """Skip decoding non-reference frames of a live stream analysed well below its rate,
        unless the ring keeps decoded pictures (those must all be decoded)."""
        factor = self.options.skip_nonref
        if not factor or not self.spec.live or keep:
            return False
        if self.options.analysis_fps * factor > 1.0 / period:
            return False
        stream.codec_context.skip_frame = "NONREF"
        return True

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            if self.timer is None:
                return packet.decode()
            cpu = time.thread_time()
            try:
                with timed(self.timer, "decode"):
                    return packet.decode()
            finally:  # the decoding thread's CPU, apart from waits on a busy machine
                self.timer.add("decode_cpu", time.thread_time() - cpu)
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

    Disabled for other codecs (their clips are encoded from decoded frames instead) and
    without a ring (a substream decoded for detection only).
    """

    def __init__(self, stream, period: float, ring: RingBuffer | None, timeline: Timeline) -> None:
        ctx = stream.codec_context
        # A size still unknown after probing: clips are encoded from decoded frames instead.
        self.h264 = ctx.name == "h264" and ctx.width > 0 and ctx.height > 0
        self.enabled = ring is not None and self.h264
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


class _MainStream:
    """The main stream of a camera whose detection decodes a substream: demuxed on a thread of
    its own, its H.264 packets into the camera's ring (clips, continuous recording), never
    decoded. Its failures are retried with the reader's backoff; while it is down the camera's
    health shows ``main stream: <reason>`` and the hole is reported as a gap."""

    NAME = "main stream"

    def __init__(self, reader: CameraReader) -> None:
        self.reader = reader
        self.timeline = Timeline(max_drift=10.0, anchor_on_clock=True, adapt=True)
        self.timeline.origin = reader.timeline.origin  # one camera clock for both streams
        self.packets = 0  # packets put in the ring, all attempts
        self._thread: threading.Thread | None = None
        self._attempt_packets = 0
        self._failures = 0  # failed attempts in a row
        self._live_since = 0.0
        self._last_wall = 0.0
        self._gap: tuple[float, str] | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            name = f"main-{self.reader.camera}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        reader = self.reader
        backoff = Backoff(reader.options.backoff_initial, reader.options.backoff_max)
        first = True
        while not reader.stopping:
            if not first:
                reader.health.count_attempt()
            first, self._attempt_packets = False, 0
            try:
                self._read()
            except (_Lost, _Failed) as exc:
                self._down(str(exc), getattr(exc, "permanent", False))
            except Exception as exc:  # a bug or an odd library error: log it, never die
                log.exception("camera %s: main stream reader error", reader.camera)
                self._down(f"reader error: {type(exc).__name__}: {exc}".splitlines()[0], False)
            if reader.stopping:
                break
            if self._attempt_packets and time.monotonic() - self._live_since >= STABLE_S:
                backoff.reset()
            reader._stop.wait(backoff.next_delay())
        self._close_gap(time.time(), "until the camera stopped")

    def _read(self) -> None:
        reader, opts = self.reader, self.reader.options
        with open_source(reader.spec, opts) as container:
            if not container.streams.video:
                raise _Failed("no video stream", permanent=True)
            stream = container.streams.video[0]
            period = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
            self.timeline.period = period
            self.timeline.new_segment()
            packets = _PacketRing(stream, period, reader.ring, self.timeline)
            if not packets.enabled:
                codec = stream.codec_context.name
                if codec == "h264":  # its size not known yet (probing cut short): try again
                    raise _Failed("H.264 stream of unknown size after probing")
                raise _Failed(
                    f"{codec} is not H.264 (with detect_source it is never decoded)", True
                )
            # A silent stream fails its read after stall_seconds (open_source's read timeout).
            for packet in _demux(container, stream, opts, lambda: self._attempt_packets):
                if reader.stopping:
                    return
                if packet.size:
                    packets.add(packet)
                    self._flowing()
        raise _Lost("stream ended")

    def _flowing(self) -> None:
        self.packets += 1
        self._attempt_packets += 1
        self._last_wall = time.time()
        if self._attempt_packets == 1:
            self._live_since = time.monotonic()
            self._failures = 0
            self.reader.health.stream_up(self.NAME)
            self._close_gap(self._last_wall)

    def _down(self, reason: str, permanent: bool) -> None:
        health = self.reader.health
        if self._attempt_packets:
            state = CameraState.STALLED
            if self._gap is None:
                self._gap = (self._last_wall, reason)
        else:
            self._failures += 1
            failed = permanent or self._failures >= health.fail_after
            state = CameraState.FAILED if failed else CameraState.CONNECTING
        log.warning("camera %s: %s: %s", self.reader.camera, self.NAME, reason)
        health.stream_down(self.NAME, reason, state)

    def _close_gap(self, end_wall: float, note: str | None = None) -> None:
        if self._gap is None:
            return
        start, reason = self._gap
        self._gap = None
        if self.reader.on_gap is not None:
            why = f"{self.NAME}: {reason}" + (f" ({note})" if note else "")
            self.reader.on_gap(self.reader.camera, start, end_wall, why)


def sources_shown(spec: SourceSpec, detect: SourceSpec | None) -> str:
    """A camera's source(s) as health shows them, credentials masked.

    >>> from vigil.streams.sources import parse_source
    >>> sources_shown(parse_source("rtsp://u:pw@cam/main"), parse_source("rtsp://u:pw@cam/sub"))
    'rtsp://u:***@cam/main (detect: rtsp://u:***@cam/sub)'
    """
    return spec.display if detect is None else f"{spec.display} (detect: {detect.display})"


def open_source(spec: SourceSpec, opts: ReaderOptions) -> av.container.InputContainer:
    """Open a PyAV source with the reader's timeouts; :class:`_Failed` with a one-line reason."""
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


def _demux(
    container, stream, opts: ReaderOptions, flowing: Callable[[], int]
) -> Iterator[av.Packet]:
    """The stream's packets; a read error is :class:`_Failed` (permanent only if nothing
    flowed in this attempt)."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, OSError) as exc:
            reason, permanent = describe_error(exc, opts.stall_seconds)
            if isinstance(exc, av.error.ExitError):
                reason = f"no data for {opts.stall_seconds:g} s"
            raise _Failed(reason, permanent and not flowing()) from None
        yield packet


def _nbytes(picture: av.VideoFrame | np.ndarray) -> int:
    if isinstance(picture, np.ndarray):
        return int(picture.nbytes)
    return sum(plane.buffer_size for plane in picture.planes)
