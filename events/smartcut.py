"""Exact export without re-encoding the whole range: only its ends are encoded.

A range ``[start, end)`` of a recording is cut exactly by encoding the frames from ``start`` to
the first keyframe at or after it (the head) and from the last keyframe before ``end`` to
``end`` (the tail), and copying the camera's packets in between, untouched. The head and tail
are H.264 from libx264 with parameter-set ids of their own (``sps-id`` 1 and 2; the camera's
are normally 0), and the MP4's ``avcC`` carries all of them, so one track holds both kinds of
pictures: each slice names the picture parameter set it was made with. Each part starts with
an IDR picture, and the ends are encoded without B-frames, so no picture refers across a seam.

:func:`smart_cut` raises :class:`SmartCutError` when this cannot be done (no keyframe inside
the range, a camera stream that already uses ids 1 or 2, an ``avcC`` it cannot read); the
caller then encodes the whole range.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

from vigil.events.evidence import EvidenceError, sha256_file
from vigil.events.store.recordings import SegmentRecord

_EPS = 2e-3  # keyframe times in the index are rounded to 0.1 ms; packets match within this
_CLOCK = Fraction(1, 90_000)
_SPS, _PPS = 7, 8


class SmartCutError(EvidenceError):
    """The range cannot be cut with only its ends encoded (see the module)."""


def smart_cut(
    data_dir: Path, segments: list[SegmentRecord], start: float, end: float, out: Path, note
):
    """Write ``[start, end)`` of ``segments`` to ``out``, exactly, encoding only the ends.

    Returns :class:`~vigil.events.replay.ExportResult`; raises :class:`SmartCutError`.
    Streams: memory holds a frame or two of the ends, never the copied middle.
    """
    from vigil.events.replay import ExportResult, _Mp4, _packets_from

    keys = sorted(s.start_wall + k for s in segments for k in s.keyframes)
    first_key = next((k for k in keys if k >= start - _EPS), None)
    last_key = max((k for k in keys if k < end - _EPS), default=None)
    if first_key is None or last_key is None or first_key >= end - _EPS or last_key < first_key:
        raise SmartCutError("no keyframe inside the range")
    first = segments[0]
    fps = Fraction(first.frames / first.duration).limit_denominator(1001)
    size = (first.width, first.height)
    writer: _Mp4 | None = None
    times: list[float] = []

    def emit(packet: av.Packet, pts: float, dts: float) -> None:
        writer.write(packet, pts, dts)
        times.append(pts)

    head = (
        _Ends(size, fps, 1, start, (start, first_key), emit) if first_key > start + _EPS else None
    )
    tail = _Ends(size, fps, 2, start, (last_key, end), emit) if end > last_key + _EPS else None
    ends = [e for e in (head, tail) if e is not None]
    phase = "head"
    try:
        for timed, stream in _packets_from(data_dir, segments, start, end):
            if writer is None:
                writer = _Mp4(out, stream)
                writer.stream.codec_context.extradata = _merged_avcc(
                    bytes(stream.codec_context.extradata or b""), [e.parameter_sets for e in ends]
                )
            if phase == "head" and timed.keyframe and abs(timed.pts - first_key) < _EPS:
                phase = "middle"
                if head is not None:
                    head.finish()
            if phase == "middle" and tail and timed.keyframe and abs(timed.pts - last_key) < _EPS:
                phase = "tail"
            if phase == "head":
                if head is not None:
                    head.decode(timed)
            elif phase == "middle":
                emit(timed.packet, timed.pts - start, timed.dts - start)
            else:
                tail.decode(timed)
        if writer is None or (tail is not None and phase != "tail"):
            raise SmartCutError("the recording does not reach the range's last keyframe")
        if tail is not None:
            tail.finish()
        writer.finish()
    except BaseException:
        if writer is not None:
            writer.abort()
        for e in ends:
            e.close()
        raise
    return ExportResult(
        Path(out),
        start + min(times),
        start + max(times) + float(1 / fps),
        len(times),
        len(segments),
        True,
        sha256_file(Path(out)),
        note,
    )


class _Ends:
    """Decodes a run of the camera's packets and encodes the frames shown in ``window`` (the
    head or the tail of the range), handing each encoded packet to ``emit`` in order."""

    def __init__(self, size, fps: Fraction, sps_id: int, origin: float, window, emit) -> None:
        self.origin, self.window, self.emit = origin, window, emit
        self.decoder: av.CodecContext | None = None
        self._last = None
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = size[0], size[1], "yuv420p"
        enc.time_base, enc.framerate = _CLOCK, fps
        # Own parameter-set ids; no B-frames, so nothing refers across a seam.
        enc.options = {
            "preset": "veryfast",
            "crf": "18",
            "x264-params": f"sps-id={sps_id}:bframes=0",
        }
        enc.flags |= av.codec.context.Flags.global_header
        enc.open()
        self.encoder = enc
        self.parameter_sets = _nal_units(bytes(enc.extradata))
        self.frames = 0

    def decode(self, timed) -> None:
        if self.decoder is None:
            source = timed.packet.stream.codec_context
            self.decoder = av.CodecContext.create(source.name, "r")
            self.decoder.extradata = source.extradata
        self._last = timed
        self._encode(self.decoder.decode(timed.packet), timed)

    def finish(self) -> None:
        """Encode what the decoder still holds, then flush the encoder."""
        if self.decoder is not None and self._last is not None:
            self._encode(self.decoder.decode(None), self._last)
        if self.frames == 0:
            raise SmartCutError("no frame to encode at an end of the range")
        for packet in self.encoder.encode(None):
            self._emit(packet)
        self.close()

    def close(self) -> None:
        self.decoder = None

    def _encode(self, frames, timed) -> None:
        first, stop = self.window
        for frame in frames:
            if frame.pts is None:
                continue
            wall = timed.wall_of(frame.pts)
            if not first - _EPS <= wall < stop - _EPS:
                continue
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = round((wall - self.origin) / _CLOCK), _CLOCK
            picture.pict_type = av.video.frame.PictureType.NONE
            for packet in self.encoder.encode(picture):
                self._emit(packet)
            self.frames += 1

    def _emit(self, packet: av.Packet) -> None:
        """Annex B from libx264 → length-prefixed NAL units, as the MP4 track holds them."""
        units = [u for u in _nal_units(bytes(packet)) if u[0] & 0x1F not in (_SPS, _PPS)]
        out = av.Packet(b"".join(len(u).to_bytes(4, "big") + u for u in units))
        out.is_keyframe = packet.is_keyframe
        self.emit(out, float(packet.pts * _CLOCK), float(packet.dts * _CLOCK))


def _nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream."""
    units, i = [], annexb.find(b"\x00\x00\x01")
    while i != -1:
        j = annexb.find(b"\x00\x00\x01", i + 3)
        unit = annexb[i + 3 : j if j != -1 else len(annexb)]
        units.append(unit.rstrip(b"\x00") if j != -1 else unit)
        i = j
    return [u for u in units if u]


