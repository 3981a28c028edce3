"""``no_helmet``: a tracked head in a helmet-required zone is bare."""

from __future__ import annotations

import supervision as sv
from pydantic import Field

from vigil.detector.labels import HEAD_BARE, HEAD_HELMET
from vigil.events.rules.base import (
    Rule,
    RuleParams,
    Severity,
    select,
    tracked_observation,
)
from vigil.events.violation import Observation
from vigil.events.zones import Zone
from vigil.streams.frame import Frame


class NoHelmetParams(RuleParams):
    """``no_helmet``: a tracked head is bare in a helmet-required zone (default: whole frame).

    >>> NoHelmetParams().min_head_px
    12
    """

    severity: Severity = "high"
    min_head_px: int = Field(
        12, ge=0, description="heads whose box is shorter than this (pixels) are ignored"
    )
    zones: list[Zone] | None = Field(
        None, description="helmet-required zones; None means the whole frame"
    )


class NoHelmetRule(Rule):
    """Observes every tracked ``head_bare`` box at least ``min_head_px`` tall whose anchor
    (bottom-centre of the head box) is in a helmet-required zone.

    Helmeted heads are needed (so the helmet model runs and the head keeps its track id when
    its label flips) but are never observed. Zones are matched with the head box's
    bottom-centre, so draw helmet zones where heads appear in the image, not on the floor.

    >>> import numpy as np
    >>> import supervision as sv
    >>> heads = sv.Detections(xyxy=np.array([[10.0, 10.0, 40.0, 50.0]]),
    ...                       confidence=np.array([0.8]), tracker_id=np.array([7]),
    ...                       data={"label": np.array(["head_bare"])})
    >>> [o.subject for o in NoHelmetRule().observe(heads, Frame.blank((480, 640)))]
    ['track:7']
    """

    name = "no_helmet"
    Params = NoHelmetParams
    params: NoHelmetParams
    needs = frozenset({HEAD_BARE, HEAD_HELMET})
    requires = (frozenset({HEAD_BARE}),)

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        heads = select(detections, {HEAD_BARE}, min_confidence=self.params.confidence, tracked=True)
        heights = heads.xyxy[:, 3] - heads.xyxy[:, 1]
        heads = heads[heights >= self.params.min_head_px]
        if len(heads) == 0:
            return []
        return [
            tracked_observation(heads, i, zones[0])
            for i, zones in enumerate(self.zones.zones_of(heads))
            if zones
        ]
