"""``crowding``: more than ``max_people`` people stand in a zone; the subject is the zone."""

from __future__ import annotations

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import Rule, RuleParams, confidences_of, select, zone_observation
from vigil.events.violation import Observation
from vigil.events.zones import Zone
from vigil.streams.frame import Frame


class CrowdingParams(RuleParams):
    """``crowding``: more than ``max_people`` people (their bottom-centres) in a zone for at
    least ``min_duration`` seconds; one violation per zone.

    >>> CrowdingParams(zones=[{"name": "bay", "polygon": [(0, 0), (9, 0), (9, 9)]}]).max_people
    5
    """

    min_duration: float = Field(
        10.0, ge=0, description="seconds the zone must stay crowded before a violation opens"
    )
    zones: list[Zone] = Field(min_length=1, description="zones whose head count is limited")
    max_people: int = Field(5, ge=0, description="the most people allowed in a zone at once")


class CrowdingRule(Rule):
    """Observes each zone holding more than ``max_people`` people (``person`` or
    ``person_fallen``, tracked or not: a head count needs no identity). The observation's
    confidence is the head count's weakest box (the count holds only if every box is right),
    its box spans the people.

    >>> import numpy as np
    >>> import supervision as sv
    >>> params = CrowdingParams(max_people=1,
    ...     zones=[{"name": "bay", "polygon": [(0, 0), (640, 0), (640, 480), (0, 480)]}])
    >>> two = sv.Detections(xyxy=np.array([[0.0, 0, 10, 50], [20, 0, 30, 50]]),
    ...                     confidence=np.array([0.9, 0.6]),
    ...                     data={"label": np.array(["person"] * 2)})
    >>> found = CrowdingRule(params).observe(two, Frame.blank((480, 640)))
    >>> [(o.subject, o.confidence) for o in found]
    [('zone:bay', 0.6)]
    """

    name = "crowding"
    Params = CrowdingParams
    params: CrowdingParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        people = select(detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence)
        if len(people) <= self.params.max_people:
            return []
        inside, conf = self.zones.membership(people), confidences_of(people)
        out = []
        for j, zone in enumerate(self.zones.zones):
            rows = np.flatnonzero(inside[:, j])
            if len(rows) > self.params.max_people:
                out.append(zone_observation(zone, PERSON, conf[rows].min(), people.xyxy[rows]))
        return out
