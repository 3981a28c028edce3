"""Continuous recording of one camera: its stream cut into MP4 segments of about a minute.

A :class:`SegmentWriter` follows the camera's :class:`~vigil.streams.ring.RingBuffer` as the
evidence clips do (:class:`~vigil.events.recording.ClipRecording`) and writes what arrives
with the same writers: H.264 packets are remuxed as they are (:class:`RemuxClip`: no decode,
no encode), decoded frames of other sources are encoded (:class:`ClipEncoder`, at the
configured ``crf``). Each segment starts on a keyframe and ends before the first keyframe
past ``segment_seconds``.

A segment is written as a fragmented MP4 beside its final name (``.<name>.*.rec.part``),
remuxed into a faststart MP4, fsynced and renamed, and only then indexed
(:class:`~vigil.events.store.recordings.RecordingIndex`): a half-written segment is never
indexed. A hole in the stream (a reconnect, the writer falling behind the buffer, a jump in
time) ends the segment; the next starts at the next keyframe, so a gap in the stream is a gap
between segments, never filled. :func:`recover_segments` salvages what a killed worker left.

Files: ``<data>/recordings/<camera>/<UTC date>/<start epoch ms>.mp4``.

Example::

    writer = SegmentWriter("gate-3", reader.ring, data_dir, index, RecordSettings(),
                           wall_of=lambda t: reader.wall_origin + t)
    writer.pump()          # often (every few hundred ms), from one thread
    writer.close()         # at shutdown: the segment in progress is finished and indexed
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av

from vigil.events.evidence import (
    PART_SUFFIX,
    RECORDING_SUFFIX,
    ClipEncoder,
    EvidenceError,
    _safe_name,
    salvage_clip,
)
from vigil.events.recording import RemuxClip
from vigil.events.store.recordings import RecordingIndex, SegmentRecord
from vigil.streams.ring import ClipItem, Packet, RingBuffer

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"
GAP_SECONDS = 2.0  # consecutive packets further apart than this: a hole, the segment ends
_NAME = re.compile(r"^(\d+)\.mp4$")


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """How a camera is recorded and how long its media are kept (days)."""

    segment_seconds: float = 60.0
    retain_days: float = 7.0
    keep_event_days: float = 30.0
    crf: int = 23  # sources that are not H.264 are encoded at this quality
    picture_fps: float = 10.0


def recordings_dir(data_dir: Path, camera: str) -> Path:
    """``<data_dir>/recordings/<camera>``."""
    return Path(data_dir) / RECORDINGS_DIR / _safe_name(camera)


def segment_path(data_dir: Path, camera: str, start_wall: float) -> Path:
    """Where a segment starting at ``start_wall`` goes.

    >>> segment_path(Path("d"), "gate 3", 86400.25).as_posix()
    'd/recordings/gate_3/1970-01-02/86400250.mp4'
    """
    day = datetime.fromtimestamp(start_wall, tz=UTC).date().isoformat()
    return recordings_dir(data_dir, camera) / day / f"{round(start_wall * 1000)}.mp4"


@dataclass(frozen=True, slots=True)
class SegmentProbe:
    """What a finished segment file holds (read by demuxing only, no decoding)."""

    frames: int
    duration: float
    keyframes: tuple[float, ...]  # seconds from the first frame
    codec: str
    width: int
    height: int


def probe_segment(path: Path) -> SegmentProbe:
    """Frames, duration and keyframe times of an MP4 segment. Raises EvidenceError."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise EvidenceError(f"cannot read {path.name}: {exc}") from None
    with container:
        if not container.streams.video:
            raise EvidenceError(f"no video stream in {path.name}")
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        times, keys = [], []
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            times.append(packet.pts * tb)
            if packet.is_keyframe:
                keys.append(packet.pts * tb)
        ctx = stream.codec_context
        if not times:
            raise EvidenceError(f"no frames in {path.name}")
        first, last = min(times), max(times)
        period = (last - first) / (len(times) - 1) if len(times) > 1 else 0.0
        return SegmentProbe(
            frames=len(times),
            duration=last - first + period,
            keyframes=tuple(round(k - first, 4) for k in keys),
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
        )


