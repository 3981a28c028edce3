"""Calibrate each default rule's threshold and confirmation on the videos with ground truth,
with leave-one-video-out cross-validation (vigil.evaluate.calibrate). Needs the per-frame box
cache that `vigil eval videos --cache DIR` fills (or fills it, slowly, on the first run).

    OMP_NUM_THREADS=1 python datasets/recipes/calibrate_rules.py --cache /tmp/vigil_eval/cache \
        --json datasets/results/calibration.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vigil.config import detect_site
from vigil.evaluate.calibrate import calibrate
from vigil.evaluate.groundtruth import load_ground_truth_dir

KN = [(1, 1), (2, 3), (3, 5), (4, 5), (5, 5)]
DURATIONS = [0.0, 1.0, 2.0, 3.0]
GRIDS = {
    "smoke": ("smoke", [None, 0.3, 0.4, 0.5, 0.6, 0.7], {"min_area": [0.0005, 0.005, 0.02]}),
    "fire": ("fire", [None, 0.2, 0.4, 0.5, 0.6], {"min_area": [0.0005, 0.002, 0.01]}),
    "fall": ("person_fallen", [None, 0.4, 0.6, 0.7, 0.8], {}),
    "no_helmet": ("head_bare", [None, 0.25, 0.3, 0.5, 0.6, 0.7], {}),
}
# With the false-alarm filters of smoke and fire (max_area, min_motion): a smaller grid, since
# each candidate replays the pixels too.
FILTER_KN = [(1, 1), (2, 3), (3, 5), (5, 5)]
FILTER_DURATIONS = [0.0, 1.0, 2.0]
FILTER_GRIDS = {
    "smoke": (
        "smoke",
        [None, 0.3, 0.5, 0.6, 0.7],
        {"max_area": [1.0, 0.8], "min_motion": [0.0, 1.0]},
    ),
    "fire": ("fire", [None, 0.2, 0.4, 0.5, 0.6], {"max_area": [1.0], "min_motion": [0.0, 1.0]}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", type=Path, default=Path("datasets/ground_truth"))
    parser.add_argument("--videos", type=Path, default=Path("../shared/data/videos"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vigil_eval/cache"))
    parser.add_argument("--rules", nargs="+", default=list(GRIDS))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--filters", action="store_true", help="smoke/fire with their filters")
    args = parser.parse_args()
    truths = load_ground_truth_dir(args.gt)
    out = {}
    for rule in args.rules:
        grids, kn, durations = (
            (FILTER_GRIDS, FILTER_KN, FILTER_DURATIONS) if args.filters else (GRIDS, KN, DURATIONS)
        )
        label, thresholds, extra = grids[rule]
        r = calibrate(
            rule, label, truths, args.videos, detect_site(), thresholds, kn, durations,
            cache_dir=args.cache, extra=extra,
        )  # fmt: skip
        out[rule] = {
            "label": label,
            "default": r.default_score.as_dict(),
            "held_out_leave_one_video_out": r.held_out.as_dict(),
            "chosen_on_all": r.best.as_dict(),
            "chosen_on_all_score_tuned_on": r.best_score.as_dict(),
            "chosen_per_fold": {v: c.as_dict() for v, c in r.chosen_per_fold.items()},
        }
        d, h = r.default_score, r.held_out
        print(
            f"{rule}: default R={d.recall} P={d.precision} FA={d.false_alarms} | held-out "
            f"R={h.recall} P={h.precision} FA={h.false_alarms} FA/h={h.false_alarms_per_hour} "
            f"| ship {r.best.as_dict()}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
