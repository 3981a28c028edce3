"""Images/s of the site model's training data pipeline on one CPU core (ultralytics' train
dataset: mosaic, random affine, HSV, flips; images cached in RAM as on the device machine).

On the device machine training is bound by this pipeline, not by the H200 (datasets/recipes/
site_model.md): images/s per core x dataloader workers bounds the images/s of training.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/site_model_loader.py \\
        ~/.cache/vigil/site_model/data/data.yaml --images 300
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="data.yaml written by site_train.py build")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[416, 320])
    parser.add_argument("--images", type=int, default=300)
    args = parser.parse_args()
    if not args.data.is_file():
        raise SystemExit(f"data.yaml not found: {args.data}")
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.data import build_yolo_dataset
    from ultralytics.data.utils import check_det_dataset

    torch.set_num_threads(1)
    data = check_det_dataset(str(args.data))
    for imgsz in args.imgsz:
        cfg = get_cfg(overrides={"imgsz": imgsz, "cache": "ram"})
        ds = build_yolo_dataset(cfg, data["train"], batch=64, data=data, mode="train")
        n = min(args.images, len(ds))
        ds[0]  # warm up
        began = time.perf_counter()
        for i in range(n):
            ds[i]
        took = time.perf_counter() - began
        print(f"imgsz {imgsz}: {n} images in {took:.1f} s = {n / took:.0f} images/s on one core")


if __name__ == "__main__":
    main()
