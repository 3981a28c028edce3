"""What smoke and fire share: untracked regions, one subject per zone (or the whole frame)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.events.rules.base import bbox_of, confidences_of, labels_of, select
from vigil.events.rules.params import RegionParams
from vigil.events.violation import Observation
from vigil.events.zones import ZoneSet


class RegionRule:
    """Observes, per zone, the most confident box of ``label`` whose area is between
    ``min_area`` and ``max_area`` of the frame, whose motion (``data["motion"]``, see
    ``vigil.detector.motion``) is not below ``min_motion``, and whose bottom-centre (where
    smoke or flame rises from) is in the zone. Subjects are ``"zone:<name>"``, or ``"frame"``
    when the rule has no zones: smoke and fire are not tracked, so the place is what persists.
    """

    name: str
    label: str
    needs: frozenset[str]
    requires: tuple[frozenset[str], ...]

    def __init__(self, params: RegionParams) -> None:
        self.params = params
        self.zones = ZoneSet(params.zones)

    def observe(
        self, detections: sv.Detections, frame_shape: tuple[int, int], wall: float
    ) -> list[Observation]:
        regions = select(detections, {self.label}, min_confidence=self.params.confidence)
        height, width = frame_shape
        areas = regions.box_area / float(max(height * width, 1))
        keep = (areas >= self.params.min_area) & (areas <= self.params.max_area)
        if self.params.min_motion > 0 and "motion" in regions.data:
            motion = np.asarray(regions.data["motion"], dtype=float)
            keep &= ~(motion < self.params.min_motion)  # NaN (unknown, first frame) passes
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
