"""Pre-roll as encoded packets or as decoded frames: memory per camera and the cost of a clip.

For each video: the bytes one second of stream takes in the buffer as H.264 packets, as
decoded yuv420p frames at the source rate and at 10 fps; and the CPU time to write a 10 s
clip by remuxing packets versus encoding decoded frames (ClipEncoder, libx264 veryfast).

    .venv/bin/python benchmarks/ring_choice.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av

from vigil.events.evidence import ClipEncoder
from vigil.events.recording import ClipRecording
from vigil.streams.reader import CameraReader, ReaderOptions
from vigil.streams.sources import parse_source

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def packets_of(path: Path) -> CameraReader:
    reader = CameraReader(
        "bench", parse_source(str(path)), ReaderOptions(ring_seconds=600, analysis_fps=30)
    )
    reader.start()
    while not reader.exhausted:
        reader.take()
        time.sleep(0.001)
    reader.stop()
    reader.join()
    return reader


def decoded(path: Path, seconds: float) -> tuple[list[av.VideoFrame], float]:
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                break
            frames.append(frame.reformat(format="yuv420p"))
    return frames, fps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", default="fall_01.mp4,people_walking_02.mp4")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(
        f"{'video':24} {'size':>9} {'packets kB/s':>13} {'frames kB/s':>12} {'frames@10 kB/s':>15}"
        f" {'remux clip ms':>14} {'encode clip ms':>15}"
    )
    for name in args.videos.split(","):
        path = VIDEOS / name
        reader = packets_of(path)
        items = [item for _, item in reader.ring.since(-1)]
        duration = items and max(i.t for i in items) or 1.0
        packet_rate = sum(i.nbytes for i in items) / duration
        frames, fps = decoded(path, args.clip_seconds)
        frame_bytes = sum(p.buffer_size for p in frames[0].planes)
        with tempfile.TemporaryDirectory() as tmp:
            began = time.process_time()
            rec = ClipRecording(reader.ring, Path(tmp) / "remux.mp4", start=0.0)
            rec.stop_at(args.clip_seconds)
            rec.finish()
            remux = time.process_time() - began
            began = time.process_time()
            with ClipEncoder(Path(tmp) / "encode.mp4", fps) as encoder:
                for i, frame in enumerate(frames):
                    encoder.write(frame, i / fps)
            encode = time.process_time() - began
        print(
            f"{name:24} {frames[0].width}x{frames[0].height:<4} {packet_rate / 1e3:>13.0f} "
            f"{frame_bytes * fps / 1e3:>12.0f} {frame_bytes * 10 / 1e3:>15.0f} "
            f"{remux * 1e3:>14.0f} {encode * 1e3:>15.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
