"""What decoding less saves: non-reference frames skipped (``skip_frame = NONREF``) and a
downscaled substream decoded instead of the main stream (``detect_source``).

Each shared video is served over RTSP by the bench's server (vigil.streams.rtsp_loop, the
file's H.264 access units as they are); each way of decoding reads the live stream for
``--seconds`` on its own and counts packets, decoded frames and the decoding thread's CPU
time. Ways: ``main`` (every frame, as before), ``main-nonref`` (non-reference frames
skipped), ``sub`` (a copy scaled to fit ``--substream``, H.264 without B-frames, as camera
substreams are: nothing to skip), ``sub-nonref``.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/decode_less.py --seconds 8
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av

from vigil.streams.rtsp_loop import RtspServer, downscaled, parse_size

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"


def decode_for(url: str, seconds: float, skip: bool) -> dict:
    """Decode ``url`` for ``seconds`` (after its first keyframe); packets, frames, CPU."""
    options = {"rtsp_transport": "tcp", "analyzeduration": "500000"}
    with av.open(url, options=options, timeout=(10, 5)) as container:
        stream = container.streams.video[0]
        if skip:
            stream.codec_context.skip_frame = "NONREF"
        packets = frames = 0
        cpu = 0.0
        started = None
        for packet in container.demux(stream):
            if started is None:
                if not packet.is_keyframe:
                    continue
                started = time.monotonic()
            packets += 1
            t0 = time.thread_time()
            frames += len(packet.decode())
            cpu += time.thread_time() - t0
            if time.monotonic() - started >= seconds:
                break
        size = f"{stream.codec_context.width}x{stream.codec_context.height}"
    return {
        "size": size,
        "packets": packets,
        "frames": frames,
        "cpu_ms_per_packet": round(1000 * cpu / max(packets, 1), 3),
        "cpu_ms_per_s": round(1000 * cpu / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--substream", default="320x180")
    args = parser.parse_args()
    size = parse_size(args.substream)
    folder = Path(tempfile.gettempdir()) / "vigil-bench-substreams"
    videos = sorted(args.videos.glob("*.mp4"))
    mounts = {}
    for i, video in enumerate(videos):
        mounts[f"v{i}"] = video
        mounts[f"v{i}-sub"] = downscaled(video, size, folder)
    results = {}
    with RtspServer(mounts) as server:
        for i, video in enumerate(videos):
            ways = {
                "main": (f"v{i}", False),
                "main-nonref": (f"v{i}", True),
                "sub": (f"v{i}-sub", False),
                "sub-nonref": (f"v{i}-sub", True),
            }
            row = {
                way: decode_for(server.url(mount), args.seconds, skip)
                for way, (mount, skip) in ways.items()
            }
            results[video.name] = row
            line = "  ".join(
                f"{way} {r['size']} {r['frames']}/{r['packets']} fr {r['cpu_ms_per_s']} ms/s"
                for way, r in row.items()
            )
            print(f"{video.name:40} {line}", file=sys.stderr, flush=True)
    totals = {
        way: round(sum(r[way]["cpu_ms_per_s"] for r in results.values()), 1)
        for way in ("main", "main-nonref", "sub", "sub-nonref")
    }
    print(json.dumps({"seconds": args.seconds, "substream": args.substream, "videos": results,
                      "total_cpu_ms_per_s": totals}))  # fmt: skip


if __name__ == "__main__":
    main()
