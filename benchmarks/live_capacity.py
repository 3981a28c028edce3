"""How many cameras at which analysis rate one `vigil run` worker sustains on this machine.

Each camera is a real video looped at its own pace (a simulated live camera: decoded in real
time, newest frame wins), so decoding, pre-roll, inference, tracking, rules and evidence all
run as they would on RTSP. For every (cameras, fps) pair the worker runs ``--seconds`` after
``--warmup``; a camera is sustained when it got at least 95 % of its analyses.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live_capacity.py --cameras 1,2 --fps 0.5,1 \\
        --seconds 40 --rules default

``--rules default`` is every rule that needs no zone (no_helmet, fall, smoke, fire: three
models); ``--rules fall`` only the fall model. The measurement is `vigil bench`'s
(:mod:`vigil.bench`, which serves the videos over RTSP instead); the site's default gating
applies. Prints one line per run, with the load average
(the machine may be shared) and the worker's CPU use.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

import yaml

from vigil.bench import BenchPlan, measure_pipeline

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
FOOTAGE = [
    "people_walking_02.mp4",
    "fall_01.mp4",
    "workers_helmets_01.mp4",
    "fire_01.mp4",
    "workers_no_hardhat_slideshow_01.mp4",
    "smoke_01.mp4",
    "people_walking_01.mp4",
    "workers_helmets_02.mp4",
]
RULES = {"default": None, "fall": {"fall": {}}, "fire": {"fire": {}, "smoke": {}}}


def measure(
    cameras: int,
    fps: float,
    seconds: float,
    warmup: float,
    rules: str,
    threads: int,
    max_batch: int = 1,
    footage: list[str] = FOOTAGE,
):
    """Per-camera analysed rates, CPU cores used and events raised: `vigil bench`'s
    measurement (:func:`vigil.bench.measure_pipeline`) on looped file cameras."""
    videos = [VIDEOS / footage[i % len(footage)] for i in range(cameras)]
    with tempfile.TemporaryDirectory() as tmp:
        template: dict = {"id": "template", "source": str(videos[0])}
        if RULES[rules] is not None:
            template["rules"] = RULES[rules]
        site = Path(tmp) / "site.yaml"
        site.write_text(
            yaml.safe_dump({"cameras": [template], "inference": {"max_batch": max_batch}})
        )
        plan = BenchPlan(cameras, fps, seconds, warmup, videos, threads=threads, config=site)
        urls = {f"cam{i}": str(video) for i, video in enumerate(videos)}
        result = measure_pipeline(plan, urls, "gated")
    rates = list(result["analysed_fps_per_camera"].values())
    return rates, result["cpu_per_second"], result["events_raised"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", default="1,2")
    parser.add_argument("--fps", default="0.5,1")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--rules", choices=sorted(RULES), default="default")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for inference")
    parser.add_argument("--max-batch", type=int, default=1, help="same-size frames per call")
    parser.add_argument(
        "--same-footage", action="store_true", help="every camera loops fall_01.mp4 (one size)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(
        f"rules={args.rules} threads={args.threads} max_batch={args.max_batch} "
        f"window={args.seconds:g}s cores={os.cpu_count()}"
    )
    print(f"{'cams':>4} {'fps':>5} {'analysed/s per camera':>30} {'ok':>4} {'cpu':>5} {'load':>5}")
    for cameras in map(int, args.cameras.split(",")):
        for fps in map(float, args.fps.split(",")):
            footage = ["fall_01.mp4"] if args.same_footage else FOOTAGE
            rates, cpu, _ = measure(
                cameras,
                fps,
                args.seconds,
                args.warmup,
                args.rules,
                args.threads,
                args.max_batch,
                footage,
            )
            ok = all(r >= 0.95 * fps for r in rates)
            shown = " ".join(f"{r:.2f}" for r in rates)
            print(
                f"{cameras:>4} {fps:>5g} {shown:>30} {'yes' if ok else 'no':>4} "
                f"{cpu:>5.2f} {os.getloadavg()[0]:>5.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
