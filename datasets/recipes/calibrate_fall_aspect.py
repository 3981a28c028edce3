"""Precision/recall of ``person_fallen``, counting only boxes at least ``a`` times as wide as tall.

The ``fall`` rule's ``min_aspect`` keeps a fallen box only when width / height >= min_aspect (a
person lying on the floor, seen from the side, is wider than tall; seated and crouching workers
are not). This measures what each value costs in box recall on a labelled fall set and what it
gains in precision, at the card's operating threshold and IoU 0.5. Choose on one half
(``--part 0/2``), report on the other.

Example::

    OMP_NUM_THREADS=1 python datasets/recipes/calibrate_fall_aspect.py \
        ../shared/data/fall/hospital_bed_v3_rvbaghel --split valid --part 0/2 \
        --map-file datasets/class_maps/rvbaghel_fall.yaml
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from vigil.detector.cards import load_cards
from vigil.detector.detector import load_detector
from vigil.detector.labels import PERSON_FALLEN
from vigil.evaluate.dataset import load_class_map, load_set
from vigil.evaluate.images import FullFrame
from vigil.evaluate.metrics import LabelCounts, match_boxes
from vigil.events.rules.fall import width_over_height

ASPECTS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--part", default=None, help="k/n: the k-th of n interleaved parts")
    parser.add_argument("--map-file", type=Path, required=True)
    parser.add_argument("--card", default="fall")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    card = load_cards()[args.card]
    path = FullFrame(load_detector(card))
    threshold = card.threshold(PERSON_FALLEN)
    labelled = load_set(args.root, args.split)
    if args.part:
        labelled = labelled.part(args.part)
    class_map = load_class_map(args.map_file)
    gt_label = {i: class_map.get(n) for i, n in enumerate(labelled.names)}
    counts = {a: LabelCounts() for a in ASPECTS}
    for item in labelled:
        image = cv2.imread(str(item.image))
        h, w = image.shape[:2]
        cls, gt = item.boxes(w, h)
        truth = gt[np.array([gt_label.get(int(c)) == PERSON_FALLEN for c in cls], dtype=bool)]
        det = path(image)
        det = det[(det.data["label"] == PERSON_FALLEN) & (det.confidence >= threshold)]
        aspect = width_over_height(det.xyxy)
        for a, store in counts.items():
            keep = det[aspect >= a] if len(det) else det
            store.add(match_boxes(keep.xyxy, keep.confidence, truth), keep.confidence, len(truth))
    rows = [{"min_aspect": a, **asdict(c.at(threshold))} for a, c in counts.items()]
    print(
        f"{labelled.root} {args.split} {args.part or ''}: {len(labelled)} images, "
        f"{counts[0.0].n_gt} fallen boxes, threshold {threshold}"
    )
    for row in rows:
        print(
            "min_aspect {min_aspect:.1f}: P {precision:.3f} R {recall:.3f} F1 {f1:.3f} "
            "(tp {tp}, fp {fp})".format(**row)
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "set": str(labelled.root),
                    "part": args.part,
                    "threshold": threshold,
                    "rows": rows,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