class _Segment:
    """The segment being written: its writer and what the index will need."""

    def __init__(self, out: Path, writer: RemuxClip | ClipEncoder, first_t: float) -> None:
        self.out, self.writer, self.first_t = out, writer, first_t
        self.last_t = first_t
        self.keyframes: list[float] = []

    def write(self, item: ClipItem) -> None:
        if isinstance(item, Packet):
            assert isinstance(self.writer, RemuxClip)
            if item.keyframe:
                self.keyframes.append(item.t - self.first_t)
            self.writer.write(item)
        else:
            assert isinstance(self.writer, ClipEncoder)
            self.writer.write(item.image, item.t)
        self.last_t = max(self.last_t, item.t)


class SegmentWriter:
    """Writes one camera's stream as indexed MP4 segments (see the module).

    Args:
        camera: camera id.
        ring: the camera's buffer (what its reader appends to).
        data_dir: the data folder (segments go under ``recordings/``).
        index: where finished segments are indexed; None to only write files.
        settings: segment length, encoder quality for sources that are not H.264.
        wall_of: epoch seconds of a camera time ``t`` (the reader's ``wall_origin + t``).
    """

    def __init__(
        self,
        camera: str,
        ring: RingBuffer,
        data_dir: Path,
        index: RecordingIndex | None,
        settings: RecordSettings,
        wall_of: Callable[[float], float],
        on_indexed: Callable[[Path], object] | None = None,
    ) -> None:
        self.camera, self.ring, self.data_dir = camera, ring, Path(data_dir)
        self.on_indexed = on_indexed  # hears each segment once indexed (the upload queue)
        self.index, self.settings, self.wall_of = index, settings, wall_of
        self._seq = ring.next_seq - 1
        self._current: _Segment | None = None
        self._last: ClipItem | None = None
        self.pending: list[SegmentRecord] = []  # finished, not yet indexed (store away)
        self.written = 0  # segments finished
        self.gaps = 0  # holes that ended a segment

    def pump(self) -> None:
        """Write the items that reached the buffer since the last call."""
        items = self.ring.since(self._seq)
        if items and items[0][0] > self._seq + 1 and self._current is not None:
            log.warning("camera %s: recording fell behind its buffer; gap", self.camera)
            self._end_segment("fell behind")
        for seq, item in items:
            self._seq = seq
            try:
                self._write(item)
            except (EvidenceError, av.FFmpegError, ValueError, OSError) as exc:
                log.warning("camera %s: segment dropped: %s", self.camera, _first_line(exc))
                self._abort()
            self._last = item
        self.flush_index()

    def close(self) -> None:
        """Finish the segment in progress and index it (at shutdown)."""
        self.pump()
        self._end_segment(None)
        self.flush_index()

    def flush_index(self) -> None:
        """Index the finished segments the store could not take before."""
        while self.pending and self.index is not None:
            try:
                self.index.add_segment(self.pending[0])
            except Exception as exc:  # the store is away: the file waits, next start indexes it
                log.warning("camera %s: segment not indexed yet: %s", self.camera, _first_line(exc))
                return
            done = self.pending.pop(0)
            if self.on_indexed is not None:
                self.on_indexed(self.data_dir / done.path)

    def _write(self, item: ClipItem) -> None:
        current = self._current
        if current is not None and self._breaks(item):
            self._end_segment("gap")
            current = None
        if current is not None and item.keyframe and self._full(current, item):
            self._end_segment(None)
            current = None
        if current is None:
            if not item.keyframe:
                return
            current = self._current = self._start(item)
        current.write(item)

    def _breaks(self, item: ClipItem) -> bool:
        """Whether ``item`` cannot follow the previous one in the same file."""
        last = self._last
        if last is None or type(item) is not type(last):
            return True
        if isinstance(item, Packet) and isinstance(last, Packet):
            if item.params != last.params:
                return True
            return item.dts - last.dts > GAP_SECONDS
        return item.t - last.t > GAP_SECONDS

    def _full(self, current: _Segment, item: ClipItem) -> bool:
        return item.t - current.first_t >= self.settings.segment_seconds

    def _start(self, item: ClipItem) -> _Segment:
        out = segment_path(self.data_dir, self.camera, self.wall_of(item.t))
        if isinstance(item, Packet):
            writer: RemuxClip | ClipEncoder = RemuxClip(out, item.params)
        else:
            writer = ClipEncoder(
                out, self.settings.picture_fps, crf=self.settings.crf, recoverable=True
            )
        return _Segment(out, writer, item.t)

    def _end_segment(self, why: str | None) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        if why is not None:
            self.gaps += 1
        try:
            current.writer.finish()
        except (EvidenceError, av.FFmpegError, OSError) as exc:
            log.warning("camera %s: segment not finished: %s", self.camera, _first_line(exc))
            return
        self.pending.append(self._record(current))
        self.written += 1

    def _record(self, segment: _Segment) -> SegmentRecord:
        if isinstance(segment.writer, RemuxClip):
            params = segment.writer.params
            frames = segment.writer.frames
            period = (segment.last_t - segment.first_t) / max(1, frames - 1)
            duration = segment.last_t - segment.first_t + period
            keyframes = tuple(round(k, 4) for k in segment.keyframes)
            codec, width, height = params.codec, params.width, params.height
        else:
            probe = probe_segment(segment.out)
            frames, duration, keyframes = probe.frames, probe.duration, probe.keyframes
            codec, width, height = probe.codec, probe.width, probe.height
        start = self.wall_of(segment.first_t)
        return SegmentRecord(
            id=0,
            camera=self.camera,
            start_wall=start,
            end_wall=start + duration,
            path=segment.out.relative_to(self.data_dir).as_posix(),
            bytes=segment.out.stat().st_size,
            frames=frames,
            keyframes=keyframes,
            codec=codec,
            width=width,
            height=height,
        )

    def _abort(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            current.writer.abort()


@dataclass(frozen=True, slots=True)
class SegmentRecovery:
    salvaged: int  # unfinished segments of a killed worker, salvaged and indexed
    indexed: int  # finished segments that had not been indexed
    swept: int  # temporary files removed (unreadable or stale)


def recover_segments(index: RecordingIndex, data_dir: Path, cameras: list[str]) -> SegmentRecovery:
    """At start, before any writer of ``cameras`` runs: salvage the fragmented MP4 of a
    segment a killed worker was writing (what can be read of it, as clips are salvaged),
    index finished segments that never were, and remove every other temporary file."""
    data_dir = Path(data_dir)
    salvaged = indexed = swept = 0
    for camera in cameras:
        folder = recordings_dir(data_dir, camera)
        if not folder.is_dir():
            continue
        for part in sorted(folder.glob(f"*/.*{PART_SUFFIX}")):
            final = _final_name(part)
            if part.name.endswith(RECORDING_SUFFIX) and final is not None and not final.exists():
                try:
                    salvage_clip(part, final)
                    salvaged += 1
                    log.warning("camera %s: unfinished segment %s salvaged", camera, final.name)
                except (EvidenceError, OSError) as exc:
                    log.warning("camera %s: segment %s lost: %s", camera, part.name, exc)
            part.unlink(missing_ok=True)
            swept += 1
        known = index.indexed_paths(camera)
        for path in sorted(folder.glob("*/*.mp4")):
            relative = path.relative_to(data_dir).as_posix()
            match = _NAME.match(path.name)
            if relative in known or match is None:
                continue
            try:
                probe = probe_segment(path)
            except EvidenceError as exc:
                log.warning("camera %s: %s unreadable, removed: %s", camera, relative, exc)
                path.unlink(missing_ok=True)
                continue
            start = int(match.group(1)) / 1000
            index.add_segment(
                SegmentRecord(
                    0,
                    camera,
                    start,
                    start + probe.duration,
                    relative,
                    path.stat().st_size,
                    probe.frames,
                    probe.keyframes,
                    probe.codec,
                    probe.width,
                    probe.height,
                )
            )
            indexed += 1
    return SegmentRecovery(salvaged, indexed - salvaged, swept)


def _final_name(part: Path) -> Path | None:
    """``.<name>.mp4.XXXX.rec.part`` → ``<name>.mp4`` beside it."""
    match = re.match(r"^\.(\d+\.mp4)\.", part.name)
    return part.with_name(match.group(1)) if match else None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