def _merged_avcc(camera: bytes, extra: list[list[bytes]]) -> bytes:
    """The camera's ``avcC`` with the parameter sets of the encoded ends added."""
    if len(camera) < 7 or camera[0] != 1:
        raise SmartCutError("the camera's H.264 configuration is not an avcC")
    sps, i = _read_sets(camera, 6, camera[5] & 0x1F)
    pps, i = _read_sets(camera, i + 1, camera[i])
    if any(_first_ue(unit) in (1, 2) for unit in sps):
        raise SmartCutError("the camera's stream already uses parameter-set ids 1 or 2")
    for units in extra:
        sps += [u for u in units if u[0] & 0x1F == _SPS]
        pps += [u for u in units if u[0] & 0x1F == _PPS]
    body = bytes([0xE0 | len(sps)]) + b"".join(len(u).to_bytes(2, "big") + u for u in sps)
    body += bytes([len(pps)]) + b"".join(len(u).to_bytes(2, "big") + u for u in pps)
    return camera[:5] + body + camera[i:]


def _read_sets(avcc: bytes, i: int, count: int) -> tuple[list[bytes], int]:
    """``count`` length-prefixed parameter sets from ``avcc[i:]``; and where they end."""
    sets = []
    for _ in range(count):
        n = int.from_bytes(avcc[i : i + 2], "big")
        sets.append(avcc[i + 2 : i + 2 + n])
        i += 2 + n
    return sets, i


def _first_ue(sps: bytes) -> int:
    """The ``seq_parameter_set_id`` of an SPS NAL unit (the first Exp-Golomb code after
    profile, constraint flags and level)."""
    bits = "".join(f"{b:08b}" for b in sps[4:12])
    zeros = len(bits) - len(bits.lstrip("0"))
    return int(bits[zeros : 2 * zeros + 1], 2) - 1
