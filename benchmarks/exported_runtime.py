"""What an OpenVINO export saves: CPU per frame, and a worker's memory without PyTorch.

speed: one card run by PyTorch (ultralytics), by its OpenVINO FP32 export (in float32 and in
bfloat16) and by its INT8 export, one thread each (torch.set_num_threads, OpenVINO's
INFERENCE_NUM_THREADS), on frames of the ten shared videos (3 per video, their own sizes), at
the card's imgsz: CPU ms per frame (process time, whole detector call: letterbox, inference,
decode, NMS, thresholds), median over the frames after a warm-up pass, best of ``--repeat``
passes.

rss: for each runtime, a fresh process imports vigil, loads the card (or several: --card
a,b,c, as a worker running them) and detects on one frame with each; it reports its peak RSS
(VmHWM), its RSS after, and whether torch got imported.

Make the exports first (`vigil models export NAME` and `--int8`). Example:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/exported_runtime.py --card site_ppe

The machine is shared: quote medians of one run, and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
RUNTIMES = ("pytorch", "openvino-fp32", "openvino-bf16", "openvino-int8")

CHILD = """
import json, sys, cv2
from vigil.detector.cards import load_cards
from vigil.detector.detector import load_detector, set_inference_threads
names, runtime, image = sys.argv[1:4]
set_inference_threads(1)
for name in names.split(","):
    update = {"runtime": "ultralytics"}
    if runtime != "pytorch":
        update = {"runtime": "openvino", "precision": runtime.split("-")[1]}
    card = load_cards()[name].model_copy(update=update)
    detector = load_detector(card)
    detector(cv2.imread(image))
# VmHWM, not ru_maxrss: Linux carries the parent's peak over exec into ru_maxrss.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
mb = {k: round(int(status[k].split()[0]) / 1024) for k in ("VmHWM", "VmRSS")}
print(json.dumps({"runtime": runtime, "class": type(detector).__name__,
                  "peak_rss_mb": mb["VmHWM"], "rss_mb": mb["VmRSS"],
                  "torch_imported": "torch" in sys.modules}))
"""


def frames(per_video: int = 3) -> list[np.ndarray]:
    """``per_video`` frames of each shared video, spread over its length."""
    out = []
    for video in sorted(VIDEOS.glob("*.mp4")):
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            length = float(stream.duration * stream.time_base) if stream.duration else 10.0
            marks = [length * (i + 1) / (per_video + 1) for i in range(per_video)]
            for frame in container.decode(video=0):
                if marks and frame.time >= marks[0]:
                    out.append(frame.to_ndarray(format="bgr24"))
                    marks.pop(0)
                if not marks:
                    break
    return out


def detector_for(name: str, runtime: str):
    from vigil.detector.cards import load_cards
    from vigil.detector.detector import load_detector
    from vigil.detector.exported import OpenVinoDetector

    card = load_cards()[name]
    if runtime == "pytorch":
        return load_detector(card.model_copy(update={"runtime": "ultralytics"}))
    precision = runtime.split("-")[1]
    # Directly, not load_detector: a missing export must fail here, not fall back to PyTorch.
    return OpenVinoDetector.load(
        card.model_copy(update={"runtime": "openvino", "precision": precision})
    )


def cpu_ms(detector, images: list[np.ndarray], repeat: int) -> float:
    for image in images:  # warm-up (and OpenVINO compiles each input shape once)
        detector(image)
    best = []
    for _ in range(repeat):
        times = []
        for image in images:
            began = time.process_time()
            detector(image)
            times.append(time.process_time() - began)
        best.append(statistics.median(times) * 1000)
    return min(best)


def speed(name: str, repeat: int, runtimes: tuple[str, ...] = RUNTIMES) -> None:
    import torch

    from vigil.detector.detector import set_inference_threads

    torch.set_num_threads(1)
    set_inference_threads(1)
    images = frames()
    print(f"{name}: {len(images)} frames of {len(set(i.shape for i in images))} sizes, 1 thread")
    base = None
    for runtime in runtimes:
        ms = cpu_ms(detector_for(name, runtime), images, repeat)
        base = base or ms
        ratio = f"x{base / ms:.2f} vs {runtimes[0]}"
        print(f"  {runtime:14s} {ms:7.1f} ms CPU per frame (median)  {ratio}")


def rss(name: str, runtimes: tuple[str, ...] = RUNTIMES) -> None:
    from ultralytics.utils import ASSETS

    image = str(ASSETS / "bus.jpg")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for runtime in runtimes:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, name, runtime, image],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        row = json.loads(done.stdout)
        print(
            f"  {runtime:14s} peak RSS {row['peak_rss_mb']:5d} MB, after {row['rss_mb']:5d} MB, "
            f"torch imported: {row['torch_imported']} ({row['class']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--card", default="site_ppe", help="speed: one card; rss: a,b,c too")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the frames")
    parser.add_argument("--only", choices=["speed", "rss"], help="one of the two measurements")
    parser.add_argument(
        "--runtimes",
        default=",".join(RUNTIMES),
        help="a,b,...: some of the runtimes (e.g. without openvino-int8 when there is no INT8 "
        "export); the first is the base of the ratios",
    )
    args = parser.parse_args()
    runtimes = tuple(args.runtimes.split(","))
    unknown = sorted(set(runtimes) - set(RUNTIMES))
    if unknown:
        parser.error(f"--runtimes: unknown {', '.join(unknown)} (known: {', '.join(RUNTIMES)})")
    if args.only != "rss":
        speed(args.card, args.repeat, runtimes)
    if args.only != "speed":
        print(f"{args.card}: one process per runtime, loads the card(s), one frame (bus.jpg)")
        rss(args.card, runtimes)


if __name__ == "__main__":
    main()
