"""``smoke``: a large enough smoke region persists in a zone (or anywhere in the frame)."""

from __future__ import annotations

from vigil.detector.labels import SMOKE
from vigil.events.rules.params import SmokeParams
from vigil.events.rules.region import RegionRule


class SmokeRule(RegionRule):
    """See :class:`~vigil.events.rules.region.RegionRule`.

    >>> import numpy as np
    >>> import supervision as sv
    >>> smoke = sv.Detections(xyxy=np.array([[0.0, 0.0, 100.0, 80.0]]),
    ...                       confidence=np.array([0.6]), data={"label": np.array(["smoke"])})
    >>> [o.subject for o in SmokeRule().observe(smoke, (480, 640), 0.0)]
    ['frame']
    """

    name = "smoke"
    label = SMOKE
    needs = frozenset({SMOKE})
    requires = (frozenset({SMOKE}),)

    def __init__(self, params: SmokeParams | None = None) -> None:
        super().__init__(params or SmokeParams())
