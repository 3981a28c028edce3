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

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

log = logging.getLogger(__name__)

# The largest frame side Vigil accepts a zone coordinate for (16K video); zones cost nothing per
# pixel, but a vertex past this is a typo, not a camera.
MAX_COORDINATE = 16384.0
# An anchor this close to an edge (pixels) counts as inside, as a drawn pixel on the line would.
EDGE_PX = 0.5


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
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(
                    f"zone {self.name!r}: point ({x:g}, {y:g}) is not a finite number of pixels"
                )
            if x < 0 or y < 0:
                raise ValueError(
                    f"zone {self.name!r}: point ({x:g}, {y:g}) lies outside the frame "
                    "(coordinates are pixels, >= 0)"
                )
            if x > MAX_COORDINATE or y > MAX_COORDINATE:
                raise ValueError(
                    f"zone {self.name!r}: point ({x:g}, {y:g}) lies outside any frame "
                    f"(coordinates are pixels, at most {MAX_COORDINATE:g})"
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
        return _area(pts)

    def area_in_frame(self, width: int, height: int) -> float:
        """Area (square pixels) of the part of the zone that a ``width`` x ``height`` frame
        shows; 0 when the zone lies wholly outside it.

        >>> Zone(name="z", polygon=[(50, 0), (150, 0), (150, 10), (50, 10)]).area_in_frame(100, 100)
        500.0
        """
        return _area(_clip_to_frame(np.asarray(self.polygon, dtype=float), width, height))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point (an ``(n, 2)`` array of x, y) lies inside the polygon or on its
        edge: an even-odd crossing test over all points at once, with no per-pixel mask, so a
        zone costs the same whatever its size.

        >>> zone = Zone(name="z", polygon=[(0, 0), (10, 0), (10, 10), (0, 10)])
        >>> zone.contains(np.array([[5.0, 5.0], [10.0, 5.0], [11.0, 5.0]])).tolist()
        [True, True, False]
        """
        return points_in_polygon(np.asarray(self.polygon, dtype=float), points)


MAX_VERTICES = 256  # a drawn zone's points: more is a runaway click, and costs every frame
ZoneKind = Literal["restricted", "helmet-required", "work-at-height", "post"]

# The rules that enforce each kind of zone. A zone drawn in the console turns the first on (with
# its default parameters) where the site does not configure it; the others get the zones only
# where the site configures them (``inactive_on_post`` is a choice, not implied by a post).
KIND_RULES: dict[str, tuple[str, ...]] = {
    "restricted": ("restricted_zone",),
    "helmet-required": ("no_helmet",),
    "work-at-height": ("no_harness",),
    "post": ("absent_from_post", "inactive_on_post"),
}

_Z = TypeVar("_Z", bound=Zone)


def check_unique_names(zones: Sequence[_Z] | None) -> Sequence[_Z] | None:
    """``zones`` as given, or ValueError naming a zone defined twice.

    >>> check_unique_names([Zone(name="a", polygon=[(0, 0), (1, 0), (1, 1)])] * 2)
    Traceback (most recent call last):
    ...
    ValueError: zone 'a' is defined twice
    """
    seen: set[str] = set()
    for zone in zones or ():
        if zone.name in seen:
            raise ValueError(f"zone {zone.name!r} is defined twice")
        seen.add(zone.name)
    return zones


class CameraZone(Zone):
    """A zone of a camera with what it is for: the kind decides which rules apply in it
    (:data:`KIND_RULES`).

    >>> CameraZone(name="pit", kind="restricted", polygon=[(0, 0), (9, 0), (9, 9)]).kind
    'restricted'
    """

    name: str = Field(
        min_length=1, max_length=128, description="unique name of the zone on its camera"
    )
    polygon: list[tuple[float, float]] = Field(
        max_length=MAX_VERTICES,
        description="vertices (x, y) in pixels of the source frame, in drawing order",
    )
    kind: ZoneKind = Field(
        description="restricted, helmet-required, work-at-height or post: the rules it feeds"
    )

    def plain(self) -> Zone:
        """The polygon as a rule's zone (without its kind)."""
        return Zone(name=self.name, polygon=self.polygon)


class CameraZones(BaseModel):
    """Every zone of one camera, as edited in the console: names are unique.

    >>> square = [(0, 0), (9, 0), (9, 9), (0, 9)]
    >>> try:
    ...     CameraZones(zones=[{"name": "a", "kind": "post", "polygon": square},
    ...                        {"name": "a", "kind": "restricted", "polygon": square}])
    ... except ValueError as exc:
    ...     print(exc.errors()[0]["msg"])
    Value error, zone 'a' is defined twice
    """

    model_config = ConfigDict(extra="forbid")

    zones: list[CameraZone] = Field(
        max_length=64, description="the camera's zones; an empty list: none"
    )

    @field_validator("zones")
    @classmethod
    def _unique_names(cls, zones: list[CameraZone]) -> list[CameraZone]:
        check_unique_names(zones)
        return zones


def _area(pts: np.ndarray) -> float:
    """Shoelace area of a polygon given as an ``(n, 2)`` array (0 for fewer than 3 points)."""
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _clip_to_frame(pts: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman: the polygon cut to the frame rectangle (a convex window, so the
    area of the result is right for any simple polygon)."""
    # Each frame edge as (axis, limit, keep below the limit?).
    for axis, limit, below in (
        (0, 0.0, False),
        (0, width, True),
        (1, 0.0, False),
        (1, height, True),
    ):
        if len(pts) == 0:
            break
        kept = []
        for i in range(len(pts)):
            a, b = pts[i - 1], pts[i]
            a_in = a[axis] <= limit if below else a[axis] >= limit
            b_in = b[axis] <= limit if below else b[axis] >= limit
            if a_in != b_in:
                t = (limit - a[axis]) / (b[axis] - a[axis])
                kept.append(a + t * (b - a))
            if b_in:
                kept.append(b)
        pts = np.asarray(kept, dtype=float).reshape(-1, 2)
    return pts


def points_in_polygon(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Boolean array: whether each of ``points`` (``(m, 2)``) lies in ``polygon`` (``(n, 2)``),
    its edges included (within :data:`EDGE_PX`). Memory is ``m x n``, never frame-sized.

    >>> square = np.array([[0, 0], [4, 0], [4, 4], [0, 4]], dtype=float)
    >>> points_in_polygon(square, np.array([[2, 2], [4, 2], [5, 2], [np.nan, 1]])).tolist()
    [True, True, False, False]
    """
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    px, py = points[:, 0:1], points[:, 1:2]  # (m, 1): broadcast against the n edges
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        straddles = (y1 > py) != (y2 > py)
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside = np.count_nonzero(straddles & (px < x_cross), axis=1) % 2 == 1
        # Distance from each point to each edge (segment), for points on the boundary.
        dx, dy = x2 - x1, y2 - y1
        t = np.clip(((px - x1) * dx + (py - y1) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
        near = np.hypot(px - (x1 + t * dx), py - (y1 + t * dy)) <= EDGE_PX
    return inside | near.any(axis=1)


def warn_zones_off_frame(
    camera: str, zones: Iterable[Zone], frame_shape: tuple[int, ...]
) -> list[str]:
    """Log one warning line per zone that a frame of ``frame_shape`` (height, width, …) does
    not show at all: such a zone can never hold anyone. Returns their names.

    Called with a camera's first frame, when its size is known.
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    missing = []
    for zone in zones:
        if zone.name not in missing and zone.area_in_frame(width, height) == 0:
            missing.append(zone.name)
            log.warning(
                "camera %s: zone %r lies wholly outside the %dx%d frame; nothing can be in it "
                "(coordinates are pixels of the source frame)",
                camera,
                zone.name,
                width,
                height,
            )
    return missing


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
        anchors = detections.get_anchors_coordinates(self.anchor)
        return np.stack([zone.contains(anchors) for zone in self.zones], axis=1)

    def inside(self, detections: sv.Detections) -> np.ndarray:
        """Boolean array: whether each detection is in at least one zone."""
        return self.membership(detections).any(axis=1)

    def zones_of(self, detections: sv.Detections) -> list[list[str | None]]:
        """For each detection, the names of the zones that hold its anchor (in zone order)."""
        names = self.names
        return [[names[j] for j in np.flatnonzero(row)] for row in self.membership(detections)]
