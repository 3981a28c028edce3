"""``smoke``: a large enough smoke region persists in a zone (or anywhere in the frame)."""

from __future__ import annotations

from pydantic import Field

from vigil.detector.labels import SMOKE
from vigil.events.rules.base import Severity
from vigil.events.rules.region import RegionParams, RegionRule


class SmokeParams(RegionParams):
    """``smoke``: a smoke region large enough persists, per zone (or the whole frame)."""

    min_duration: float = Field(
        2.0, ge=0, description="seconds the region must be observed before a violation opens"
    )
    severity: Severity = "high"
    # The fire card calls a whole hazy or grey view smoke (the greyscale plaza of
    # people_walking_01: 0.86-0.98 of the frame from its first frame); real plumes here start
    # at 0.07-0.33 and grow (smoke_01 reaches 0.84). RESULTS.md section 17.
    fill_area: float = Field(
        0.8,
        gt=0,
        le=1,
        description="a box covering at least this share of the frame continues a smoke region "
        "seen smaller within `fill_memory` seconds (the plume grew to fill the view) but opens "
        "none: a view that is all smoke from its first sight is fog, haze or a grey scene; 1 "
        "turns it off",
    )


class SmokeRule(RegionRule):
    """See :class:`~vigil.events.rules.region.RegionRule`.

    >>> import numpy as np
    >>> import supervision as sv
    >>> from vigil.streams.frame import Frame
    >>> smoke = sv.Detections(xyxy=np.array([[0.0, 0.0, 100.0, 80.0]]),
    ...                       confidence=np.array([0.6]), data={"label": np.array(["smoke"])})
    >>> [o.subject for o in SmokeRule().observe(smoke, Frame.blank((480, 640)))]
    ['frame']
    """

    name = "smoke"
    Params = SmokeParams
    label = SMOKE
    needs = frozenset({SMOKE})
    requires = (frozenset({SMOKE}),)
