"""Zones: named polygons on a camera's frame, and which detections stand in them.

A detection is in a zone when its anchor (by default the bottom-centre of its box, where a
person's feet touch the floor) lies inside the polygon; the box itself may stick out.

>>> import numpy as np
>>> import supervision as sv
>>> zones = ZoneSet([Zone(name="tank-farm", polygon=[(0, 100), (200, 100), (200, 200), (0, 200)])])
>>> people = sv.Detections(xyxy=np.array([[10.0, 20.0, 50.0, 150.0], [300.0, 20.0, 340.0, 150.0]]))
>>> zones.zones_of(people)
[['tank-farm'], []]
>>> ZoneSet().zones_of(people)  # no zones: the whole frame, named None
[[None], [None]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Zone(BaseModel):
    """A named polygon in pixels of the source frame.

    >>> Zone(name="tank-farm", polygon=[(0, 0), (100, 0), (100, 50)]).area
    2500.0
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="unique name of the zone on its camera")
    polygon: list[tuple[float, float]] = Field(
        description="vertices (x, y) in pixels of the source frame, in drawing order"
    )

    @model_validator(mode="after")
    def _is_a_polygon(self) -> Zone:
        if len(self.polygon) < 3:
            raise ValueError(
                f"zone {self.name!r}: polygon needs at least 3 points, got {len(self.polygon)}"
            )
        for x, y in self.polygon:
            if x < 0 or y < 0:
                raise ValueError(
                    f"zone {self.name!r}: point ({x:g}, {y:g}) lies outside the frame "
                    "(coordinates are pixels, >= 0)"
                )
        if self.area == 0:
            raise ValueError(
                f"zone {self.name!r}: polygon has zero area "
                "(are its points collinear, repeated or out of order?)"
            )
        return self

    @property
    def area(self) -> float:
        """Area in square pixels (shoelace formula)."""
        pts = np.asarray(self.polygon, dtype=float)
        x, y = pts[:, 0], pts[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


class ZoneSet:
    """The zones of one rule on one camera; the whole frame when there are none.

    Args:
        zones: the zones; ``None`` or empty means one zone covering the whole frame, named
            ``None``.
        anchor: the point of each box that must lie inside a polygon.
    """

    def __init__(
        self,
        zones: Sequence[Zone] | None = None,
        anchor: sv.Position = sv.Position.BOTTOM_CENTER,
    ) -> None:
        self.zones: tuple[Zone, ...] = tuple(zones or ())
        self.anchor = anchor
        self._polygons = [
            sv.PolygonZone(
                polygon=np.rint(np.asarray(z.polygon, dtype=float)).astype(int),
                triggering_anchors=[anchor],
            )
            for z in self.zones
        ]

    @property
    def whole_frame(self) -> bool:
        """True when no zones were given: everything counts as inside."""
        return not self.zones

    @property
    def names(self) -> tuple[str | None, ...]:
        """Zone names in order (the columns of :meth:`membership`); ``(None,)`` for the whole
        frame."""
        return (None,) if self.whole_frame else tuple(z.name for z in self.zones)

    def membership(self, detections: sv.Detections) -> np.ndarray:
        """Boolean array (detections x zones): whether each detection's anchor is in each zone."""
        if self.whole_frame:
            return np.ones((len(detections), 1), dtype=bool)
        if len(detections) == 0:
            return np.zeros((0, len(self.zones)), dtype=bool)
        return np.stack([p.trigger(detections) for p in self._polygons], axis=1)

    def inside(self, detections: sv.Detections) -> np.ndarray:
        """Boolean array: whether each detection is in at least one zone."""
        return self.membership(detections).any(axis=1)

    def zones_of(self, detections: sv.Detections) -> list[list[str | None]]:
        """For each detection, the names of the zones that hold its anchor (in zone order)."""
        names = self.names
        return [[names[j] for j in np.flatnonzero(row)] for row in self.membership(detections)]
