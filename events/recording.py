"""Clips of live events, cut from a camera's pre-roll buffer as the stream goes on.

A :class:`ClipRecording` follows one violation: it starts at the keyframe at or before
``start - pre_seconds`` in the camera's :class:`~vigil.streams.ring.RingBuffer`, takes every
later item as it arrives, and stops ``post_seconds`` after the violation ended. H.264 packets
are remuxed into the MP4 as they are (:class:`RemuxClip`: no decoding, no encoding); decoded
frames are encoded with :class:`~vigil.events.evidence.ClipEncoder`. A hole in the stream stays
a hole in the clip: timestamps keep the camera's time, nothing is invented. Until it finishes, a
clip is a fragmented MP4 beside its final name (``.<id>.mp4.*.rec.part``) that a killed worker
leaves readable to its last second (:func:`~vigil.events.evidence.salvage_clip`).

Example::

    rec = ClipRecording(ring, out=Path("media/cam/…/id.mp4"), start=v.start_pts - 3.0)
    rec.pump()                      # as often as you like; writes what arrived since
    rec.stop_at(v.end_pts + 3.0)    # once the violation ended
    if rec.complete:
        clip = rec.finish()         # ClipInfo, or None when nothing could be written
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

from vigil.events.evidence import AtomicMp4, ClipEncoder, ClipInfo, EvidenceError, sha256_file
from vigil.streams.ring import Packet, Picture, RingBuffer, StreamParams

log = logging.getLogger(__name__)

_TIME_BASE = Fraction(1, 90_000)
_SPS = 7  # H.264 NAL unit type of a sequence parameter set


class RemuxClip(AtomicMp4):
    """Writes H.264 packets (Annex B, camera-time stamps) into a faststart MP4, unchanged.

    The first packet must be a keyframe. Parameter sets that came only out of band (in the
    RTSP session description) are put in front of it, so the MP4 gets its ``avcC``.
    """

    def __init__(self, out: Path, params: StreamParams, *, recoverable: bool = True) -> None:
        self.params = params
        super().__init__(out, recoverable=recoverable)
        try:
            self._stream = self._container.add_mux_stream(
                params.codec, width=params.width, height=params.height
            )
            self._stream.time_base = _TIME_BASE
        except BaseException:
            self.abort()
            raise
        self._origin: float | None = None
        self._last_dts = -1
        self._first_t = float("inf")
        self._last_t = float("-inf")
        self.frames = 0

    def write(self, packet: Packet) -> None:
        data = packet.data
        if self._origin is None:
            if not packet.keyframe:
                return
            self._origin = min(packet.dts, packet.t)
            self._set_origin(packet.t)
            extradata = self.params.extradata
            if extradata and not _has_sps(data):
                data = extradata + data
        dts = round((packet.dts - self._origin) / _TIME_BASE)
        dts = max(dts, self._last_dts + 1)
        pts = max(round((packet.t - self._origin) / _TIME_BASE), dts)
        out = av.Packet(data)
        out.pts, out.dts, out.time_base = pts, dts, _TIME_BASE
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        self._container.mux(out)
        self._last_dts = dts
        self._first_t = min(self._first_t, packet.t)
        self._last_t = max(self._last_t, packet.t)
        self.frames += 1

    def finish(self) -> ClipInfo:
        if self.frames == 0:
            self.abort()
            raise EvidenceError(f"no frames to write to {self.out}")
        self._close_and_commit()
        period = (self._last_t - self._first_t) / max(1, self.frames - 1) if self.frames > 1 else 0
        return ClipInfo(
            path=self.out,
            sha256=sha256_file(self.out),
            start_pts=self._first_t,
            end_pts=self._last_t + period,
            frames=self.frames,
        )


class _EncodedClip:
    """Decoded frames encoded with ClipEncoder (sources that are not H.264)."""

    def __init__(self, out: Path, fps: float) -> None:
        self.encoder = ClipEncoder(out, fps=fps, recoverable=True)
        self._first_t: float | None = None

    @property
    def frames(self) -> int:
        return self.encoder.frames

    def write(self, picture: Picture) -> None:
        self._first_t = picture.t if self._first_t is None else self._first_t
        self.encoder.write(picture.image, picture.t)

    def finish(self) -> ClipInfo:
        info = self.encoder.finish()
        # ClipEncoder counts from its first frame; the record wants camera time.
        offset = self._first_t or 0.0
        return ClipInfo(
            info.path, info.sha256, offset, offset + info.end_pts - info.start_pts, info.frames
        )

    def abort(self) -> None:
        self.encoder.abort()


class ClipRecording:
    """The clip of one live violation, written as the camera's buffer fills (see module).

    Args:
        ring: the camera's pre-roll buffer.
        out: where the clip goes (written atomically when it finishes).
        start: camera time the clip should show from (violation start less pre-roll).
        max_seconds: the clip stops growing this long after ``start`` (a violation that
            lasts all day still ends with a clip of bounded size).
        picture_fps: frame rate of clips encoded from decoded frames.
    """

    def __init__(
        self,
        ring: RingBuffer,
        out: Path,
        start: float,
        *,
        max_seconds: float = 300.0,
        picture_fps: float = 10.0,
    ) -> None:
        self.ring = ring
        self.out = Path(out)
        self.start = start
        self.stop: float | None = None
        self.max_end = start + max_seconds
        self.picture_fps = picture_fps
        self._seq = ring.start_seq(start) - 1
        self._clip: RemuxClip | _EncodedClip | None = None
        self._full = False  # reached stop, max_seconds, or a change of stream
        self.error: str | None = None

    def stop_at(self, t: float) -> None:
        """The clip ends at camera time ``t`` (violation end plus post-roll)."""
        self.stop = min(t, self.max_end)

    @property
    def complete(self) -> bool:
        """Everything up to the stop time has been written."""
        return self._full or (self.stop is not None and self.ring.newest_t >= self.stop)

    def pump(self) -> None:
        """Write the items that reached the buffer since the last call."""
        if self._full:
            return
        items = self.ring.since(self._seq)
        if items and items[0][0] > self._seq + 1 and self._clip is not None:
            log.warning("clip %s: the buffer moved on before it was copied; gap", self.out.name)
        end = self.stop if self.stop is not None else self.max_end
        for seq, item in items:
            self._seq = seq
            when = item.dts if isinstance(item, Packet) else item.t
            if when >= end:
                self._full = self.stop is not None or when >= self.max_end
                return
            try:
                self._write(item)
            except (EvidenceError, av.FFmpegError, ValueError, OSError) as exc:
                self.error = str(exc).splitlines()[0]
                log.warning("clip %s stops early: %s", self.out.name, self.error)
                self._full = True
                return

    def finish(self) -> ClipInfo | None:
        """Close the clip; None when nothing was written (or writing failed)."""
        self.pump()
        self._full = True
        if self._clip is None or self._clip.frames == 0:
            if self._clip is not None:
                self._clip.abort()
            return None
        try:
            return self._clip.finish()
        except (EvidenceError, av.FFmpegError, OSError) as exc:
            self.error = str(exc).splitlines()[0]
            log.warning("clip %s could not be finished: %s", self.out.name, self.error)
            return None

    def abort(self) -> None:
        if self._clip is not None:
            self._clip.abort()

    def _write(self, item: Packet | Picture) -> None:
        if self._clip is None:
            if isinstance(item, Packet):
                if not item.keyframe:
                    return
                self._clip = RemuxClip(self.out, item.params)
            else:
                if item.t < self.start - 1e-6:
                    return
                self._clip = _EncodedClip(self.out, self.picture_fps)
        if isinstance(self._clip, RemuxClip):
            if not isinstance(item, Packet) or item.params != self._clip.params:
                self._full = True  # the camera came back with another stream: end here
                return
            self._clip.write(item)
        elif isinstance(item, Picture):
            self._clip.write(item)
        else:
            self._full = True


def _has_sps(data: bytes) -> bool:
    """Whether an Annex B access unit carries a sequence parameter set."""
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        if data[i + 3] & 0x1F == _SPS:
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False
