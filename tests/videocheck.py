"""What tests check of a written clip, read back with PyAV (ffprobe's library)."""

from __future__ import annotations

from pathlib import Path

import av


def probe(path: Path) -> tuple[str, float, int, tuple[int, int]]:
    """(codec, duration in seconds, frames decoded, (width, height)) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            stream.codec_context.name,
            container.duration / av.time_base,
            frames,
            (stream.width, stream.height),
        )


def is_faststart(path: Path) -> bool:
    """True when the MP4 index (moov) comes before the media data (mdat): browsers can start
    playing before the whole file has arrived."""
    data = path.read_bytes()
    moov, mdat = data.find(b"moov"), data.find(b"mdat")
    return 0 <= moov < mdat
