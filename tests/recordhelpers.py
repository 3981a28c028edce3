"""Real H.264 packets of the shared footage, as a camera reader puts them in its ring buffer
(Annex B, camera-time stamps), for recording tests and benchmarks: no RTSP needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import av.bitstream

from vigil.streams.ring import Packet, StreamParams


def looped_packets(video: Path, seconds: float, t0: float = 0.0) -> Iterator[Packet]:
    """``video``'s packets looped for ``seconds`` of camera time from ``t0`` (decode order)."""
    loop = 0
    params: StreamParams | None = None
    while True:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            period = 1.0 / float(stream.average_rate)
            length = stream.frames * period
            ctx = stream.codec_context
            params = params or StreamParams("h264", ctx.width, ctx.height, None)
            bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
            first = None
            for packet in container.demux(stream):
                if packet.pts is None or packet.dts is None or packet.size == 0:
                    continue
                first = packet.pts if first is None else first
                t = t0 + loop * length + (packet.pts - first) * tb
                dts = t0 + loop * length + (packet.dts - first) * tb
                if t >= t0 + seconds:
                    return
                key = packet.is_keyframe
                data = b"".join(bytes(p) for p in bsf.filter(packet))
                yield Packet(data, t, dts, key, params)
        loop += 1
