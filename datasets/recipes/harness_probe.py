"""Fit and measure the harness classifier: a logistic regression on the frozen YOLOv8s backbone
of the fall card, over ../shared/data/harness (image-level safe / not_safe), then check it on
person crops from worker footage. Writes models/harness_probe.pt (a few kB) and a JSON report.

    OMP_NUM_THREADS=1 python datasets/recipes/harness_probe.py \
        --json datasets/results/harness_probe.json --out models/harness_probe.pt

Split: images de-duplicated by an 8x8 average hash (the set has repeats), then 70/30 stratified
with seed 0; the 30 % is never used for fitting or for choosing anything.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import cv2
import numpy as np
import torch

from vigil.detector.cards import load_cards
from vigil.detector.crop_classifier import BackboneFeatures, LinearHead
from vigil.pipeline import load_detectors
from vigil.streams.file import FileSource, Sampler

DATA = Path("../shared/data/harness/safety_harness_safe_notsafe_eunsoo-suk")


def ahash(image: np.ndarray) -> int:
    small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (8, 8), cv2.INTER_AREA)
    bits = (small > small.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def load_split(seed: int = 0) -> tuple[list, list]:
    items, seen = [], set()
    for label, positive in (("safe", 1), ("not_safe", 0)):
        for path in sorted((DATA / label).glob("*.jpg")):
            image = cv2.imread(str(path))
            if image is None:
                continue
            h = ahash(image)
            if h in seen:
                continue
            seen.add(h)
            items.append((path, image, positive))
    rng = random.Random(seed)
    train, test = [], []
    for positive in (1, 0):
        group = [it for it in items if it[2] == positive]
        rng.shuffle(group)
        cut = round(0.7 * len(group))
        train += group[:cut]
        test += group[cut:]
    return train, test


def person_crops(items: list, detector, degrade: bool) -> list:
    """Each image's most confident person crop (the whole image if none is found); with
    ``degrade``, also a copy shrunk to 64 px tall and back, as a far camera would see it."""
    out = []
    for path, image, positive in items:
        det = detector(image)
        crop = image
        if len(det):
            x1, y1, x2, y2 = (int(v) for v in det.xyxy[int(det.confidence.argmax())])
            if x2 - x1 >= 16 and y2 - y1 >= 16:
                crop = image[y1:y2, x1:x2]
        out.append((path, crop, positive))
        if degrade:
            h, w = crop.shape[:2]
            scale = 64 / max(h, 1)
            if scale < 1:
                small = cv2.resize(crop, (max(1, round(w * scale)), 64), cv2.INTER_AREA)
                out.append((path, cv2.resize(small, (w, h)), positive))
    return out


def fit(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-2) -> LinearHead:
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y.float())
        loss = loss + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LinearHead(mean, std, w.detach(), float(b.detach()))


def prf(scores: np.ndarray, y: np.ndarray, t: float = 0.5) -> dict:
    pred = scores >= t
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    return {
        "accuracy": round((tp + tn) / len(y), 3),
        "harness_precision": round(tp / max(tp + fp, 1), 3),
        "harness_recall": round(tp / max(tp + fn, 1), 3),
        "no_harness_recall": round(tn / max(tn + fp, 1), 3),
        "n": len(y),
    }


def footage(features: BackboneFeatures, head: LinearHead, video: Path, fall_detector) -> dict:
    """Share of person crops called 'harness' (1 frame per second)."""
    sampler, scores = Sampler(1.0), []
    for frame in FileSource(video):
        if not sampler.take(frame.pts):
            continue
        det = fall_detector(frame.image)
        crops = [frame.image[int(y1) : int(y2), int(x1) : int(x2)] for x1, y1, x2, y2 in det.xyxy]
        crops = [c for c in crops if c.size and min(c.shape[:2]) >= 16]
        if crops:
            scores += head(features(crops)).tolist()
    s = np.array(scores)
    return {
        "person_crops": len(s),
        "called_harness": round(float((s >= 0.5).mean()), 3) if len(s) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument(
        "--person-crops",
        action="store_true",
        help="train and test on the person crop of each image (plus degraded copies for training)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    card = load_cards()["fall"]
    (fall,) = load_detectors([card])
    features = BackboneFeatures(fall.model.model, layers=10, imgsz=args.imgsz)
    train, test = load_split()
    if args.person_crops:
        train = person_crops(train, fall, degrade=True)
        test = person_crops(test, fall, degrade=False)

    def feats(items):
        return torch.cat(
            [features([it[1] for it in items[i : i + 16]]) for i in range(0, len(items), 16)]
        )

    xtr, xte = feats(train), feats(test)
    ytr = torch.tensor([it[2] for it in train])
    yte = np.array([it[2] for it in test])
    head = fit(xtr, ytr)
    report = {
        "person_crops": args.person_crops,
        "train_images": len(train),
        "test_images": len(test),
        "test": prf(head(xte).numpy(), yte),
        "train_fit": prf(head(xtr).numpy(), ytr.numpy()),
        "footage": {
            name: footage(features, head, Path("../shared/data/videos") / name, fall)
            for name in (
                "workers_harness_01.mp4",
                "workers_helmets_01.mp4",
                "people_walking_02.mp4",
            )
        },
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.out:
        torch.save(
            {
                "backbone_card": "fall",
                "layers": 10,
                "imgsz": args.imgsz,
                "mean": head.mean,
                "std": head.std,
                "weight": head.weight,
                "bias": head.bias,
                "classes": ["no_harness", "harness"],
            },
            args.out,
        )


if __name__ == "__main__":
    main()
