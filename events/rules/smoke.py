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
