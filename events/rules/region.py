"""What smoke and fire share: untracked regions, one subject per zone (or the whole frame)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.motion import RegionMotion
from vigil.events.rules.base import Rule, RuleParams, bbox_of, confidences_of, labels_of, select
from vigil.events.violation import Observation
from vigil.streams.frame import Frame


class RegionParams(RuleParams):
    """What smoke and fire share: a region's size and motion filters."""

    min_area: float = Field(
        0.0005, ge=0, le=1, description="smallest box area, as a fraction of the frame area"
    )
    max_area: float = Field(
        1.0,
        gt=0,
        le=1,
        description="largest box area, as a fraction of the frame area (a box over the whole "
        "frame is haze or a dark scene, not a plume)",
    )
    min_motion: float = Field(
        0.0,
        ge=0,
        description="smallest mean grey-level change inside the box since the previous analysed "
        "frame (0-255 scale); flames flicker and smoke drifts, look-alikes that stand still "
        "are dropped; 0 turns the filter off",
    )
    fill_area: float = Field(
        1.0,
        gt=0,
        le=1,
        description="a box covering at least this share of the frame continues a region of this "
        "label seen smaller within `fill_memory` seconds (it grew to fill the view) but opens "
        "none: a view that is all 'smoke' from the start is fog, haze or a grey scene; 1 turns "
        "it off",
    )
    fill_memory: float = Field(
        60.0, ge=0, description="seconds a smaller region is remembered for `fill_area`"
    )


class RegionRule(Rule):
    """Observes, per zone, the most confident box of ``label`` whose area is between
    ``min_area`` and ``max_area`` of the frame, whose motion since the previous analysed frame
    (:class:`~vigil.detector.motion.RegionMotion`) is not below ``min_motion``, and whose
    bottom-centre (where smoke or flame rises from) is in the zone. A box filling at least
    ``fill_area`` of the frame counts only if a smaller region of the label passed these
    filters within ``fill_memory`` seconds: smoke grows into a view, fog fills it. Subjects are
    ``"zone:<name>"``, or ``"frame"`` when the rule has no zones: smoke and fire are not
    tracked, so the place is what persists.
    """

    label: ClassVar[str]
    params: RegionParams

    def __init__(self, params: RegionParams | None = None) -> None:
        super().__init__(params)
        self._motion = RegionMotion()
        self._smaller_seen: float | None = None  # wall time of the last region under fill_area

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        regions = select(detections, {self.label}, min_confidence=self.params.confidence)
        height, width = frame.shape
        areas = regions.box_area / float(max(height * width, 1))
        keep = (areas >= self.params.min_area) & (areas <= self.params.max_area)
        if self.params.min_motion > 0:
            # Shown every frame, boxes or not, so the change is since the previous frame.
            motion = self._motion.measure(regions.xyxy, frame.image)
            keep &= ~(motion < self.params.min_motion)  # NaN (unknown, first frame) passes
        keep &= self._grown(areas, keep, frame.wall)
        regions = regions[keep]
        if len(regions) == 0:
            return []
        labels, conf = labels_of(regions), confidences_of(regions)
        inside = self.zones.membership(regions)
        out = []
        for j, zone in enumerate(self.zones.names):
            rows = np.flatnonzero(inside[:, j])
            if len(rows) == 0:
                continue
            best = rows[np.argmax(conf[rows])]
            out.append(
                Observation(
                    subject="frame" if zone is None else f"zone:{zone}",
                    label=str(labels[best]),
                    confidence=float(conf[best]),
                    bbox=bbox_of(regions.xyxy[best]),
                    zone=zone,
                )
            )
        return out

    def _grown(self, areas: np.ndarray, keep: np.ndarray, wall: float) -> np.ndarray:
        """False for the frame-filling boxes of a region that was not seen smaller lately."""
        filling = (areas >= self.params.fill_area) & (self.params.fill_area < 1.0)  # 1: off
        if (keep & ~filling).any():
            self._smaller_seen = wall
        recent = self._smaller_seen is not None and (
            wall - self._smaller_seen <= self.params.fill_memory
        )
        return ~filling | recent
