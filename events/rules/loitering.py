"""``loitering``: one tracked person stays in a zone far longer than passing through takes."""

from __future__ import annotations

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


class LoiteringParams(ScheduledParams):
    """``loitering``: a tracked person's bottom-centre stays in a zone for at least
    ``min_duration`` seconds (set it above the time it takes to walk through), during the
    ``schedule`` windows (always, when there is none).

    >>> LoiteringParams(zones=[{"name": "gate", "polygon": [(0, 0), (9, 0), (9, 9)]}]).min_duration
    30.0
    """

    min_duration: float = Field(
        30.0, ge=0, description="seconds a person must stay in the zone before a violation opens"
    )
    severity: Severity = "low"
    zones: list[Zone] = Field(min_length=1, description="zones where lingering is not allowed")


class LoiteringRule(Rule):
    """Observes every tracked person in a zone; the tracker's ``min_duration`` on the run of
    observations is what separates staying from passing through. A person who leaves for
    ``end_after`` seconds starts again from zero.

    >>> import numpy as np
    >>> import supervision as sv
    >>> params = LoiteringParams(zones=[{"name": "gate", "polygon": [(0, 0), (99, 0), (99, 99)]}])
    >>> d = sv.Detections(xyxy=np.array([[80.0, 0, 90, 20]]), confidence=np.array([0.8]),
    ...                   tracker_id=np.array([2]), data={"label": np.array(["person"])})
    >>> [o.subject for o in LoiteringRule(params).observe(d, Frame.blank((480, 640)))]
    ['track:2']
    """

    name = "loitering"
    Params = LoiteringParams
    params: LoiteringParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        if not self.params.active_at(frame.wall):
            return []
        people = select(
            detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
        )
        return [
            tracked_observation(people, i, zones[0])
            for i, zones in enumerate(self.zones.zones_of(people))
            if zones
        ]
