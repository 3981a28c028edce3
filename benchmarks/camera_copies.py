"""Copies of the shared clips as a plant camera's main stream sends them: H.264 at a fixed size
(default 1280x720, the issue's 720p cameras; the shared clips are 640x360 to 960x540), with
B-frames and a keyframe every 2 s, so that `vigil bench --videos OUT` decodes what a 720p camera
costs.

    python benchmarks/camera_copies.py --out /tmp/cams720        # then
    vigil bench --videos /tmp/cams720 --cameras 16 --seconds 600
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av

from vigil.streams.rtsp_loop import parse_size

GOP_SECONDS = 2


def camera_copy(video: Path, size: tuple[int, int], out: Path) -> Path:
    """``video`` scaled to exactly ``size``, re-encoded with libx264's defaults (B-frames on)."""
    target = out / f"{video.stem}.mp4"
    with av.open(str(video)) as src, av.open(str(target), "w") as dst:
        stream = src.streams.video[0]
        rate = stream.average_rate or 25
        encoder = dst.add_stream("libx264", rate=rate)
        encoder.width, encoder.height, encoder.pix_fmt = *size, "yuv420p"
        encoder.codec_context.time_base = stream.time_base
        encoder.options = {"g": str(round(float(rate) * GOP_SECONDS)), "preset": "veryfast"}
        for frame in src.decode(stream):
            scaled = frame.reformat(size[0], size[1], "yuv420p")
            scaled.pts, scaled.time_base = frame.pts, frame.time_base
            dst.mux(encoder.encode(scaled))
        dst.mux(encoder.encode(None))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--size", type=parse_size, default=(1280, 720), help="WxH")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for video in sorted(args.videos.glob("*.mp4")):
        print(camera_copy(video, args.size, args.out))


if __name__ == "__main__":
    main()
