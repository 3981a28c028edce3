"""``restricted_zone``: a tracked person stands in a restricted zone (during its schedule)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import bbox_of, confidences_of, labels_of, select, track_subject
from vigil.events.rules.params import RestrictedZoneParams
from vigil.events.violation import Observation
from vigil.events.zones import ZoneSet


class RestrictedZoneRule:
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
    >>> [(o.subject, o.zone) for o in RestrictedZoneRule(params).observe(people, (480, 640), 0)]
    [('track:3', 'pit')]
    """

    name = "restricted_zone"
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def __init__(self, params: RestrictedZoneParams) -> None:
        self.params = params
        self.zones = ZoneSet(params.zones)

    def observe(
        self, detections: sv.Detections, frame_shape: tuple[int, int], wall: float
    ) -> list[Observation]:
        if not self.params.active_at(wall):
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
        labels, conf = labels_of(people), confidences_of(people)
        out = []
        for i, zones in enumerate(self.zones.zones_of(people)):
            if not zones:
                continue
            track_id = int(np.asarray(people.tracker_id)[i])
            out.append(
                Observation(
                    subject=track_subject(track_id),
                    label=str(labels[i]),
                    confidence=float(conf[i]),
                    bbox=bbox_of(people.xyxy[i]),
                    track_id=track_id,
                    zone=zones[0],
                )
            )
        return out
