"""How many cameras at which analysis rate one `vigil run` worker sustains on this machine.

Each camera is a real video looped at its own pace (a simulated live camera: decoded in real
time, newest frame wins), so decoding, pre-roll, inference, tracking, rules and evidence all
run as they would on RTSP. For every (cameras, fps) pair the worker runs ``--seconds`` after
``--warmup``; a camera is sustained when it got at least 95 % of its analyses.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live_capacity.py --cameras 1,2 --fps 0.5,1 \\
        --seconds 40 --rules default

``--rules default`` is every rule that needs no zone (no_helmet, fall, smoke, fire: three
models); ``--rules fall`` only the fall model. Prints one line per run, with the load average
(the machine may be shared) and the worker's CPU use.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from vigil.config import SiteConfig
from vigil.run import SiteRunner

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
    with tempfile.TemporaryDirectory() as data:
        entries = []
        for i in range(cameras):
            camera = {"id": f"cam{i}", "source": str(VIDEOS / footage[i % len(footage)])}
            camera |= {"loop": True, "fps": fps}
            if RULES[rules] is not None:
                camera["rules"] = RULES[rules]
            entries.append(camera)
        site = SiteConfig.model_validate(
            {
                "cameras": entries,
                "storage": {"data_dir": data},
                "inference": {"threads": threads, "max_batch": max_batch},
            }
        )
        runner = SiteRunner(site)
        stop = threading.Event()
        result = {}
        thread = threading.Thread(target=lambda: result.update(s=runner.run(stop)))
        thread.start()
        time.sleep(warmup)
        counts0 = _counts(runner)
        cpu0, t0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        counts1 = _counts(runner)
        cpu1, t1 = time.process_time(), time.monotonic()
        stop.set()
        thread.join()
    rates = [(counts1[c] - counts0.get(c, 0)) / (t1 - t0) for c in counts1]
    return rates, (cpu1 - cpu0) / (t1 - t0), result["s"].events_written


def _counts(runner: SiteRunner) -> dict[str, int]:
    return dict(runner.analysed_counts())


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
