"""Motion inside smoke and fire boxes, between consecutive analysed frames.

Flames flicker and smoke drifts; a static look-alike (a hi-vis vest on a parked worker, an orange
sign, a still image) does not change at all. :class:`RegionMotion` stores, for every smoke/fire
box, the mean absolute grey-level change inside the box since the previous analysed frame (on a
downscaled grey copy, so it costs well under a millisecond) in ``data["motion"]``; other boxes,
and every box of the first frame, get NaN (unknown). Rules may drop boxes whose motion is below
a floor (``min_motion``); on a moving camera every box moves, so the filter then does nothing.

>>> import numpy as np, supervision as sv
>>> rm = RegionMotion()
>>> still = np.full((64, 64, 3), 100, np.uint8)
>>> def boxes():
...     return sv.Detections(xyxy=np.array([[0.0, 0, 32, 32]]), confidence=np.array([0.9]),
...                          data={"label": np.array(["fire"], dtype=object)})
>>> rm.annotate(boxes(), still).data["motion"].tolist()
[nan]
>>> rm.annotate(boxes(), still).data["motion"].tolist()
[0.0]
"""

from __future__ import annotations

import cv2
import numpy as np
import supervision as sv

from vigil.detector.labels import FIRE, SMOKE

REGION_LABELS = frozenset({SMOKE, FIRE})
WORK_WIDTH = 320  # the grey copy's width; boxes are scaled to it


class RegionMotion:
    """Per camera: remembers the previous analysed frame's grey copy."""

    def __init__(self, labels: frozenset[str] = REGION_LABELS) -> None:
        self.labels = labels
        self._previous: np.ndarray | None = None

    def annotate(self, detections: sv.Detections, image: np.ndarray) -> sv.Detections:
        """``detections`` with ``data["motion"]`` set (see module docstring); keeps a value a
        stand-in detector already put there."""
        if image.ndim != 3 or image.shape[2] != 3:
            return detections  # no pixels (a replay that carries motion itself)
        h, w = image.shape[:2]
        scale = min(1.0, WORK_WIDTH / max(w, 1))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        if len(detections) == 0 or "motion" in detections.data:
            return detections
        motion = np.full(len(detections), np.nan)
        if previous is not None and previous.shape == grey.shape:
            for i, label in enumerate(detections.data["label"]):
                if label in self.labels:
                    motion[i] = box_motion(previous, grey, detections.xyxy[i] * scale)
        detections.data["motion"] = motion
        return detections


def box_motion(previous: np.ndarray, current: np.ndarray, xyxy: np.ndarray) -> float:
    """Mean absolute difference of two grey images inside a box (0 for an empty box)."""
    h, w = current.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(w, int(np.ceil(xyxy[2]))), min(h, int(np.ceil(xyxy[3])))
    if x2 <= x1 or y2 <= y1:
        return 0.0
    a = previous[y1:y2, x1:x2].astype(np.int16)
    b = current[y1:y2, x1:x2].astype(np.int16)
    return float(np.abs(a - b).mean())
