"""``fall``: a tracked person is seen fallen, optionally lying still."""

from __future__ import annotations

from collections import deque

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import PERSON_FALLEN
from vigil.events.rules.base import (
    Rule,
    RuleParams,
    Severity,
    bbox_of,
    confidences_of,
    labels_of,
    select,
    track_subject,
)
from vigil.events.violation import Observation
from vigil.streams.frame import Frame

# (wall, centre x, centre y, box diagonal) of one fallen sighting
_Sighting = tuple[float, float, float, float]


def width_over_height(xyxy: np.ndarray) -> np.ndarray:
    """Each box's width / height: above 1 for someone lying across the view (``min_aspect``)."""
    return (xyxy[:, 2] - xyxy[:, 0]) / np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-6)


class FallParams(RuleParams):
    """``fall``: a tracked person is seen fallen (``person_fallen``) long enough; optionally
    only once the fallen box has stayed still for ``still_after`` seconds."""

    severity: Severity = "critical"
    still_after: float | None = Field(
        None,
        gt=0,
        description="only observe a fallen person whose box has not moved for this many "
        "seconds; None observes every fallen box",
    )
    still_tolerance: float = Field(
        0.15,
        gt=0,
        description="how far the box centre may move and still count as still, as a fraction "
        "of the box diagonal",
    )
    min_aspect: float = Field(
        0.0,
        ge=0,
        description="only observe a fallen box at least this many times as wide as tall (1.0: "
        "lying across the view); for side-view cameras, where it removes seated and crouching "
        "workers; overhead cameras see fallen people end-on, so 0 (off) is the default",
    )


class FallRule(Rule):
    """Observes every tracked ``person_fallen`` box in the zones (default: whole frame).

    With ``min_aspect`` set, only boxes at least that many times as wide as tall count (someone
    lying across a side view); datasets/RESULTS.md measures what it costs on overhead views.

    With ``still_after`` set, a fallen person is observed only once their box has been seen
    fallen for that long without its centre moving more than ``still_tolerance`` of the box
    diagonal: someone lying still, not someone crawling under a pipe. The person and fallen
    boxes share one track id (the tracker is class-agnostic), so a track that stands up and
    falls again stays the same subject.

    >>> import numpy as np
    >>> import supervision as sv
    >>> fallen = sv.Detections(xyxy=np.array([[10.0, 100.0, 120.0, 140.0]]),
    ...                        confidence=np.array([0.7]), tracker_id=np.array([4]),
    ...                        data={"label": np.array(["person_fallen"])})
    >>> [o.subject for o in FallRule().observe(fallen, Frame.blank((480, 640)))]
    ['track:4']
    """

    name = "fall"
    Params = FallParams
    params: FallParams
    needs = frozenset({PERSON_FALLEN})
    requires = (frozenset({PERSON_FALLEN}),)

    def __init__(self, params: FallParams | None = None) -> None:
        super().__init__(params)
        self._history: dict[int, deque[_Sighting]] = {}

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        wall = frame.wall
        fallen = select(
            detections, {PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
        )
        if self.params.min_aspect and len(fallen):
            fallen = fallen[width_over_height(fallen.xyxy) >= self.params.min_aspect]
        labels, conf = labels_of(fallen), confidences_of(fallen)
        out = []
        for i, zones in enumerate(self.zones.zones_of(fallen)):
            track_id = int(np.asarray(fallen.tracker_id)[i])
            still = self._still(track_id, fallen.xyxy[i], wall)
            if not zones or not still:
                continue
            out.append(
                Observation(
                    subject=track_subject(track_id),
                    label=str(labels[i]),
                    confidence=float(conf[i]),
                    bbox=bbox_of(fallen.xyxy[i]),
                    track_id=track_id,
                    zone=zones[0],
                )
            )
        self._forget_stale(wall)
        return out

    def _still(self, track_id: int, xyxy: np.ndarray, wall: float) -> bool:
        """Record a fallen sighting; whether the track has lain still for ``still_after``."""
        still_after = self.params.still_after
        if still_after is None:
            return True
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        cx, cy, diag = (x1 + x2) / 2, (y1 + y2) / 2, float(np.hypot(x2 - x1, y2 - y1))
        history = self._history.setdefault(track_id, deque())
        if history and wall - history[-1][0] >= self.params.end_after:
            history.clear()  # out of sight too long: a new fall, not the same one
        history.append((wall, cx, cy, diag))
        # Keep one sighting at or before the window's start: it shows the window is covered.
        while len(history) > 1 and history[1][0] <= wall - still_after:
            history.popleft()
        if history[0][0] > wall - still_after:
            return False
        limit = self.params.still_tolerance * max(diag, 1.0)
        return all(np.hypot(hx - cx, hy - cy) <= limit for _, hx, hy, _ in history)

    def _forget_stale(self, wall: float) -> None:
        horizon = self.params.end_after + (self.params.still_after or 0.0)
        for track_id in [t for t, h in self._history.items() if wall - h[-1][0] > horizon]:
            del self._history[track_id]
