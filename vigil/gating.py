"""Motion gating and per-model analysis rates: which models run on a camera's frame.

Every analysed frame goes through tracking, the rules and the lifecycle, but a model runs on it
only when it is *due*; otherwise its last detections are carried to the frame (the scene did
not change, so running it again would find the same). A model is skipped on a frame when:

- ``rate``: it ran less than ``1 / model_fps`` seconds ago (e.g. fire and smoke at 1 fps while
  the camera is analysed at 2 fps for helmets);
- ``still``: motion gating is on, nothing moved since the frame it last ran on
  (:class:`~vigil.detector.motion.FrameMotion`) and its last full pass is less than
  ``full_pass_seconds`` old. The periodic full pass catches what does not move (a fallen
  person lying still, a bare-headed worker standing still, a slow plume); comparing with the
  frame the model last ran on, not the previous frame, lets slow change add up.

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

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vigil.detector.motion import FrameMotion

SKIP_REASONS = ("still", "rate")


@dataclass(frozen=True, slots=True)
class GatingSettings:
    """How a camera's models are gated (the site's ``gating:`` block, see the README)."""

    motion: bool = True
    full_pass_seconds: float = 5.0
    motion_threshold: int = 25
    motion_min_area: float = 0.002
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
    """

    def __init__(
        self, settings: GatingSettings, model_fps: dict[str, float], camera_fps: float
    ) -> None:
        self.settings = settings
        self.motion = FrameMotion(settings.motion_threshold, settings.motion_min_area)
        self._interval = {m: 1.0 / f if f < camera_fps else 0.0 for m, f in model_fps.items()}
        self._slack = 0.5 / camera_fps
        self._last: dict[str, float] = {}  # model -> pts it last ran on
        self._reference: dict[str, np.ndarray | None] = {}  # model -> that frame's grey copy
        self.skipped: Counter[tuple[str, str]] = Counter()  # (model, reason) -> frames

    @property
    def needs_pixels(self) -> bool:
        return self.settings.motion

    def plan(self, image: np.ndarray, t: float) -> dict[str, str | None]:
        """Each model -> None (run it on this frame) or why it is skipped; a model to run is
        taken to have run (its reference becomes this frame)."""
        grey = self.motion.grey(image) if self.settings.motion else None
        plan: dict[str, str | None] = {}
        for model, interval in self._interval.items():
            reason = self._skip(model, interval, grey, t)
            plan[model] = reason
            if reason is None:
                self._last[model], self._reference[model] = t, grey
            else:
                self.skipped[model, reason] += 1
        return plan

    def _skip(self, model: str, interval: float, grey: np.ndarray | None, t: float) -> str | None:
        last = self._last.get(model)
        if last is None or t < last:  # first frame, or the source started over
            return None
        since = t - last
        if interval and since < interval - self._slack:
            return "rate"
        if (
            self.settings.motion
            and grey is not None
            and since < self.settings.full_pass_seconds - self._slack
            and not self.motion.moved(self._reference.get(model), grey)
        ):
            return "still"
        return None
