"""Motion regions: where a model runs when only part of a frame moved (Frigate's approach,
fitted to models that letterbox any input size).

Around each moving part (:meth:`~vigil.detector.motion.FrameMotion.boxes`), padded so a mover
is not cut, and grown over the model's last boxes that touch it (the object the motion belongs
to), a square region; overlapping regions are merged. The model then runs on each region's
crop at the scale of its full pass (the frame's long side to the card's ``imgsz``), so a crop
costs its share of the frame and objects look as they do in the full pass; a crop is never
under ``MIN_INPUT`` model pixels a side (context). When the regions would cover more than
``max_area`` of the frame, or cost as much as the full pass, there are none (the caller makes
a full pass).

Detections from a crop are shifted to frame coordinates; those touching a crop edge that is not
the frame's are dropped (the object is cut: the full pass or a larger region finds it whole).
:func:`combine` replaces the model's last detections inside the regions with the new ones and
keeps those outside.

>>> import numpy as np
>>> motion = np.array([[300.0, 100, 340, 180]])
>>> (r,) = plan_regions(motion, np.zeros((0, 4)), (360, 640), imgsz=640, max_area=0.5)
>>> r.xyxy.tolist(), r.imgsz
([240, 60, 400, 220], 160)
>>> plan_regions(np.array([[0.0, 0, 600, 300]]), np.zeros((0, 4)), (360, 640), 640, 0.5) is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import supervision as sv

MIN_INPUT = 160  # a crop's smallest side in model pixels (5 strides of 32)
STRIDE = 32
PAD = 0.25  # of a moving part's size, added on each side
EDGE = 2.0  # frame pixels: a box this close to a crop's inner edge is cut by it
SAME_OBJECT_IOU = 0.3  # a carried box overlapping a new one this much is the same object


@dataclass(frozen=True, slots=True)
class Region:
    """A square (where the frame allows) part of the frame, and the model input side its crop
    is run at."""

    x1: int
    y1: int
    x2: int
    y2: int
    imgsz: int

    @property
    def xyxy(self) -> np.ndarray:
        return np.array([self.x1, self.y1, self.x2, self.y2])

    @property
    def area(self) -> int:
        return (self.x2 - self.x1) * (self.y2 - self.y1)

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y1 : self.y2, self.x1 : self.x2]


def input_scale(shape: tuple[int, int], imgsz: int) -> float:
    """Model pixels per frame pixel in a full pass (letterbox: long side to ``imgsz``)."""
    return min(1.0, imgsz / max(shape))


def full_input_pixels(shape: tuple[int, int], imgsz: int) -> int:
    """A full pass's input size in pixels (the long side at ``imgsz``, the short one padded to
    the stride), to compare the crops' cost with."""
    s = input_scale(shape, imgsz)
    h, w = (_ceil(side * s) for side in shape)
    return h * w


def plan_regions(
    motion: np.ndarray,
    held: np.ndarray,
    shape: tuple[int, int],
    imgsz: int,
    max_area: float,
) -> list[Region] | None:
    """The regions to run a model on, given the moving parts and the model's last boxes (both
    xyxy in frame pixels) in a frame of ``shape`` (height, width); None when a full pass is
    better (no motion box, regions over ``max_area`` of the frame, or as costly)."""
    if len(motion) == 0:
        return None
    h, w = shape
    scale = input_scale(shape, imgsz)
    boxes = [_grow_over(_pad(b), held) for b in np.asarray(motion, dtype=float)]
    squares = _squares(_merged(boxes), shape, scale)
    if squares is None:
        return None
    regions = [_region(b, scale) for b in squares]
    if sum(r.area for r in regions) > max_area * h * w:
        return None
    if sum(r.imgsz**2 for r in regions) >= full_input_pixels(shape, imgsz):
        return None
    return regions


def _ceil(v: float) -> int:
    return max(STRIDE, math.ceil(v / STRIDE - 1e-6) * STRIDE)


def _pad(box: np.ndarray) -> np.ndarray:
    dx, dy = PAD * (box[2] - box[0]), PAD * (box[3] - box[1])
    return box + np.array([-dx, -dy, dx, dy])


def _touch(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3])


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _grow_over(box: np.ndarray, held: np.ndarray) -> np.ndarray:
    for other in held:
        if _touch(box, other):
            box = _union(box, np.asarray(other, dtype=float))
    return box


