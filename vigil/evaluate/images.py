"""`vigil eval images`: per-label box accuracy of model cards on a YOLO-format labelled set.

For each canonical label that both the set (through the class map) and the models provide:
ground-truth boxes, AP50, precision/recall/F1 at the card's operating threshold and at the
F1-best threshold, recall at IoU 0.3 (box-style differences show there), and inference ms.

Example:
    >>> from vigil.evaluate.dataset import load_set
    >>> report = evaluate_images(load_set(Path("set"), "valid"),  # doctest: +SKIP
    ...     {"Hardhat": "head_helmet"}, [FullFrame(detector)])
    >>> report.labels[0].ap50  # doctest: +SKIP
    0.011
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import supervision as sv

from vigil.detector.detector import Detector, class_labels, with_labels
from vigil.detector.labels import HEAD_BARE, HEAD_HELMET, IGNORE, PERSON
from vigil.evaluate.dataset import DatasetError, LabelledSet
from vigil.evaluate.metrics import PRF, LabelCounts, match_boxes
from vigil.evaluate.persons import PersonCounts

EVAL_CONF = 0.001  # keep (nearly) every box: AP needs the whole ranking


class InferencePath(Protocol):
    """Something that turns a BGR image into labelled detections, unthresholded."""

    name: str
    labels: frozenset[str]

    def __call__(self, image: np.ndarray) -> sv.Detections: ...

    def threshold(self, label: str) -> float: ...


class FullFrame:
    """A card's model on the whole frame at ``imgsz`` (the card's unless given), conf 0.001."""

    def __init__(
        self, detector: Detector, imgsz: int | None = None, conf: float = EVAL_CONF
    ) -> None:
        self.detector = detector
        self.imgsz = imgsz or detector.card.imgsz
        self.conf = conf
        self.name = f"{detector.name}@{self.imgsz}"
        self.labels = detector.card.labels
        self._labels = class_labels(detector.card, getattr(detector, "names", None) or {})

    def threshold(self, label: str) -> float:
        return self.detector.card.threshold(label)

    def __call__(self, image: np.ndarray) -> sv.Detections:
        if not hasattr(self.detector, "raw"):  # not a YOLO (a crop classifier): as it runs
            return self.detector(image)
        (result,) = self.detector.raw([image], self.conf, self.imgsz)
        return with_labels(result, self._labels)


@dataclass(frozen=True, slots=True)
class LabelReport:
    label: str
    path: str
    gt_boxes: int
    images: int
    ap50: float
    threshold: float
    at_threshold: PRF
    recall_iou30: float
    best_threshold: float
    at_best: PRF


@dataclass(slots=True)
class ImagesReport:
    set: str
    n_images: int
    labels: list[LabelReport] = field(default_factory=list)
    ms_per_image: dict[str, float] = field(default_factory=dict)
    persons: dict | None = None  # helmet status per labelled person (see persons.py)

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_images(
    labelled: LabelledSet,
    class_map: dict[str, str],
    paths: Sequence[InferencePath],
    limit: int | None = None,
    on_image: Callable[[int], None] | None = None,
) -> ImagesReport:
    """Run every path on every image of ``labelled`` and score the labels they share."""
    unknown = set(class_map) - set(labelled.names)
    if unknown:
        raise DatasetError(
            f"class map names {sorted(unknown)}, which are not classes of the set "
            f"({', '.join(labelled.names)})"
        )
    gt_label = {i: class_map.get(n, IGNORE) for i, n in enumerate(labelled.names)}
    provider: dict[str, InferencePath] = {}
    for path in paths:
        for label in path.labels:
            if label in class_map.values() and label not in provider:
                provider[label] = path
    if not provider:
        raise DatasetError(
            "no label in common between the class map "
            f"({', '.join(sorted(set(class_map.values()) - {IGNORE}))}) and the models' labels"
        )
    counts = {label: LabelCounts() for label in provider}
    counts30 = {label: LabelCounts() for label in provider}
    images_with = dict.fromkeys(provider, 0)
    seconds = dict.fromkeys((p.name for p in paths), 0.0)
    items = labelled.images[:limit] if limit else labelled.images
    head_path = provider.get(HEAD_BARE)
    per_person = PersonCounts() if head_path is not None and PERSON in class_map.values() else None
    for n, item in enumerate(items):
        image = cv2.imread(str(item.image))
        if image is None:
            raise DatasetError(f"{item.image}: not a readable image")
        h, w = image.shape[:2]
        cls, gt = item.boxes(w, h)
        gt_names = np.array([gt_label.get(int(c), IGNORE) for c in cls], dtype=object)
        predictions: dict[str, sv.Detections] = {}
        for path in paths:
            if path not in provider.values():
                continue
            began = time.process_time()
            predictions[path.name] = path(image)
            seconds[path.name] += time.process_time() - began
        for label, path in provider.items():
            det = predictions[path.name]
            mine = det[det.data["label"] == label] if len(det) else det
            truth = gt[gt_names == label]
            images_with[label] += int(len(truth) > 0)
            for iou, store in ((0.5, counts), (0.3, counts30)):
                tp = match_boxes(mine.xyxy, mine.confidence, truth, iou=iou)
                store[label].add(tp, mine.confidence, len(truth))
        if per_person is not None:
            det = predictions[head_path.name]
            operating = getattr(head_path, "operating", {})
            if len(det):
                limits = np.array(
                    [operating.get(lb, head_path.threshold(lb)) for lb in det.data["label"]]
                )
                det = det[det.confidence >= limits]
            per_person.add(
                gt[gt_names == PERSON],
                gt[np.isin(gt_names, [HEAD_BARE, HEAD_HELMET])],
                gt_names[np.isin(gt_names, [HEAD_BARE, HEAD_HELMET])],
                det.xyxy if len(det) else np.zeros((0, 4)),
                np.asarray(det.data["label"]) if len(det) else np.array([]),
            )
        if on_image:
            on_image(n + 1)
    report = ImagesReport(str(labelled.root), len(items))
    report.persons = per_person.as_dict() if per_person is not None else None
    report.ms_per_image = {
        name: round(1000 * s / max(len(items), 1), 1)
        for name, s in seconds.items()
        if name in {p.name for p in provider.values()}
    }
    for label, path in provider.items():
        c = counts[label]
        threshold = getattr(path, "operating", {}).get(label, path.threshold(label))
        best_t, best = c.best_f1(floor=0.05)
        report.labels.append(
            LabelReport(
                label=label,
                path=path.name,
                gt_boxes=c.n_gt,
                images=images_with[label],
                ap50=round(c.ap50(), 4),
                threshold=threshold,
                at_threshold=c.at(threshold),
                recall_iou30=counts30[label].at(threshold).recall,
                best_threshold=round(best_t, 3),
                at_best=best,
            )
        )
    return report


def set_name(root: Path) -> str:
    """A short name for a set folder: the part under ``data/`` if there is one."""
    parts = Path(root).resolve().parts
    return "/".join(parts[parts.index("data") + 1 :]) if "data" in parts else Path(root).name
