"""``inactive_on_post``: a person at a post barely moves for a long time (asleep on duty, 睡岗)."""

from __future__ import annotations

from collections import deque

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import (
    Rule,
    ScheduledParams,
    Severity,
    select,
    tracked_observation,
)
from vigil.events.violation import Observation
from vigil.events.zones import Zone
from vigil.streams.frame import Frame


class InactiveOnPostParams(ScheduledParams):
    """``inactive_on_post``: a tracked person in a post zone whose anchor (bottom-centre) has
    stayed within ``max_motion`` pixels over the last ``window`` seconds, for at least
    ``min_duration`` seconds, during the ``schedule`` windows.

    >>> p = InactiveOnPostParams(zones=[{"name": "desk", "polygon": [(0, 0), (9, 0), (9, 9)]}])
    >>> p.window, p.max_motion, p.min_duration
    (10.0, 8.0, 60.0)
    """

    min_duration: float = Field(
        60.0, ge=0, description="seconds of stillness before a violation opens"
    )
    severity: Severity = "medium"
    zones: list[Zone] = Field(min_length=1, description="post zones")
    window: float = Field(
        10.0, gt=0, description="seconds over which the anchor's motion is measured"
    )
    max_motion: float = Field(
        8.0,
        ge=0,
        description="the farthest (pixels) the anchor may have been from where it is now during "
        "the window and still count as inactive",
    )


class InactiveOnPostRule(Rule):
    """Observes every tracked person in a post zone whose anchor has not moved more than
    ``max_motion`` pixels away from where it is now at any time in the last ``window`` seconds (the
    history must span the window: someone who just arrived is not yet inactive). A person
    unseen for ``end_after`` seconds starts a new history.

    >>> import numpy as np
    >>> import supervision as sv
    >>> params = InactiveOnPostParams(window=1.0,
    ...     zones=[{"name": "desk", "polygon": [(0, 0), (640, 0), (640, 480), (0, 480)]}])
    >>> rule = InactiveOnPostRule(params)
    >>> d = sv.Detections(xyxy=np.array([[80.0, 0, 90, 20]]), confidence=np.array([0.8]),
    ...                   tracker_id=np.array([2]), data={"label": np.array(["person"])})
    >>> [len(rule.observe(d, Frame.blank((480, 640), wall=t))) for t in (0.0, 0.5, 1.0)]
    [0, 0, 1]
    """

    name = "inactive_on_post"
    Params = InactiveOnPostParams
    params: InactiveOnPostParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def __init__(self, params: InactiveOnPostParams | None = None) -> None:
        super().__init__(params)
        self._anchors: dict[int, deque[tuple[float, float, float]]] = {}

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        wall = frame.wall
        self._forget_stale(wall)
        if not self.params.active_at(wall):
            return []
        people = select(
            detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
        )
        anchors = people.get_anchors_coordinates(sv.Position.BOTTOM_CENTER) if len(people) else []
        out = []
        for i, zones in enumerate(self.zones.zones_of(people)):
            track_id = int(np.asarray(people.tracker_id)[i])
            still = self._still(track_id, wall, float(anchors[i][0]), float(anchors[i][1]))
            if zones and still:
                out.append(tracked_observation(people, i, zones[0]))
        return out

    def _still(self, track_id: int, wall: float, x: float, y: float) -> bool:
        """Record an anchor; whether the track's anchors over the full window stay close."""
        history = self._anchors.setdefault(track_id, deque())
        history.append((wall, x, y))
        window = self.params.window
        # Keep one sighting at or before the window's start: it shows the window is covered.
        while len(history) > 1 and history[1][0] <= wall - window:
            history.popleft()
        if history[0][0] > wall - window:
            return False
        points = np.array([(hx, hy) for _, hx, hy in history])
        return bool(np.hypot(*(points - points[-1]).T).max() <= self.params.max_motion)

    def _forget_stale(self, wall: float) -> None:
        gone = [t for t, h in self._anchors.items() if wall - h[-1][0] >= self.params.end_after]
        for track_id in gone:
            del self._anchors[track_id]
