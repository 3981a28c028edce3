"""Share of images, in folders that show none of a card's labels, where the card still draws a
box of a label at or above each threshold: its false-box rate on negatives, per image.

Example (site photos have no smoke and no fire; RESULTS.md section 16):

    .venv/bin/python datasets/recipes/negatives_rate.py --card fire --imgsz 416 \\
        ../shared/data/helmet/construction_site_safety_v28_medoju/train/images
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from vigil.detector.cards import load_cards
from vigil.detector.detector import load_detector
from vigil.streams.sources import IMAGE_SUFFIXES

THRESHOLDS = (0.3, 0.36, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--card", default="fire")
    parser.add_argument("--imgsz", type=int, default=None, help="input size (card's)")
    args = parser.parse_args()
    detector = load_detector(load_cards()[args.card])
    for folder in args.folders:
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        top = {name: np.zeros(len(images)) for name in detector.names.values()}
        for i, path in enumerate(images):
            found = detector.raw([cv2.imread(str(path))], 0.05, args.imgsz)[0]
            for class_id, score in zip(found.class_id, found.confidence, strict=True):
                name = detector.names[int(class_id)]
                top[name][i] = max(top[name][i], float(score))
        report = {
            "folder": str(folder), "card": args.card, "imgsz": args.imgsz or detector.card.imgsz,
            "images": len(images),
            "share_with_a_box_at_or_above": {
                name: {str(t): round(float((scores >= t).mean()), 4) for t in THRESHOLDS}
                for name, scores in top.items()
            },
        }  # fmt: skip
        print(json.dumps(report))


if __name__ == "__main__":
    main()
