"""Motion between analysed frames of one camera: inside boxes (:class:`RegionMotion`) and over
the whole frame (:class:`FrameMotion`, for motion gating).

Flames flicker and smoke drifts; a static look-alike (a hi-vis vest on a parked worker, an orange
sign, a still image) does not change at all. :class:`RegionMotion` measures, for each box, the
mean absolute grey-level change inside it since the previous frame it was shown (on a downscaled
grey copy, so it costs well under a millisecond); NaN where that is unknown (the first frame, a
frame of another size, no pixels). The smoke and fire rules drop boxes below ``min_motion``; on a
moving camera every box moves, so the filter then does nothing.

>>> import numpy as np
>>> rm = RegionMotion()
>>> still = np.full((64, 64, 3), 100, np.uint8)
>>> box = np.array([[0.0, 0, 32, 32]])
>>> rm.measure(box, still).tolist()
[nan]
>>> rm.measure(box, still).tolist()
[0.0]
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_WIDTH = 320  # the grey copy's width; boxes are scaled to it


class RegionMotion:
    """Per camera and rule: remembers the previous frame's grey copy. Show it every analysed
    frame, with or without boxes, so "previous" is the frame before."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def measure(self, xyxy: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Each box's mean grey-level change (0-255) since the previous frame; NaN if unknown.

        An image without three channels carries no pixels (the eval replay without them):
        every box is unknown and the previous frame is kept.
        """
        motion = np.full(len(xyxy), np.nan)
        if image.ndim != 3 or image.shape[2] != 3:
            return motion
        h, w = image.shape[:2]
        scale = min(1.0, WORK_WIDTH / max(w, 1))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        if previous is not None and previous.shape == grey.shape:
            for i, box in enumerate(xyxy):
                motion[i] = box_motion(previous, grey, np.asarray(box, dtype=float) * scale)
        return motion


def box_motion(previous: np.ndarray, current: np.ndarray, xyxy: np.ndarray) -> float:
    """Mean absolute difference of two grey images inside a box (0 for an empty box).

    >>> box_motion(np.zeros((4, 4), np.uint8), np.full((4, 4), 9, np.uint8), np.array([0, 0, 2, 2]))
    9.0
    """
    h, w = current.shape[:2]
    x1, y1 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x2, y2 = min(w, int(np.ceil(xyxy[2]))), min(h, int(np.ceil(xyxy[3])))
    if x2 <= x1 or y2 <= y1:
        return 0.0
    a = previous[y1:y2, x1:x2].astype(np.int16)
    b = current[y1:y2, x1:x2].astype(np.int16)
    return float(np.abs(a - b).mean())


GATE_WIDTH = 160  # the gate's grey copy: small, blurred, so noise and compression do not count


class FrameMotion:
    """Whether anything moved in a frame since a reference frame (Frigate's motion test, cut
    down): a small blurred grey copy, the pixels whose grey level changed by more than
    ``threshold``, moved when they cover at least ``min_area`` of the frame.

    The caller keeps references (the frame each model last ran on), so slow change that
    accumulates (a plume drifting) counts once it is large enough.

    >>> import numpy as np
    >>> fm = FrameMotion(threshold=25, min_area=0.01)
    >>> still = np.full((90, 160, 3), 100, np.uint8)
    >>> ref = fm.grey(still)
    >>> moved = still.copy(); moved[:30, :40] = 250
    >>> fm.changed(ref, fm.grey(still)), fm.changed(ref, fm.grey(moved)) > 0.01
    (0.0, True)
    """

    def __init__(self, threshold: int = 25, min_area: float = 0.002) -> None:
        self.threshold = threshold
        self.min_area = min_area

    def grey(self, image: np.ndarray) -> np.ndarray | None:
        """The frame's small blurred grey copy; None for an image without pixels."""
        if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            return None
        h, w = image.shape[:2]
        size = (GATE_WIDTH, max(1, round(h * GATE_WIDTH / max(w, 1))))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def changed(self, reference: np.ndarray | None, grey: np.ndarray | None) -> float:
        """The share of pixels that changed (1.0 when either is unknown or the sizes differ)."""
        if reference is None or grey is None or reference.shape != grey.shape:
            return 1.0
        diff = cv2.absdiff(reference, grey)
        return float(np.count_nonzero(diff > self.threshold)) / diff.size

    def moved(self, reference: np.ndarray | None, grey: np.ndarray | None) -> bool:
        return self.changed(reference, grey) >= self.min_area

    def boxes(
        self, reference: np.ndarray | None, grey: np.ndarray | None, shape: tuple[int, int]
    ) -> np.ndarray:
        """The moving parts as boxes (x1, y1, x2, y2) in the pixels of a frame of ``shape``
        (height, width): the changed pixels, dilated so the parts of one mover join, one box
        per blob; blobs under a quarter of ``min_area`` are noise. Empty when either grey copy
        is unknown or the sizes differ (the caller then makes a full pass).

        >>> import numpy as np
        >>> fm = FrameMotion(threshold=25, min_area=0.002)
        >>> still = np.full((360, 640, 3), 100, np.uint8)
        >>> moved = still.copy(); moved[100:160, 400:440] = 250
        >>> [round(v) for v in fm.boxes(fm.grey(still), fm.grey(moved), (360, 640))[0]]
        [388, 88, 452, 172]
        """
        if reference is None or grey is None or reference.shape != grey.shape:
            return np.zeros((0, 4))
        mask = (cv2.absdiff(reference, grey) > self.threshold).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=2)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        floor = 0.25 * self.min_area * mask.size
        gh, gw = grey.shape[:2]
        sx, sy = shape[1] / gw, shape[0] / gh
        boxes = [
            (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
            for x, y, w, h, area in stats[1:count]
            if area >= floor
        ]
        return np.array(boxes, dtype=float).reshape(-1, 4)
