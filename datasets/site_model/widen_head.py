"""Give a trained YOLO detector more classes while keeping what it learnt for the old ones.

Ultralytics drops a detection head whose class count differs from the data's, so a model
fine-tuned further with new labels would relearn its old labels from nothing. This builds
the same network with the new label list, copies every weight, and copies the old class
outputs' rows (the last 1x1 convolution of each scale's class branch) onto the labels of the
same name; new labels keep ultralytics' usual bias initialisation. The result loads with
``YOLO(path)`` and trains on data whose ``names`` are the new labels, in the same order.

Example (datasets/recipes/site_ppe_yolov8s.md, third fine-tune)::

    python datasets/site_model/widen_head.py models/site_ppe_yolov8s.pt /tmp/site_ppe_wide.pt \\
        head_helmet head_bare person vest no_vest vehicle machinery
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch


def widen(model: torch.nn.Module, labels: list[str]) -> torch.nn.Module:
    """A copy of ``model`` (an ultralytics DetectionModel) whose head predicts ``labels``."""
    from ultralytics.nn.tasks import DetectionModel

    old_names = [model.names[i] for i in sorted(model.names)]
    missing = [name for name in old_names if name not in labels]
    if missing:
        raise SystemExit(f"the new labels drop {missing}: list every old label")
    cfg = copy.deepcopy(model.yaml)
    cfg["nc"] = len(labels)
    wide = DetectionModel(cfg, nc=len(labels), verbose=False).float()
    old_state = model.float().state_dict()
    new_state = wide.state_dict()
    rows = torch.tensor([labels.index(name) for name in old_names])
    for key, value in new_state.items():
        old = old_state[key]
        if old.shape == value.shape:
            new_state[key] = old.clone()
        elif old.shape[0] == len(old_names) and value.shape[1:] == old.shape[1:]:
            new_state[key][rows] = old  # a class output: old rows onto their labels
        else:
            raise SystemExit(f"{key}: cannot map {tuple(old.shape)} onto {tuple(value.shape)}")
    wide.load_state_dict(new_state)
    wide.names = dict(enumerate(labels))
    wide.args = getattr(model, "args", {})
    return wide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="a trained ultralytics checkpoint")
    parser.add_argument("dst", type=Path)
    parser.add_argument("labels", nargs="+", help="every label, old ones included, in id order")
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location="cpu", weights_only=False)
    wide = widen(ckpt.get("ema") or ckpt["model"], args.labels)
    torch.save({**ckpt, "model": wide.half(), "ema": None, "optimizer": None}, args.dst)
    print(f"{args.dst}: {len(args.labels)} labels, old classes carried over")


if __name__ == "__main__":
    main()
