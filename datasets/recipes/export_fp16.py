"""Strip an ultralytics training checkpoint to a half-precision weight file for the repository.

Keeps the EMA model (or model) in fp16 plus the train args and metadata ultralytics needs to load
it; drops optimizer state. Example::

    python datasets/recipes/export_fp16.py /tmp/vigil_ft/runs/site_ppe/weights/last.pt \
        models/site_ppe_yolov8s.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location="cpu", weights_only=False)
    model = (ckpt.get("ema") or ckpt["model"]).half()
    slim = {
        "model": model,
        "ema": None,
        "optimizer": None,
        "epoch": -1,
        "updates": None,
        "train_args": ckpt.get("train_args", {}),
        "date": ckpt.get("date"),
        "version": ckpt.get("version"),
        "license": ckpt.get("license"),
        "docs": ckpt.get("docs"),
    }
    args.dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(slim, args.dst)
    print(f"{args.dst}: {args.dst.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
