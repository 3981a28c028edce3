"""``line_crossing``: a tracked person crosses a line (fence, rail, yellow line) the wrong way."""

from __future__ import annotations

from typing import Literal

import numpy as np
import supervision as sv
from pydantic import Field, field_validator

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import Rule, RuleParams, Severity, select, tracked_observation
from vigil.events.violation import Observation
from vigil.streams.frame import Frame

Point = tuple[float, float]


def side_of(line: tuple[Point, Point], points: np.ndarray) -> np.ndarray:
    """Which side of ``line`` (from its first point to its second) each point is on: +1 on the
    right-hand side of someone walking along it as the image shows it (y grows downwards),
    -1 on the left, 0 on the line.

    >>> side_of(((0, 0), (10, 0)), np.array([[5.0, 5.0], [5.0, -5.0], [5.0, 0.0]])).tolist()
    [1.0, -1.0, 0.0]
    """
    (x1, y1), (x2, y2) = line
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    cross = (x2 - x1) * (points[:, 1] - y1) - (y2 - y1) * (points[:, 0] - x1)
    return np.sign(cross)


def within_segment(line: tuple[Point, Point], a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the path from ``a`` to ``b`` (on opposite sides of the line) crosses the line
    between its two end points, not on its extension.

    >>> within_segment(((0, 0), (10, 0)), np.array([5.0, -1]), np.array([5.0, 1]))
    True
    >>> within_segment(((0, 0), (10, 0)), np.array([15.0, -1]), np.array([15.0, 1]))
    False
    """
    p, q = np.asarray(line[0], dtype=float), np.asarray(line[1], dtype=float)
    # a and b straddle the line, so the paths cross iff the line's ends straddle the path.
    return bool(side_of((tuple(a), tuple(b)), np.array([p, q])).prod() <= 0)


class LineCrossingParams(RuleParams):
    """``line_crossing``: a tracked person's anchor (bottom-centre) crosses the segment
    ``line`` in the forbidden ``direction``.

    ``direction`` names the side the person crosses *to*, seen walking along the line from its
    first point to its second in the image (y down): ``to_right``, ``to_left`` or ``both``.
    For a line drawn left to right across the image, ``to_right`` is moving down the image.

    >>> LineCrossingParams(line=[(0, 100), (640, 100)], direction="to_right").k_of_n
    (1, 1)
    """

    k_of_n: tuple[int, int] = Field(
        (1, 1), description="a crossing is one moment: one observation confirms it"
    )
    min_duration: float = Field(0.0, ge=0, description="0: a crossing opens at once")
    severity: Severity = "high"
    line: tuple[Point, Point] = Field(
        description="the line segment [[x1, y1], [x2, y2]] in pixels of the source frame"
    )
    direction: Literal["to_right", "to_left", "both"] = Field(
        "both", description="the forbidden direction: the side crossed to (see the rule)"
    )

    @field_validator("line")
    @classmethod
    def _has_length(cls, line: tuple[Point, Point]) -> tuple[Point, Point]:
        if line[0] == line[1]:
            raise ValueError(f"line {list(line)}: its two points are the same")
        return line


class LineCrossingRule(Rule):
    """Observes a tracked person in the frame where their anchor arrives strictly on the
    forbidden side, having last been seen strictly on the other side, and the path between
    the two positions cuts the segment. Positions on the line itself are skipped, so a person
    standing on it does not cross back and forth. A track unseen for ``end_after`` seconds
    forgets its side.

    >>> import numpy as np
    >>> import supervision as sv
    >>> rule = LineCrossingRule(LineCrossingParams(line=[(0, 100), (640, 100)]))
    >>> def person(y):
    ...     return sv.Detections(xyxy=np.array([[10.0, y - 50, 30, y]]), confidence=np.array([0.9]),
    ...                          tracker_id=np.array([1]), data={"label": np.array(["person"])})
    >>> [len(rule.observe(person(y), Frame.blank((480, 640), wall=t)))
    ...  for t, y in enumerate((80, 90, 120, 130))]
    [0, 0, 1, 0]
    """

    name = "line_crossing"
    Params = LineCrossingParams
    params: LineCrossingParams
    needs = frozenset({PERSON})
    requires = (frozenset({PERSON}),)

    def __init__(self, params: LineCrossingParams | None = None) -> None:
        super().__init__(params)
        # track id -> (wall, side, anchor) of its last sighting off the line
        self._last: dict[int, tuple[float, float, np.ndarray]] = {}

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        wall, line = frame.wall, self.params.line
        self._last = {t: v for t, v in self._last.items() if wall - v[0] < self.params.end_after}
        people = select(
            detections, {PERSON, PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
        )
        if len(people) == 0:
            return []
        anchors = people.get_anchors_coordinates(sv.Position.BOTTOM_CENTER)
        sides = side_of(line, anchors)
        out = []
        for i, (anchor, side) in enumerate(zip(anchors, sides, strict=True)):
            if side == 0:
                continue
            track_id = int(np.asarray(people.tracker_id)[i])
            before = self._last.get(track_id)
            self._last[track_id] = (wall, side, anchor)
            if before is None or before[1] == side or not self._forbidden(side):
                continue
            if within_segment(line, before[2], anchor):
                out.append(tracked_observation(people, i, None))
        return out

    def _forbidden(self, side: float) -> bool:
        """Whether arriving on ``side`` (+1 right, -1 left) is the forbidden direction."""
        direction = self.params.direction
        return direction == "both" or (side > 0) == (direction == "to_right")
