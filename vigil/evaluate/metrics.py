"""Box matching and detection metrics for one label.

Predictions are matched to ground truth greedily by confidence (COCO style): each prediction,
highest confidence first, takes the unmatched ground-truth box it overlaps most, if that IoU
reaches the threshold. AP comes from ultralytics' ``ap_per_class`` (COCO 101-point
interpolation); precision, recall and F1 at a threshold are counts over the matched predictions.

>>> gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
>>> pred = np.array([[0, 0, 10, 9], [50, 50, 60, 60]], float)
>>> match_boxes(pred, np.array([0.9, 0.8]), gt, iou=0.5).tolist()
[True, False]
>>> counts = LabelCounts.from_arrays(np.array([True, False]), np.array([0.9, 0.8]), n_gt=2)
>>> counts.at(0.5)
PRF(precision=0.5, recall=0.5, f1=0.5, tp=1, fp=1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from ultralytics.utils.metrics import ap_per_class, box_iou


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4 xyxy) with every box in ``b`` (M, 4): (N, M)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ta, tb = (torch.as_tensor(x, dtype=torch.float32) for x in (a, b))
    return box_iou(ta, tb).numpy()


def match_boxes(pred: np.ndarray, conf: np.ndarray, gt: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """For each prediction, whether it is a true positive (one ground-truth box at most each)."""
    tp = np.zeros(len(pred), dtype=bool)
    if len(pred) == 0 or len(gt) == 0:
        return tp
    ious = iou_matrix(pred, gt)
    taken = np.zeros(len(gt), dtype=bool)
    for i in np.argsort(-conf, kind="stable"):
        candidates = np.where(~taken & (ious[i] >= iou))[0]
        if len(candidates):
            j = candidates[np.argmax(ious[i, candidates])]
            taken[j] = True
            tp[i] = True
    return tp


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int


@dataclass(slots=True)
class LabelCounts:
    """Every prediction of one label over a set: whether it matched, and its confidence."""

    tp: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    conf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_gt: int = 0

    @classmethod
    def from_arrays(cls, tp: np.ndarray, conf: np.ndarray, n_gt: int) -> LabelCounts:
        return cls(np.asarray(tp, dtype=bool), np.asarray(conf, dtype=float), int(n_gt))

    def add(self, tp: np.ndarray, conf: np.ndarray, n_gt: int) -> None:
        self.tp = np.concatenate([self.tp, np.asarray(tp, dtype=bool)])
        self.conf = np.concatenate([self.conf, np.asarray(conf, dtype=float)])
        self.n_gt += int(n_gt)

    def at(self, threshold: float) -> PRF:
        """Precision, recall and F1 of the predictions with confidence >= ``threshold``."""
        keep = self.conf >= threshold
        tp = int(self.tp[keep].sum())
        fp = int(keep.sum()) - tp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / self.n_gt if self.n_gt else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return PRF(round(precision, 4), round(recall, 4), round(f1, 4), tp, fp)

    def best_f1(self, floor: float = 0.0) -> tuple[float, PRF]:
        """The confidence threshold (>= ``floor``) with the highest F1, and the PRF there."""
        candidates = np.unique(self.conf[self.conf >= floor])
        best = (floor, self.at(floor))
        for threshold in candidates:
            prf = self.at(float(threshold))
            if prf.f1 > best[1].f1:
                best = (float(threshold), prf)
        return best

    def ap50(self) -> float:
        """AP (COCO 101-point, ultralytics) of these matches; 0 without ground truth."""
        if self.n_gt == 0 or len(self.tp) == 0:
            return 0.0
        ap = ap_per_class(self.tp[:, None], self.conf, np.zeros(len(self.tp)), np.zeros(self.n_gt))[
            5
        ]
        return float(ap[0, 0]) if len(ap) else 0.0
