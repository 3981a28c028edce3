"""``absent_from_post``: nobody is at a staffed post during its schedule; the subject is the
post (离岗)."""

from __future__ import annotations

import supervision as sv
from pydantic import Field

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import Rule, ScheduledParams, Severity, select, zone_observation
from vigil.events.violation import Observation
from vigil.events.zones import Zone
from vigil.streams.frame import Frame

# The label of an empty-post observation: there is no box to name, the absence is the finding.
ABSENT = "absent"


class AbsentFromPostParams(ScheduledParams):
    """``absent_from_post``: a post zone holds no person for at least ``min_duration``
    seconds, during the ``schedule`` windows (always, when there is none).

    >>> AbsentFromPostParams(zones=[{"name": "desk", "polygon": [(0, 0), (9, 0), (9, 9)]}],
    ...                      schedule=["08:00-17:00"]).min_duration
    60.0
    """

    min_duration: float = Field(
        60.0, ge=0, description="seconds the post must stay empty before a violation opens"
    )
    severity: Severity = "medium"
    zones: list[Zone] = Field(min_length=1, description="post zones that must be staffed")


class AbsentFromPostRule(Rule):
    """Observes each post zone that holds no person's bottom-centre (``person`` or
    ``person_fallen``, tracked or not), while the schedule is active. The observation's label
    is ``absent``, its confidence 1.0 and its box the zone's bounding box. A person the
    detector misses for a frame or two makes a short gap, which ``k_of_n`` and
    ``min_duration`` absorb.

    >>> import numpy as np
    >>> import supervision as sv
    >>> desk = {"name": "desk", "polygon": [(0, 0), (99, 0), (99, 99)]}
    >>> params = AbsentFromPostParams(zones=[desk])
    >>> [o.subject for o in AbsentFromPostRule(params).observe(sv.Detections.empty(),
    ...                                                        Frame.blank((480, 640)))]
    ['zone:desk']
    """

    name = "absent_from_post"
    Params = AbsentFromPostParams
    params: AbsentFromPostParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        if not self.params.active_at(frame.wall):
            return []
        people = select(detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence)
        staffed = self.zones.membership(people).any(axis=0)
        return [
            zone_observation(zone, ABSENT, 1.0, people.xyxy[:0])
            for zone, held in zip(self.zones.zones, staffed, strict=True)
            if not held
        ]