def _merged(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes with every touching pair replaced by their union, until none touch."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _touch(boxes[i], boxes[j]):
                    boxes[i] = _union(boxes[i], boxes.pop(j))
                    merged = True
                    break
            if merged:
                break
    return boxes


def _squares(
    boxes: list[np.ndarray], shape: tuple[int, int], scale: float
) -> list[np.ndarray] | None:
    """Each box as a square inside the frame, its side a stride multiple in model pixels;
    squares that overlap merged and squared again. None when one no longer fits the frame."""
    h, w = shape
    while True:
        squares = []
        for b in boxes:
            side_in = _ceil(max(b[2] - b[0], b[3] - b[1], MIN_INPUT / scale) * scale)
            side = round(side_in / scale)
            if side > min(h, w):
                return None
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            x1 = int(min(max(0, round(cx - side / 2)), w - side))
            y1 = int(min(max(0, round(cy - side / 2)), h - side))
            squares.append(np.array([x1, y1, x1 + side, y1 + side], dtype=float))
        merged = _merged([s - np.array([0, 0, 1, 1]) for s in squares])  # shared edges: apart
        if len(merged) == len(squares):
            return squares
        boxes = merged


def _region(square: np.ndarray, scale: float) -> Region:
    x1, y1, x2, y2 = (int(v) for v in square)
    return Region(x1, y1, x2, y2, _ceil((x2 - x1) * scale))


def shift_from(found: sv.Detections, region: Region, shape: tuple[int, int]) -> sv.Detections:
    """A crop's detections in frame coordinates, less those cut by an inner edge of the crop.

    >>> d = sv.Detections(xyxy=np.array([[0.0, 10, 20, 30], [40, 40, 60, 60]]))
    >>> shift_from(d, Region(100, 100, 260, 260, 160), (360, 640)).xyxy.tolist()
    [[140.0, 140.0, 160.0, 160.0]]
    """
    if len(found) == 0:
        return found
    cw, ch = region.x2 - region.x1, region.y2 - region.y1
    h, w = shape
    b = found.xyxy
    cut = np.zeros(len(found), dtype=bool)
    if region.x1 > 0:
        cut |= b[:, 0] <= EDGE
    if region.y1 > 0:
        cut |= b[:, 1] <= EDGE
    if region.x2 < w:
        cut |= b[:, 2] >= cw - EDGE
    if region.y2 < h:
        cut |= b[:, 3] >= ch - EDGE
    kept = found[~cut]
    kept.xyxy = kept.xyxy + np.array([region.x1, region.y1, region.x1, region.y1], dtype=float)
    return kept


def inside(xyxy: np.ndarray, regions: list[Region]) -> np.ndarray:
    """Which boxes lie within one of the regions (to ``EDGE`` pixels).

    >>> inside(np.array([[10.0, 10, 50, 50], [150, 10, 200, 50]]), [Region(0, 0, 160, 160, 160)])
    array([ True, False])
    """
    within = np.zeros(len(xyxy), dtype=bool)
    for r in regions:
        within |= (
            (xyxy[:, 0] >= r.x1 - EDGE)
            & (xyxy[:, 1] >= r.y1 - EDGE)
            & (xyxy[:, 2] <= r.x2 + EDGE)
            & (xyxy[:, 3] <= r.y2 + EDGE)
        )
    return within


def combine(held: sv.Detections, fresh: sv.Detections, regions: list[Region]) -> sv.Detections:
    """The model's detections after running on ``regions`` only: the new ones (frame
    coordinates), and the last ones outside the regions. A last box across a region's edge
    is kept (the crop saw a part of it at most) unless a new box of the same label overlaps
    it (the object, found again).

    >>> def boxes(*xyxy):
    ...     return sv.Detections(xyxy=np.array(xyxy, dtype=float), confidence=np.ones(len(xyxy)),
    ...         data={"label": np.array(["person"] * len(xyxy), dtype=object)})
    >>> held = boxes([10, 10, 50, 90], [400, 10, 440, 90])
    >>> fresh = boxes([20, 12, 60, 92])
    >>> combine(held, fresh, [Region(0, 0, 160, 160, 160)]).xyxy.tolist()
    [[400.0, 10.0, 440.0, 90.0], [20.0, 12.0, 60.0, 92.0]]
    """
    if len(held):
        keep = ~inside(held.xyxy, regions)
        if len(fresh) and keep.any():
            iou = sv.box_iou_batch(held.xyxy, fresh.xyxy)
            same = held.data["label"][:, None] == fresh.data["label"][None, :]
            keep &= ~((iou > SAME_OBJECT_IOU) & same).any(axis=1)
        held = held[keep]
    parts = [d for d in (held, fresh) if len(d)]
    if not parts:
        return fresh
    shared = set.intersection(*(set(p.data) for p in parts))
    for part in parts:
        part.data = {k: v for k, v in part.data.items() if k in shared}
    return sv.Detections.merge(parts)
