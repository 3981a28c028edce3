"""Does batching frames from several cameras into one predict call pay on this CPU?

For each default model: N frames (one per camera) run as N single-image calls, and as one
batch of N; with torch using 1 and 2 intra-op threads. Frames come from real footage: either
all the same size (N cameras of one kind), or of mixed sizes (ultralytics then letterboxes the
batch to a square, while a single image keeps its aspect ratio).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/inference_batching.py --cameras 4 --repeat 3

Prints milliseconds per frame for each (model, threads, shapes, mode).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import av
import numpy as np
import torch

from vigil.detector.cards import load_cards
from vigil.pipeline import load_detectors

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def frame_of(name: str, at: float = 2.0) -> np.ndarray:
    with av.open(str(VIDEOS / name)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at:
                return frame.to_ndarray(format="bgr24")
    raise RuntimeError(name)


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default="fall,fire,helmet")
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    same = [frame_of("fall_01.mp4", 1.0 + i) for i in range(args.cameras)]
    mixed_names = [
        "fall_01.mp4",
        "people_walking_01.mp4",
        "workers_helmets_01.mp4",
        "workers_no_hardhat_slideshow_01.mp4",
    ]
    mixed = [frame_of(mixed_names[i % len(mixed_names)]) for i in range(args.cameras)]
    cards = load_cards()
    detectors = load_detectors([cards[name] for name in args.models.split(",")])
    print(
        f"{'model':8} {'threads':>7} {'frames':>7} {'single ms/frame':>16} {'batch ms/frame':>15}"
    )
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for detector in detectors:
            for shapes, frames in (("same", same), ("mixed", mixed)):
                single = timed(lambda fs=frames, d=detector: [d(f) for f in fs], args.repeat)
                batch = timed(lambda fs=frames, d=detector: d.batch(fs), args.repeat)
                n = len(frames)
                print(
                    f"{detector.name:8} {threads:>7} {shapes:>7} {single / n * 1000:>16.0f} "
                    f"{batch / n * 1000:>15.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
