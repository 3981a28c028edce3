"""Motion gating and per-model analysis rates: which models run on a camera's frame.

Every analysed frame goes through tracking, the rules and the lifecycle, but a model runs on it
only when it is *due*; otherwise its last detections are carried to the frame (the scene did
not change, so running it again would find the same). A model is skipped on a frame when:

- ``rate``: it ran less than ``1 / model_fps`` seconds ago (e.g. fire and smoke at 1 fps while
  the camera is analysed at 2 fps for helmets), or fewer than ``camera_fps / model_fps``
  analysed frames ago. The count keeps a worker that falls behind from a spiral: were a
  camera analysed only once a second, a 1 fps model would otherwise be due on every frame, each
  frame would cost every model, and the camera would fall further behind;
- ``still``: motion gating is on, nothing moved since the frame it last ran on
  (:class:`~vigil.detector.motion.FrameMotion`) and its last full pass is less than
  ``full_pass_seconds`` old. The periodic full pass catches what does not move (a fallen
  person lying still, a bare-headed worker standing still, a slow plume); comparing with the
  frame the model last ran on, not the previous frame, lets slow change add up.

With ``crop`` on, a model due on a frame where only part of the scene moved runs only on regions
around the moving parts (:mod:`vigil.regions`; ``regions`` holds them for the frame) and its
boxes elsewhere are carried; where the regions would cover more than ``crop_max_area`` of the
frame, and every ``full_pass_seconds`` whatever moved, it runs on the whole frame. The frame a
model "last ran on" is then, pixel for pixel, what it last saw: a crop updates its reference
only inside the regions.

>>> import numpy as np
>>> gate = AnalysisGate(GatingSettings(full_pass_seconds=5), {"ppe": 2.0, "fire": 1.0}, 2.0)
>>> still = np.full((90, 160, 3), 90, np.uint8)
>>> gate.plan(still, 0.0)
{'ppe': None, 'fire': None}
>>> gate.plan(still, 0.5)
{'ppe': 'still', 'fire': 'rate'}
>>> gate.plan(still, 5.0)
{'ppe': None, 'fire': None}
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vigil.detector.motion import FrameMotion
from vigil.regions import Region, plan_regions

SKIP_REASONS = ("still", "rate")


@dataclass(frozen=True, slots=True)
class GatingSettings:
    """How a camera's models are gated (the site's ``gating:`` block, see the README)."""

    motion: bool = True
    full_pass_seconds: float = 5.0
    motion_threshold: int = 25
    motion_min_area: float = 0.002
    crop: bool = False
    crop_max_area: float = 0.5
    rule_fps: dict[str, float] = field(default_factory=dict)

    @classmethod
    def off(cls) -> GatingSettings:
        """Every model on every analysed frame (the naive stack)."""
        return cls(motion=False, rule_fps={})


class AnalysisGate:
    """Per camera: decides, frame by frame, which models run (see the module docstring).

    Args:
        settings: the camera's gating settings.
        model_fps: each model's analysis rate (at most the camera's).
        camera_fps: the camera's analysis rate; half a frame interval is the slack that keeps
            a 1 fps model from slipping to every third frame of a 2 fps camera.
        input_sizes: the models that can run on a crop, and their input side (``imgsz``).
    """

    def __init__(
        self,
        settings: GatingSettings,
        model_fps: dict[str, float],
        camera_fps: float,
        input_sizes: dict[str, int] | None = None,
    ) -> None:
        self.settings = settings
        self._sizes = (input_sizes or {}) if settings.crop and settings.motion else {}
        self.motion = FrameMotion(settings.motion_threshold, settings.motion_min_area)
        self._interval = {m: 1.0 / f if f < camera_fps else 0.0 for m, f in model_fps.items()}
        # A slower model also skips frames by count: when the camera falls behind its fps, a
        # 1 fps model of a 2 fps camera still runs on every other analysed frame, not on each.
        self._every = {m: max(1, round(camera_fps / f)) for m, f in model_fps.items()}
        self._frames_since: Counter[str] = Counter()  # model -> frames planned since it ran
        self._slack = 0.5 / camera_fps
        self._last: dict[str, float] = {}  # model -> pts it last ran on
        self._full: dict[str, float] = {}  # model -> pts of its last full pass
        self._reference: dict[str, np.ndarray | None] = {}  # model -> that frame's grey copy
        self.skipped: Counter[tuple[str, str]] = Counter()  # (model, reason) -> frames
        self.cropped: Counter[str] = Counter()  # model -> frames it ran on regions only
        self.regions: dict[str, list[Region]] = {}  # this frame's: model -> its regions

    @property
    def needs_pixels(self) -> bool:
        return self.settings.motion

    def plan(
        self, image: np.ndarray, t: float, held: dict[str, np.ndarray] | None = None
    ) -> dict[str, str | None]:
        """Each model -> None (run it on this frame) or why it is skipped; a model to run is
        taken to have run (its reference becomes this frame, or this frame's regions). Models
        to run on regions only are in :attr:`regions`; ``held`` (each model's last boxes,
        xyxy) lets a region grow over the object a motion belongs to."""
        grey = self.motion.grey(image) if self.settings.motion else None
        plan: dict[str, str | None] = {}
        self.regions = {}
        for model, interval in self._interval.items():
            self._frames_since[model] += 1
            reason = self._skip(model, interval, grey, t)
            plan[model] = reason
            if reason is not None:
                self.skipped[model, reason] += 1
                continue
            regions = self._regions(model, grey, t, image.shape[:2], held)
            self._last[model] = t
            self._frames_since[model] = 0
            if regions is None:
                self._full[model], self._reference[model] = t, grey
            else:
                self.regions[model] = regions
                self.cropped[model] += 1
                self._reference[model] = _patched(self._reference[model], grey, regions, image)
        return plan

    def _skip(self, model: str, interval: float, grey: np.ndarray | None, t: float) -> str | None:
        last = self._last.get(model)
        if last is None or t < last:  # first frame, or the source started over
            return None
        since = t - last
        if interval and (
            since < interval - self._slack or self._frames_since[model] < self._every[model]
        ):
            return "rate"
        if (
            self.settings.motion
            and grey is not None
            and not self._full_due(model, t)
            and not self.motion.moved(self._reference.get(model), grey)
        ):
            return "still"
        return None

    def _full_due(self, model: str, t: float) -> bool:
        full = self._full.get(model)
        return full is None or t < full or t - full >= self.settings.full_pass_seconds - self._slack

    def _regions(
        self,
        model: str,
        grey: np.ndarray | None,
        t: float,
        shape: tuple[int, int],
        held: dict[str, np.ndarray] | None,
    ) -> list[Region] | None:
        """The regions ``model`` runs on, or None for a full pass."""
        if model not in self._sizes or grey is None or self._full_due(model, t):
            return None
        reference = self._reference.get(model)
        moving = self.motion.boxes(reference, grey, shape)
        last = (held or {}).get(model)
        last = np.zeros((0, 4)) if last is None else last
        return plan_regions(moving, last, shape, self._sizes[model], self.settings.crop_max_area)


def _patched(
    reference: np.ndarray | None, grey: np.ndarray | None, regions: list[Region], image: np.ndarray
) -> np.ndarray | None:
    """The reference with the regions' pixels taken from ``grey`` (what the model saw there);
    the regions shrunk to whole grey pixels, so nothing unseen counts as seen."""
    if reference is None or grey is None:
        return grey
    patched = reference.copy()
    sy, sx = grey.shape[0] / image.shape[0], grey.shape[1] / image.shape[1]
    for r in regions:
        x1, y1 = math.ceil(r.x1 * sx), math.ceil(r.y1 * sy)
        x2, y2 = math.floor(r.x2 * sx), math.floor(r.y2 * sy)
        patched[y1:y2, x1:x2] = grey[y1:y2, x1:x2]
    return patched
