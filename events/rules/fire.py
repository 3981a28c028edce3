"""``fire``: a large enough fire region persists in a zone (or anywhere in the frame)."""

from __future__ import annotations

from pydantic import Field

from vigil.detector.labels import FIRE
from vigil.events.rules.base import Severity
from vigil.events.rules.region import RegionParams, RegionRule


class FireParams(RegionParams):
    """``fire``: a fire region large enough persists, per zone (or the whole frame)."""

    severity: Severity = "critical"
    # On by default for fire (not smoke): true flames here changed 15-55 grey levels between
    # analysed frames, a still look-alike 0; the slowest real smoke ~2 (RESULTS.md section 3).
    min_motion: float = Field(
        1.0,
        ge=0,
        description="smallest mean grey-level change inside the box since the previous analysed "
        "frame (0-255 scale): flames flicker, a still look-alike (an orange sign, a lit lamp) "
        "does not; a moving camera moves every box, so it only drops stills; 0 turns it off",
    )


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
