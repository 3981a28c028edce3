"""``restricted_zone``: a tracked person stands in a restricted zone (during its schedule)."""

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


class RestrictedZoneParams(ScheduledParams):
    """``restricted_zone``: a tracked person's bottom-centre stays inside a polygon for at
    least ``dwell`` seconds, during the ``schedule`` windows (always, when there is none).

    >>> p = RestrictedZoneParams(zones=[{"name": "pit", "polygon": [(0, 0), (9, 0), (9, 9)]}],
    ...                          schedule=["22:00-06:00"])
    >>> p.confirmation_duration
    2.0
    """

    min_duration: float = Field(
        0.0, ge=0, description="seconds observed before opening; dwell applies as well"
    )
    severity: Severity = "high"
    zones: list[Zone] = Field(min_length=1, description="restricted zones (required)")
    dwell: float = Field(
        2.0, ge=0, description="seconds the person's anchor must stay in a zone before it counts"
    )

    @property
    def confirmation_duration(self) -> float:
        return max(self.min_duration, self.dwell)


class RestrictedZoneRule(Rule):
    """Observes every tracked person (``person`` or ``person_fallen``) whose bottom-centre lies
    in one of the zones, while the schedule is active. The dwell time is enforced by the
    tracker as the confirmation duration (``params.confirmation_duration``).

    >>> import numpy as np
    >>> import supervision as sv
    >>> params = RestrictedZoneParams(
    ...     zones=[{"name": "pit", "polygon": [(0, 100), (100, 100), (100, 200), (0, 200)]}])
    >>> people = sv.Detections(xyxy=np.array([[10.0, 20.0, 50.0, 150.0]]),
    ...                        confidence=np.array([0.9]), tracker_id=np.array([3]),
    ...                        data={"label": np.array(["person"])})
    >>> rule = RestrictedZoneRule(params)
    >>> [(o.subject, o.zone) for o in rule.observe(people, Frame.blank((480, 640)))]
    [('track:3', 'pit')]
    """

    name = "restricted_zone"
    Params = RestrictedZoneParams
    params: RestrictedZoneParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        if not self.params.active_at(frame.wall):
            return []
        # A fallen person is still a person in the zone (the fall model tracks both labels).
        people = select(
            detections,
            {PERSON, PERSON_FALLEN},
            min_confidence=self.params.confidence,
            tracked=True,
        )
        if len(people) == 0:
            return []
        return [
            tracked_observation(people, i, zones[0])
            for i, zones in enumerate(self.zones.zones_of(people))
            if zones
        ]
