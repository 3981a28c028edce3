"""Does a worker's memory stay flat? A looped real video as a camera for several minutes.

Each camera loops fall_01.mp4 in real time with the fall rule (2 analysed frames/s by default),
so a fall event opens and ends (snapshot, clip, rows) every loop of 11.3 s: reading, decoding,
the pre-roll buffer, inference, tracking, the lifecycle and the evidence writer all turn over
many times. The process's resident memory (VmRSS) is sampled every ``--every`` seconds; the
first ``--warmup`` seconds (models loading, allocator pools filling) are left out of the slope.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/memory_soak.py --minutes 5

Prints the samples, then RSS after warm-up, at the end, and the least-squares slope in MB/min.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from pathlib import Path

from vigil.config import SiteConfig
from vigil.run import SiteRunner

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--every", type=float, default=15)
    parser.add_argument("--video", default="fall_01.mp4")
    parser.add_argument("--cameras", type=int, default=1)
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as data:
        cameras = [
            {
                "id": f"soak{i}",
                "source": str(VIDEOS / args.video),
                "loop": True,
                "fps": args.fps,
                "rules": {"fall": {}},
            }
            for i in range(args.cameras)
        ]
        runner = SiteRunner(
            SiteConfig.model_validate({"cameras": cameras, "storage": {"data_dir": data}})
        )
        stop = threading.Event()
        summary = {}
        thread = threading.Thread(target=lambda: summary.update(s=runner.run(stop)))
        began = time.monotonic()
        thread.start()
        samples: list[tuple[float, float]] = []
        while (elapsed := time.monotonic() - began) < args.minutes * 60:
            samples.append((elapsed / 60, rss_mb()))
            print(f"{elapsed:7.0f} s  RSS {samples[-1][1]:7.1f} MB", flush=True)
            time.sleep(args.every)
        stop.set()
        thread.join()
    steady = [(m, r) for m, r in samples if m * 60 >= args.warmup]
    peak = max(r for _, r in steady)
    run = summary["s"]
    print(
        f"cameras={args.cameras} minutes={args.minutes:g}: RSS after warm-up "
        f"{steady[0][1]:.1f} MB, at the end {steady[-1][1]:.1f} MB, max {peak:.1f} MB, "
        f"slope {slope(steady):+.2f} MB/min; events stored {run.events_written}, "
        f"frames analysed {sum(run.frames_analysed.values())}"
    )


if __name__ == "__main__":
    main()
