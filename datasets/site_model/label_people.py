"""Label the people of a merged set's kafeel images with the shipped site_ppe, so that the loss
need not mask ``person`` there (RESULTS.md section 18, second run).

Adds ``person`` boxes (class 2 of the helmet sources' labels) at or above ``conf`` to every
``kafeel__*`` label file of the set built from ``helmet_sources.yaml``, and marks person as
labelled for kafeel in ``sources.json``. Run it on a copy of the built set. Example::

    python datasets/site_model/label_people.py ~/.cache/vigil/helmet_pl/data --conf 0.35
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from vigil.detector.cards import load_cards
from vigil.detector.detector import load_detector

PERSON_ID = 2  # helmet_sources.yaml: [head_helmet, head_bare, person]


def yolo_row(xyxy: list[float], width: int, height: int) -> str:
    """A YOLO label line for a person box.

    >>> yolo_row([10.0, 20.0, 30.0, 60.0], 100, 100)
    '2 0.200000 0.400000 0.200000 0.400000'
    """
    x1, y1, x2, y2 = xyxy
    cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"{PERSON_ID} {cx:.6f} {cy:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the built set (holds sources.json)")
    parser.add_argument("--conf", type=float, default=0.35, help="site_ppe's person threshold")
    args = parser.parse_args()
    detector = load_detector(load_cards()["site_ppe"])
    person = next(k for k, v in detector.names.items() if v == "person")
    images = boxes = 0
    for split in ("train", "val"):
        for image in sorted((args.root / split / "images").glob("kafeel__*")):
            pixels = cv2.imread(str(image))
            height, width = pixels.shape[:2]
            found = detector.raw([pixels], args.conf)[0]  # at the card's size
            rows = [
                yolo_row([float(v) for v in xyxy], width, height)
                for k, xyxy in zip(found.class_id, found.xyxy, strict=True)
                if int(k) == person
            ]
            label = args.root / split / "labels" / f"{image.stem}.txt"
            kept = [r for r in (label.read_text().splitlines() if label.exists() else []) if r]
            label.write_text("\n".join(kept + rows) + "\n")
            images, boxes = images + 1, boxes + len(rows)
    sources = json.loads((args.root / "sources.json").read_text())
    sources["labelled"]["kafeel"] = [0, 1, PERSON_ID]
    (args.root / "sources.json").write_text(json.dumps(sources, indent=1))
    print(f"{images} kafeel images, {boxes} person boxes at >= {args.conf}")


if __name__ == "__main__":
    main()
