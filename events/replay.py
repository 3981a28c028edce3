"""Replay and export of continuous recordings (no HTTP here: the API and CLI call these).

- :func:`recorded_spans`: what exists for a camera in a range, as spans (a gap between
  segments is a gap between spans).
- :func:`hls_playlist` and :func:`segment_ts`: an HLS VOD playlist over the segments, each
  served as MPEG-TS remuxed on the fly from its MP4 (no re-encode; plays in hls.js and
  Safari). TS timestamps are the time of day of the segment (90 kHz clock), so consecutive
  segments play on without a jump; a gap or a change of stream is an
  ``#EXT-X-DISCONTINUITY``, and every segment carries its ``#EXT-X-PROGRAM-DATE-TIME``.
- :func:`export_range`: a range as one MP4 (atomically written), cut at keyframes by
  remuxing: it starts at the last keyframe at or before ``start`` and ends with the last frame
  decoded before ``end``; with ``exact``, the frames in ``[start, end)`` re-encoded.

Example::

    segments = index.segments("gate-3", t0, t1)
    text = hls_playlist(segments, lambda s: f"segments/{s.id}.ts")
    result = export_range(index, data_dir, "gate-3", t0, t1, Path("out.mp4"))
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from vigil.events.evidence import PART_SUFFIX, AtomicMp4, EvidenceError, cut_clip, sha256_file
from vigil.events.objectstore import ObjectStore
from vigil.events.store.recordings import RecordingIndex, SegmentRecord, Span

DAY = 86_400.0
CONTIGUOUS_S = 1.0  # segments closer than this play as one span
_TS_CLOCK = Fraction(1, 90_000)


class ExportError(EvidenceError):
    """A range that cannot be exported (nothing recorded, a bad range)."""


def recorded_spans(segments: list[SegmentRecord], tolerance: float = CONTIGUOUS_S) -> list[Span]:
    """Segments (oldest first) merged into the spans they cover.

    >>> seg = lambda a, b: SegmentRecord(0, "c", a, b, "p", 0, 0, ())
    >>> recorded_spans([seg(0, 60), seg(60.04, 120), seg(300, 360)])
    [Span(start=0, end=120), Span(start=300, end=360)]
    """
    spans: list[Span] = []
    for s in segments:
        if spans and s.start_wall - spans[-1].end <= tolerance:
            spans[-1] = Span(spans[-1].start, max(spans[-1].end, s.end_wall))
        else:
            spans.append(Span(s.start_wall, s.end_wall))
    return spans


def hls_playlist(segments: list[SegmentRecord], segment_uri: Callable[[SegmentRecord], str]) -> str:
    """An HLS VOD playlist (``#EXTM3U``) over ``segments`` (oldest first); ``segment_uri``
    gives each segment's URL (served by :func:`segment_ts`)."""
    target = max((math.ceil(s.duration) for s in segments), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    previous: SegmentRecord | None = None
    for s in segments:
        if previous is not None and _discontinuous(previous, s):
            lines.append("#EXT-X-DISCONTINUITY")
        stamp = datetime.fromtimestamp(s.start_wall, UTC).isoformat(timespec="milliseconds")
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{stamp}", f"#EXTINF:{s.duration:.3f},"]
        lines.append(segment_uri(s))
        previous = s
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _discontinuous(a: SegmentRecord, b: SegmentRecord) -> bool:
    """A gap, another kind of stream, or the TS clock wrapping at midnight (UTC)."""
    return (
        b.start_wall - a.end_wall > CONTIGUOUS_S
        or (a.codec, a.width, a.height) != (b.codec, b.width, b.height)
        or int(a.start_wall // DAY) != int(b.start_wall // DAY)
    )


def segment_ts(data_dir: Path, segment: SegmentRecord) -> bytes:
    """The segment remuxed into MPEG-TS (H.264 copied, not re-encoded) for HLS.

    Raises EvidenceError when the file is missing or unreadable.
    """
    path = Path(data_dir) / segment.path
    out = io.BytesIO()
    with _open(path) as (src, stream):
        tb = stream.time_base
        with av.open(out, "w", format="mpegts") as dst:
            target = dst.add_stream_from_template(stream)
            origin = None
            offset = round((segment.start_wall % DAY) / tb)
            for packet in src.demux(stream):
                if packet.pts is None or packet.dts is None or packet.size == 0:
                    continue
                origin = packet.pts if origin is None else origin
                packet.pts = packet.pts - origin + offset
                packet.dts = packet.dts - origin + offset
                packet.stream = target
                dst.mux(packet)
    return out.getvalue()


class _Mp4(AtomicMp4):
    """A faststart MP4 copying one stream's packets (export)."""

    def __init__(self, out: Path, template: av.VideoStream) -> None:
        super().__init__(out)
        self.stream = self._container.add_stream_from_template(template)
        self.stream.time_base = _TS_CLOCK
        self._last_dts = -1
        self.frames = 0

    def write(self, packet: av.Packet, pts_s: float, dts_s: float) -> None:
        dts = max(round(dts_s / _TS_CLOCK), self._last_dts + 1)
        pts = max(round(pts_s / _TS_CLOCK), dts)
        packet.pts, packet.dts, packet.time_base = pts, dts, _TS_CLOCK
        packet.stream = self.stream
        self._container.mux(packet)
        self._last_dts = dts
        self.frames += 1

    def finish(self) -> None:
        if self.frames == 0:
            self.abort()
            raise ExportError(f"no frames to write to {self.out}")
        self._close_and_commit()


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    start_wall: float  # the wall time the file's first frame shows
    end_wall: float  # the end of its last frame
    frames: int
    segments: int
    exact: bool
    sha256: str
    note: str | None = None  # what is missing: a gap, a change of stream that ended it

    @property
    def duration(self) -> float:
        return self.end_wall - self.start_wall


@dataclass(frozen=True, slots=True)
class _Timed:
    """A packet of a segment with its wall times."""

    packet: av.Packet
    pts: float
    dts: float
    keyframe: bool
    origin: int = 0  # the segment's first pts (stream ticks) and its time base and start:
    time_base: float = 0.0  # a decoded frame of this segment shows
    segment_start: float = 0.0  # segment_start + (frame.pts - origin) * time_base

    def wall_of(self, pts: int) -> float:
        """The wall time of a decoded frame's ``pts`` (ticks of this segment's stream)."""
        return self.segment_start + (pts - self.origin) * self.time_base


def export_range(
    index: RecordingIndex,
    data_dir: Path,
    camera: str,
    start: float,
    end: float,
    out: Path,
    *,
    exact: bool = False,
) -> ExportResult:
    """Write ``camera``'s recording of ``[start, end)`` (epoch seconds) to ``out`` as one MP4
    (see the module). Raises :class:`ExportError` for a bad range or nothing recorded in it;
    ``out`` is then left as it was."""
    if not end > start:
        raise ExportError(f"bad range: end ({end:g}) is not after start ({start:g})")
    segments = index.segments(camera, start, end)
    if not segments:
        raise ExportError(
            f"no recording of camera {camera!r} between {_iso(start)} and {_iso(end)}"
        )
    first = segments[0]
    kept, note = [first], None
    for s in segments[1:]:
        if (s.codec, s.width, s.height) != (first.codec, first.width, first.height):
            note = f"stopped at {_iso(s.start_wall)}: the camera's stream changed"
            break
        kept.append(s)
    gaps = sum(1 for a, b in zip(kept, kept[1:], strict=False) if b.start_wall - a.end_wall > 1)
    if gaps:
        note = "; ".join(filter(None, [note, f"{gaps} gap(s) in the recording, kept as gaps"]))
    if exact:
        return _export_exact(data_dir, kept, start, end, Path(out), note)
    return _export_copy(data_dir, kept, start, end, Path(out), note)


def _export_copy(
    data_dir: Path, segments: list[SegmentRecord], start: float, end: float, out: Path, note
) -> ExportResult:
    writer: _Mp4 | None = None
    origin = last = None
    try:
        for timed, stream in _packets_from(data_dir, segments, start, end):
            if writer is None:
                writer = _Mp4(out, stream)
                origin = timed.pts
            writer.write(timed.packet, timed.pts - origin, timed.dts - origin)
            last = max(last or timed.pts, timed.pts)
        if writer is None:
            raise ExportError(f"no frames recorded between {_iso(start)} and {_iso(end)}")
        frames = writer.frames
        writer.finish()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    period = (last - origin) / max(1, frames - 1)
    return ExportResult(
        out, origin, last + period, frames, len(segments), False, sha256_file(out), note
    )


def _export_exact(
    data_dir: Path, segments: list[SegmentRecord], start: float, end: float, out: Path, note
) -> ExportResult:
    """Only the ends re-encoded when a keyframe lies inside the range, else all of it."""
    from vigil.events.smartcut import SmartCutError, smart_cut

    try:
        return smart_cut(data_dir, segments, start, end, out, note)
    except SmartCutError:
        return _export_reencoded(data_dir, segments, start, end, out, note)


def _export_reencoded(
    data_dir: Path, segments: list[SegmentRecord], start: float, end: float, out: Path, note
) -> ExportResult:
    """The keyframe-cut copy (to a temporary file), then its ``[start, end)`` re-encoded."""
    tmp = out.with_name(f".{out.name}.exact{PART_SUFFIX}")
    try:
        copy = _export_copy(data_dir, segments, start, end, tmp, note)
        window_start = max(0.0, start - copy.start_wall)
        info = cut_clip(tmp, window_start, end - copy.start_wall, out)
    finally:
        tmp.unlink(missing_ok=True)
    first = copy.start_wall + info.start_pts
    return ExportResult(
        out,
        first,
        first + info.end_pts - info.start_pts,
        info.frames,
        len(segments),
        True,
        info.sha256,
        note,
    )


def _packets_from(
    data_dir: Path, segments: list[SegmentRecord], start: float, end: float
) -> Iterator[tuple[_Timed, av.VideoStream]]:
    """The packets to export, in decode order, with wall times: from the last keyframe at or
    before ``start`` to the last packet decoded before ``end``."""
    for i, segment in enumerate(segments):
        from_t = None
        if i == 0:
            keys = [k for k in segment.keyframes if segment.start_wall + k <= start + 1e-6]
            from_t = keys[-1] if keys else 0.0
        with _open(Path(data_dir) / segment.path) as (src, stream):
            tb = float(stream.time_base)
            origin, started = None, from_t is None
            for packet in src.demux(stream):
                if packet.pts is None or packet.dts is None or packet.size == 0:
                    continue
                origin = packet.pts if origin is None else origin
                offset = (packet.pts - origin) * tb
                if not started:
                    if not (packet.is_keyframe and offset >= from_t - 1e-3):
                        continue
                    started = True
                dts = segment.start_wall + (packet.dts - origin) * tb
                if dts >= end:
                    return
                timed = _Timed(
                    packet,
                    segment.start_wall + offset,
                    dts,
                    packet.is_keyframe,
                    origin,
                    tb,
                    segment.start_wall,
                )
                yield timed, stream


# Data folders whose segments, once uploaded and no longer staged, are read from an object store.
_REMOTE: dict[Path, ObjectStore] = {}


def read_uploaded_from(data_dir: Path, objects: ObjectStore) -> None:
    """Segments of ``data_dir`` missing on disk are read from ``objects`` from now on (FFmpeg
    over a short-lived signed URL, with HTTP Range), for HLS and exports."""
    _REMOTE[Path(data_dir).resolve()] = objects


def _source(path: Path) -> str:
    """The local file, or the signed URL of its uploaded copy when it is no longer staged."""
    if path.exists():
        return str(path)
    absolute = path.resolve()
    for root, objects in _REMOTE.items():
        if absolute.is_relative_to(root):
            return objects.presigned_url(objects.key_for(absolute.relative_to(root).as_posix()))
    return str(path)


@contextmanager
def _open(path: Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """A segment's container and video stream; errors become EvidenceError."""
    try:
        container = av.open(_source(path))
    except (av.FFmpegError, OSError) as exc:
        raise EvidenceError(f"cannot read segment {path.name}: {exc}") from None
    with container:
        if not container.streams.video:
            raise EvidenceError(f"no video stream in segment {path.name}")
        yield container, container.streams.video[0]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class TimeError(ExportError):
    """A time the user wrote that cannot be read."""


def parse_time(text: str, *, now: float | None = None) -> float:
    """Epoch seconds from ISO 8601 (no zone: UTC), epoch seconds, ``now`` or ``today``
    (midnight UTC). Raises :class:`TimeError` naming the text.

    >>> parse_time("2026-11-29T14:05:00Z"), parse_time("1795961100"), parse_time("today", now=90000)
    (1795961100.0, 1795961100.0, 86400.0)
    """
    value = text.strip()
    now = time.time() if now is None else now
    if value == "now":
        return now
    if value == "today":
        return now - now % DAY
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TimeError(
            f"time {text!r}: expected ISO 8601 (2026-11-29T14:05:00Z), epoch seconds, "
            "'now' or 'today'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
