"""``fire``: a large enough fire region persists in a zone (or anywhere in the frame)."""

from __future__ import annotations

from vigil.detector.labels import FIRE
from vigil.events.rules.base import Severity
from vigil.events.rules.region import RegionParams, RegionRule


class FireParams(RegionParams):
    """``fire``: a fire region large enough persists, per zone (or the whole frame)."""

    severity: Severity = "critical"


class FireRule(RegionRule):
    """See :class:`~vigil.events.rules.region.RegionRule`.

    >>> import numpy as np
    >>> import supervision as sv
    >>> from vigil.streams.frame import Frame
    >>> fire = sv.Detections(xyxy=np.array([[0.0, 0.0, 4.0, 4.0], [10.0, 10.0, 60.0, 90.0]]),
    ...                      confidence=np.array([0.9, 0.5]),
    ...                      data={"label": np.array(["fire", "fire"])})
    >>> [(o.subject, o.confidence) for o in FireRule().observe(fire, Frame.blank((480, 640)))]
    [('frame', 0.5)]
    """

    name = "fire"
    Params = FireParams
    label = FIRE
    needs = frozenset({FIRE})
    requires = (frozenset({FIRE}),)
