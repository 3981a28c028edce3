"""``vehicle_proximity``: a person is close to a vehicle or machine that is moving."""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import MACHINERY, PERSON, PERSON_FALLEN, VEHICLE
from vigil.events.rules.base import Rule, RuleParams, Severity, select, tracked_observation
from vigil.events.violation import Observation
from vigil.streams.frame import Frame


def box_gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels between each box of ``a`` and each of ``b`` (``(len(a), len(b))``), 0 where
    they touch or overlap.

    >>> others = np.array([[13.0, 14, 20, 20], [5, 5, 8, 8]])
    >>> box_gaps(np.array([[0.0, 0, 10, 10]]), others).tolist()
    [[5.0, 0.0]]
    """
    dx = np.maximum(0, np.maximum(b[None, :, 0] - a[:, None, 2], a[:, None, 0] - b[None, :, 2]))
    dy = np.maximum(0, np.maximum(b[None, :, 1] - a[:, None, 3], a[:, None, 1] - b[None, :, 3]))
    return np.hypot(dx, dy)


class VehicleProximityParams(RuleParams):
    """``vehicle_proximity``: a tracked person's box comes within ``distance`` of the box of a
    tracked ``vehicle`` or ``machinery`` that moves at ``min_speed`` pixels per second or more.

    >>> p = VehicleProximityParams(distance=0.5, distance_unit="person_height")
    >>> p.min_speed, p.k_of_n
    (20.0, (2, 3))
    """

    k_of_n: tuple[int, int] = Field(
        (2, 3), description="confirm when seen close in k of the last n analysed frames"
    )
    min_duration: float = Field(0.0, ge=0, description="0: a near miss is short")
    severity: Severity = "critical"
    distance: float = Field(
        50.0, ge=0, description="the closest a person may come to a moving vehicle's box"
    )
    distance_unit: Literal["px", "person_height"] = Field(
        "px",
        description="pixels, or multiples of the person's box height (a person far from the "
        "camera is small: the same gap in pixels is more metres)",
    )
    min_speed: float = Field(
        20.0, ge=0, description="pixels per second of the vehicle box centre to count as moving"
    )
    speed_window: float = Field(
        1.0, gt=0, description="seconds over which a vehicle's speed is measured"
    )


class VehicleProximityRule(Rule):
    """Observes every tracked person in a zone (default: whole frame) whose box is within
    ``distance`` of a moving vehicle or machine's box. A vehicle's speed is its box centre's
    displacement over the last ``speed_window`` seconds of its track; one seen for less than
    that is not yet known to move and does not count.

    No shipped model card gives ``vehicle`` or ``machinery``: configuring the rule without a
    card that does fails at start with a line saying so (like ``no_harness``). It is off by
    default for that reason.

    >>> import numpy as np
    >>> import supervision as sv
    >>> rule = VehicleProximityRule(VehicleProximityParams(speed_window=0.5))
    >>> def scene(x):
    ...     return sv.Detections(xyxy=np.array([[100.0, 100, 130, 200], [x, 120, x + 80, 200]]),
    ...                          confidence=np.array([0.9, 0.8]), tracker_id=np.array([1, 2]),
    ...                          data={"label": np.array(["person", "vehicle"])})
    >>> [len(rule.observe(scene(x), Frame.blank((480, 640), wall=t)))
    ...  for t, x in ((0.0, 300.0), (0.5, 250.0), (1.0, 160.0))]
    [0, 0, 1]
    """

    name = "vehicle_proximity"
    Params = VehicleProximityParams
    params: VehicleProximityParams
    needs = frozenset({PERSON, VEHICLE, MACHINERY})
    requires = (frozenset({PERSON}), frozenset({VEHICLE, MACHINERY}))

    def __init__(self, params: VehicleProximityParams | None = None) -> None:
        super().__init__(params)
        self._centres: dict[int, deque[tuple[float, float, float]]] = {}

    @classmethod
    def runs_by_default(cls) -> bool:
        """Off unless configured: no shipped model finds vehicles."""
        return False

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        wall = frame.wall
        vehicles = select(detections, {VEHICLE, MACHINERY}, tracked=True)
        moving = vehicles[self._moving(vehicles, wall)] if len(vehicles) else vehicles
        people = select(
            detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
        )
        if len(moving) == 0 or len(people) == 0:
            return []
        limit = np.full(len(people), self.params.distance)
        if self.params.distance_unit == "person_height":
            limit = limit * (people.xyxy[:, 3] - people.xyxy[:, 1])
        near = (box_gaps(people.xyxy, moving.xyxy) <= limit[:, None]).any(axis=1)
        return [
            tracked_observation(people, i, zones[0])
            for i, zones in enumerate(self.zones.zones_of(people))
            if zones and near[i]
        ]

    def _moving(self, vehicles: sv.Detections, wall: float) -> np.ndarray:
        """Record each vehicle's centre; whether it moved at ``min_speed`` over the window."""
        window = self.params.speed_window
        stale = [t for t, h in self._centres.items() if wall - h[-1][0] >= self.params.end_after]
        for track_id in stale:
            del self._centres[track_id]
        centres = vehicles.get_anchors_coordinates(sv.Position.CENTER)
        moving = np.zeros(len(vehicles), dtype=bool)
        for i, track_id in enumerate(np.asarray(vehicles.tracker_id)):
            history = self._centres.setdefault(int(track_id), deque())
            history.append((wall, float(centres[i][0]), float(centres[i][1])))
            while len(history) > 1 and history[1][0] <= wall - window:
                history.popleft()
            t0, x0, y0 = history[0]
            if t0 <= wall - window and wall > t0:
                speed = np.hypot(centres[i][0] - x0, centres[i][1] - y0) / (wall - t0)
                moving[i] = speed >= self.params.min_speed
        return moving
