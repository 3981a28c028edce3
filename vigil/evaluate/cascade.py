"""Inference paths for small heads, to measure against the full frame (issue: small heads).

- :class:`PersonCascade`: detect people on the whole frame, crop the top of each person box
  (the head and shoulders), upscale it, run the helmet model on the crop, map its boxes back.
- :class:`Tiled`: run a model on overlapping tiles of the frame (plus the whole frame), merge
  with NMS.

Both are :class:`~vigil.evaluate.images.InferencePath` objects, so ``evaluate_images`` scores
them like the full-frame path.

>>> upper_crop((10, 20, 110, 320), (480, 640), top=0.4, pad=0.1)
(0, 0, 120, 170)
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.detector.detector import (
    CardDetector,
    Detector,
    class_labels,
    empty_detections,
    with_labels,
)
from vigil.detector.labels import PERSON
from vigil.evaluate.images import EVAL_CONF, FullFrame


def upper_crop(
    xyxy: tuple[float, float, float, float], shape: tuple[int, int], top: float, pad: float
) -> tuple[int, int, int, int]:
    """Integer crop of the top ``top`` of a person box, widened by ``pad`` of its size."""
    x1, y1, x2, y2 = xyxy
    w, h = x2 - x1, y2 - y1
    height, width = shape
    cx1 = int(max(0, x1 - pad * w))
    cy1 = int(max(0, y1 - pad * h))
    cx2 = int(min(width, x2 + pad * w))
    cy2 = int(min(height, y1 + top * h + pad * h))
    return cx1, cy1, cx2, cy2


class PersonCascade:
    """People first, then the helmet model on each person's upper body (see module docstring)."""

    def __init__(
        self,
        people: Detector,
        heads: CardDetector,
        imgsz: int = 320,
        top: float = 0.4,
        pad: float = 0.1,
        person_conf: float = 0.25,
        max_people: int = 20,
    ) -> None:
        self.people = FullFrame(people, conf=person_conf)
        self.heads = heads
        self.imgsz, self.top, self.pad, self.max_people = imgsz, top, pad, max_people
        self.name = f"cascade({people.name}->{heads.name}@{imgsz})"
        self.labels = heads.card.labels
        self._labels = class_labels(heads.card, heads.names)

    def threshold(self, label: str) -> float:
        return self.heads.card.threshold(label)

    def __call__(self, image: np.ndarray) -> sv.Detections:
        people = self.people(image)
        people = people[people.data["label"] == PERSON] if len(people) else people
        if len(people) == 0:
            return empty_detections()
        order = np.argsort(-people.confidence)[: self.max_people]
        crops, offsets = [], []
        for i in order:
            x1, y1, x2, y2 = upper_crop(tuple(people.xyxy[i]), image.shape[:2], self.top, self.pad)
            if x2 - x1 >= 4 and y2 - y1 >= 4:
                crops.append(image[y1:y2, x1:x2])
                offsets.append((x1, y1))
        if not crops:
            return empty_detections()
        results = self.heads.raw(crops, EVAL_CONF, self.imgsz)
        parts = []
        for result, (ox, oy) in zip(results, offsets, strict=True):
            det = with_labels(result, self._labels)
            if len(det):
                det.xyxy = det.xyxy + np.array([ox, oy, ox, oy], dtype=float)
                parts.append(det)
        if not parts:
            return empty_detections()
        merged = sv.Detections.merge(parts)
        # Overlapping crops see the same head twice: keep the most confident box.
        return merged.with_nms(threshold=0.5, class_agnostic=True)


class Tiled:
    """A model on a grid of overlapping tiles (``grid`` x ``grid``) and on the whole frame."""

    def __init__(self, detector: Detector, grid: int = 2, overlap: float = 0.2) -> None:
        self.full = FullFrame(detector)
        self.detector = detector
        self.grid, self.overlap = grid, overlap
        self.name = f"tiled{grid}x{grid}({detector.name}@{detector.card.imgsz})"
        self.labels = detector.card.labels

    def threshold(self, label: str) -> float:
        return self.detector.card.threshold(label)

    def __call__(self, image: np.ndarray) -> sv.Detections:
        h, w = image.shape[:2]
        tw, th = w / self.grid, h / self.grid
        parts = [self.full(image)]
        for gy in range(self.grid):
            for gx in range(self.grid):
                x1 = int(max(0, gx * tw - self.overlap * tw))
                y1 = int(max(0, gy * th - self.overlap * th))
                x2 = int(min(w, (gx + 1) * tw + self.overlap * tw))
                y2 = int(min(h, (gy + 1) * th + self.overlap * th))
                det = self.full(image[y1:y2, x1:x2])
                if len(det):
                    det.xyxy = det.xyxy + np.array([x1, y1, x1, y1], dtype=float)
                    parts.append(det)
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_detections()
        return sv.Detections.merge(parts).with_nms(threshold=0.5, class_agnostic=True)
