"""``no_harness``: a tracked person at height wears no harness, or an unhooked one."""

from __future__ import annotations

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import HARNESS, HARNESS_HOOKED, HARNESS_UNHOOKED, PERSON
from vigil.events.rules.base import (
    Rule,
    RuleParams,
    Severity,
    confidences_of,
    labels_of,
    select,
    tracked_observation,
)
from vigil.events.violation import Observation
from vigil.events.zones import Zone
from vigil.streams.frame import Frame


class NoHarnessParams(RuleParams):
    """``no_harness``: a tracked person in a work-at-height zone has no harness on the upper
    body, or an unhooked one."""

    min_duration: float = Field(
        2.0, ge=0, description="seconds the subject must be observed before a violation opens"
    )
    severity: Severity = "high"
    zones: list[Zone] = Field(min_length=1, description="work-at-height zones (required)")
    upper_body: float = Field(
        0.6,
        gt=0,
        le=1,
        description="top fraction of the person's box that counts as the upper body",
    )
    min_overlap: float = Field(
        0.3,
        gt=0,
        le=1,
        description="fraction of a harness box that must lie on the upper body to belong to it",
    )


class NoHarnessRule(Rule):
    """Observes every tracked ``person`` whose bottom-centre is in a work-at-height zone and
    who either has no harness box on the upper body, or whose most confident harness box
    there is ``harness_unhooked``.

    A harness box belongs to a person when at least ``min_overlap`` of its area lies in the top
    ``upper_body`` of the person's box. The observation's label is ``person`` (no harness;
    confidence of the person box) or ``harness_unhooked`` (confidence of that box). The
    ``confidence`` override applies to the boxes that accuse (person, harness_unhooked), not
    to those that clear a person (harness, harness_hooked): raising it never adds alarms.

    >>> import numpy as np
    >>> import supervision as sv
    >>> params = NoHarnessParams(
    ...     zones=[{"name": "roof", "polygon": [(0, 0), (640, 0), (640, 480), (0, 480)]}])
    >>> d = sv.Detections(xyxy=np.array([[100.0, 100.0, 160.0, 300.0]]),
    ...                   confidence=np.array([0.9]), tracker_id=np.array([5]),
    ...                   data={"label": np.array(["person"])})
    >>> [(o.subject, o.label) for o in NoHarnessRule(params).observe(d, Frame.blank((480, 640)))]
    [('track:5', 'person')]
    """

    name = "no_harness"
    Params = NoHarnessParams
    params: NoHarnessParams
    needs = frozenset({PERSON, HARNESS, HARNESS_HOOKED, HARNESS_UNHOOKED})
    requires = (frozenset({PERSON}), frozenset({HARNESS, HARNESS_HOOKED, HARNESS_UNHOOKED}))

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        override = self.params.confidence
        people = select(detections, {PERSON}, min_confidence=override, tracked=True)
        if len(people) == 0:
            return []
        worn = select(detections, {HARNESS, HARNESS_HOOKED})
        unhooked = select(detections, {HARNESS_UNHOOKED}, min_confidence=override)
        harnesses = sv.Detections.merge([worn, unhooked])
        h_labels, h_conf = labels_of(harnesses), confidences_of(harnesses)
        on_body = self._on_upper_body(people.xyxy, harnesses.xyxy)

        out = []
        for i, zones in enumerate(self.zones.zones_of(people)):
            if not zones:
                continue
            mine = np.flatnonzero(on_body[i])
            if len(mine):
                best = mine[np.argmax(h_conf[mine])]
                if h_labels[best] != HARNESS_UNHOOKED:
                    continue
                out.append(tracked_observation(people, i, zones[0], HARNESS_UNHOOKED, h_conf[best]))
            else:
                out.append(tracked_observation(people, i, zones[0]))
        return out

    def _on_upper_body(self, people: np.ndarray, harnesses: np.ndarray) -> np.ndarray:
        """Boolean (people x harnesses): harness box lies enough on the person's upper body."""
        if len(harnesses) == 0:
            return np.zeros((len(people), 0), dtype=bool)
        upper = people.astype(float).copy()
        upper[:, 3] = upper[:, 1] + self.params.upper_body * (upper[:, 3] - upper[:, 1])
        hx1, hy1, hx2, hy2 = (harnesses[:, k][None, :] for k in range(4))
        w = np.clip(np.minimum(upper[:, 2:3], hx2) - np.maximum(upper[:, 0:1], hx1), 0, None)
        h = np.clip(np.minimum(upper[:, 3:4], hy2) - np.maximum(upper[:, 1:2], hy1), 0, None)
        area = np.clip((hx2 - hx1) * (hy2 - hy1), 1e-9, None)
        return (w * h) / area >= self.params.min_overlap
