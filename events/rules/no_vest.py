"""``no_vest``: a tracked person in a vest-required zone wears no hi-vis vest."""

from __future__ import annotations

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import NO_VEST, PERSON, VEST
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


def share_inside(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """The fraction of each ``inner`` box's area inside each ``outer`` box
    (``(len(outer), len(inner))``).

    >>> share_inside(np.array([[0.0, 0, 10, 10]]), np.array([[5.0, 0, 20, 20]])).tolist()
    [[0.5]]
    """
    if len(inner) == 0:
        return np.zeros((len(outer), 0))
    ix1, iy1, ix2, iy2 = (inner[:, k][None, :] for k in range(4))
    w = np.clip(np.minimum(outer[:, 2:3], ix2) - np.maximum(outer[:, 0:1], ix1), 0, None)
    h = np.clip(np.minimum(outer[:, 3:4], iy2) - np.maximum(outer[:, 1:2], iy1), 0, None)
    return (w * h) / np.clip((ix2 - ix1) * (iy2 - iy1), 1e-9, None)


class NoVestParams(RuleParams):
    """``no_vest``: a tracked person in a vest-required zone (default: whole frame) has a
    ``no_vest`` box, or no ``vest`` box, on their body.

    >>> NoVestParams().min_overlap, NoVestParams().unseen_is_violation
    (0.5, True)
    """

    severity: Severity = "medium"
    zones: list[Zone] | None = Field(
        None, description="vest-required zones; None means the whole frame"
    )
    min_overlap: float = Field(
        0.5,
        gt=0,
        le=1,
        description="fraction of a vest or no_vest box that must lie on the person's box to "
        "belong to them",
    )
    unseen_is_violation: bool = Field(
        True,
        description="whether a person with neither a vest nor a no_vest box counts as "
        "without a vest (a model that labels both may leave small people unlabelled)",
    )


class NoVestRule(Rule):
    """Observes every tracked ``person`` in a vest-required zone whose most confident
    vest-or-no_vest box on the body is ``no_vest`` (label ``no_vest``, its confidence), or who
    has none when ``unseen_is_violation`` (label ``person``). The ``confidence`` override
    applies to the accusing boxes (person, no_vest), never to the ``vest`` boxes that clear.

    No shipped model card gives ``vest`` or ``no_vest``: configuring the rule without one
    fails at start with a line saying so. It is off by default for that reason.

    >>> import numpy as np
    >>> import supervision as sv
    >>> d = sv.Detections(xyxy=np.array([[100.0, 100, 160, 300], [110, 150, 150, 220]]),
    ...                   confidence=np.array([0.9, 0.7]), tracker_id=np.array([5, 6]),
    ...                   data={"label": np.array(["person", "no_vest"])})
    >>> [(o.subject, o.label) for o in NoVestRule().observe(d, Frame.blank((480, 640)))]
    [('track:5', 'no_vest')]
    """

    name = "no_vest"
    Params = NoVestParams
    params: NoVestParams
    needs = frozenset({PERSON, VEST, NO_VEST})
    requires = (frozenset({PERSON}), frozenset({VEST, NO_VEST}))

    @classmethod
    def runs_by_default(cls) -> bool:
        """Off unless configured: no shipped model finds vests."""
        return False

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        override = self.params.confidence
        people = select(detections, {PERSON}, min_confidence=override, tracked=True)
        if len(people) == 0:
            return []
        garments = sv.Detections.merge(
            [select(detections, {VEST}), select(detections, {NO_VEST}, min_confidence=override)]
        )
        g_labels, g_conf = labels_of(garments), confidences_of(garments)
        on_body = share_inside(garments.xyxy, people.xyxy) >= self.params.min_overlap
        out = []
        for i, zones in enumerate(self.zones.zones_of(people)):
            if not zones:
                continue
            mine = np.flatnonzero(on_body[i])
            if len(mine):
                best = mine[np.argmax(g_conf[mine])]
                if g_labels[best] != NO_VEST:
                    continue
                out.append(tracked_observation(people, i, zones[0], NO_VEST, g_conf[best]))
            elif self.params.unseen_is_violation:
                out.append(tracked_observation(people, i, zones[0]))
        return out
