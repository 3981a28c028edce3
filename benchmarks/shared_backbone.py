"""What one backbone pass for two cards would save: site_ppe and fall share their first layers.

site_ppe was fine-tuned from the fall card's YOLOv8s with its backbone frozen, so layers
0..``--split``-1 of the two checkpoints are equal tensor for tensor (checked here first). This
converts, with OpenVINO's PyTorch frontend, each card whole, the shared backbone, each card's
neck and head on the backbone's three feature maps, and the backbone with both heads in one
graph; then times each on random input of each ``--shape`` (a 16:9 frame letterboxed to 416
and to 640), one thread, BF16, median of ``--runs`` after a warm-up.

Needs torch and ultralytics (not a worker's run time). Example:

    .venv/bin/python benchmarks/shared_backbone.py

The machine is shared: quote one run's medians, and say so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import openvino as ov
import torch
from torch import nn

from vigil.detector.cards import load_cards
from vigil.detector.compat import load_yolo


def run_layers(model: nn.Module, saved: list, x, start: int, stop: int):
    """ultralytics' DetectionModel forward over layers start..stop-1, keeping what it saves."""
    for layer in model.model[start:stop]:
        if layer.f != -1:
            x = (
                saved[layer.f]
                if isinstance(layer.f, int)
                else [x if j == -1 else saved[j] for j in layer.f]
            )
        x = layer(x)
        saved.append(x if layer.i in model.save else None)
    return x


class Backbone(nn.Module):
    """Layers 0..split-1, returning the three maps the neck reads (P3, P4, P5)."""

    def __init__(self, model: nn.Module, split: int, taps: tuple[int, int]) -> None:
        super().__init__()
        self.model, self.split, self.taps = model, split, taps

    def forward(self, x):
        saved: list = []
        p5 = run_layers(self.model, saved, x, 0, self.split)
        return saved[self.taps[0]], saved[self.taps[1]], p5


class Head(nn.Module):
    """Layers split..end on the backbone's maps: the card's neck and detect head."""

    def __init__(self, model: nn.Module, split: int, taps: tuple[int, int]) -> None:
        super().__init__()
        self.model, self.split, self.taps = model, split, taps

    def forward(self, p3, p4, p5):
        saved: list = [None] * self.split
        saved[self.taps[0]], saved[self.taps[1]], saved[self.split - 1] = p3, p4, p5
        return run_layers(self.model, saved, p5, self.split, len(self.model.model))


class BackboneAndHeads(nn.Module):
    def __init__(self, backbone: Backbone, heads: list[Head]) -> None:
        super().__init__()
        self.backbone, self.heads = backbone, nn.ModuleList(heads)

    def forward(self, x):
        maps = self.backbone(x)
        return tuple(head(*maps) for head in self.heads)


def shared_layers(a: nn.Module, b: nn.Module) -> int:
    """How many leading layers of two models hold equal tensors (layers without any count)."""
    sa, sb = a.state_dict(), b.state_dict()
    for i in range(len(a.model)):
        keys = [k for k in sa if k.split(".")[1] == str(i)]
        if not all(k in sb and torch.equal(sa[k], sb[k]) for k in keys):
            return i
    return len(a.model)


def median_ms(compiled, inputs: dict, runs: int) -> float:
    request = compiled.create_infer_request()
    for _ in range(5):
        request.infer(inputs)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        request.infer(inputs)
        times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", default="site_ppe,fall")
    parser.add_argument("--split", type=int, default=10, help="layers in the backbone")
    parser.add_argument("--shape", action="append", default=None, help="HxW, repeatable")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cards = load_cards()
    names = args.cards.split(",")
    models = []
    for name in names:
        model = load_yolo(cards[name]).model.float().eval()
        model.fuse()
        head = model.model[-1]  # as ultralytics exports it: raw output, anchors per shape
        head.export, head.format, head.dynamic = True, "openvino", True
        models.append(model)
    equal = shared_layers(*models)
    if equal < args.split:
        raise SystemExit(f"only the first {equal} layers of {names} are equal, not {args.split}")
    taps = tuple(sorted(i for i in models[0].save if i < args.split - 1)[-2:])
    backbone = Backbone(models[0], args.split, taps)
    heads = [Head(m, args.split, taps) for m in models]
    core = ov.Core()
    config = {
        "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": 1,
    }  # fmt: skip

    def compiled(module: nn.Module, example):
        with torch.no_grad():
            converted = ov.convert_model(module, example_input=example)
        return core.compile_model(converted, "CPU", config)

    report = {"cards": names, "equal_layers": equal, "backbone_layers": args.split}
    for shape in args.shape or ["256x416", "384x640"]:
        h, w = (int(v) for v in shape.split("x"))
        x = torch.rand(1, 3, h, w)
        frame = {0: x.numpy()}
        times = {
            f"{name} whole": median_ms(compiled(model, x), frame, args.runs)
            for name, model in zip(names, models, strict=True)
        }
        backbone_model = compiled(backbone, x)
        times["backbone"] = median_ms(backbone_model, frame, args.runs)
        maps = backbone_model.create_infer_request().infer(frame)
        feeds = {i: np.array(maps[i]) for i in range(3)}
        tensors = tuple(torch.from_numpy(a) for a in feeds.values())
        for name, head in zip(names, heads, strict=True):
            times[f"{name} head"] = median_ms(compiled(head, tensors), feeds, args.runs)
        both = BackboneAndHeads(backbone, heads)
        times["backbone + both heads"] = median_ms(compiled(both, x), frame, args.runs)
        report[shape] = times
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
