"""Small synthetic videos for tests, written with PyAV (H.264 in MP4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video(
    path: Path,
    rate: Fraction | int,
    frames: int,
    size: tuple[int, int] = (64, 48),
    faststart: bool = False,
) -> Path:
    """``frames`` frames at ``rate`` frames per second (Fraction(1, 20): one every 20 s), each
    a flat grey of its own level, so that frames can be told apart after decoding."""
    width, height = size
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), (i * 37) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
