"""``fall``: a tracked person goes from upright to down quickly and stays down (``motion``), or
is seen fallen by the model (``pose``), optionally lying still."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import supervision as sv
from pydantic import Field

from vigil.detector.labels import PERSON, PERSON_FALLEN
from vigil.events.rules.base import (
    Rule,
    RuleParams,
    Severity,
    bbox_of,
    confidences_of,
    labels_of,
    select,
    track_subject,
)
from vigil.events.violation import Observation
from vigil.streams.frame import Frame

# (wall, centre x, centre y, box diagonal) of one fallen sighting
_Sighting = tuple[float, float, float, float]


def width_over_height(xyxy: np.ndarray) -> np.ndarray:
    """Each box's width / height: above 1 for someone lying across the view (``min_aspect``)."""
    return (xyxy[:, 2] - xyxy[:, 0]) / np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-6)


class FallParams(RuleParams):
    """``fall``: a tracked person goes from upright to down within ``fall_time`` seconds and
    stays down (``mode: motion``), or is seen fallen by the model (``mode: pose``); optionally
    only once the fallen box has stayed still for ``still_after`` seconds."""

    severity: Severity = "critical"
    mode: Literal["motion", "pose"] = Field(
        "motion",
        description="motion: a fast change from upright to down, then staying down; pose: "
        "every person_fallen box from the model (sitting and crouching people included)",
    )
    fall_time: float = Field(
        1.0,
        gt=0,
        description="motion: the most seconds between the last upright sighting and the down "
        "box that shows the fall (two analysed frames count whatever their spacing); a slower "
        "change is sitting or lying down, not a fall",
    )
    min_drop: float = Field(
        0.4,
        gt=0,
        description="motion: how far the top of a down box that is not wide (a fall seen "
        "end-on) must have dropped in that time, as a fraction of the upright box's height",
    )
    upright_ratio: float = Field(
        1.3,
        gt=0,
        description="motion: a person box at least this many times as tall as wide is upright",
    )
    down_aspect: float = Field(
        1.3,
        gt=0,
        description="motion: a box at least this many times as wide as tall is down; a "
        "person_fallen box is down whatever its shape (overhead views)",
    )
    still_after: float | None = Field(
        None,
        gt=0,
        description="only observe a fallen person whose box has not moved for this many "
        "seconds; None observes every fallen box",
    )
    still_tolerance: float = Field(
        0.15,
        gt=0,
        description="how far the box centre may move and still count as still, as a fraction "
        "of the box diagonal",
    )
    min_aspect: float = Field(
        0.0,
        ge=0,
        description="only observe a fallen box at least this many times as wide as tall (1.0: "
        "lying across the view); for side-view cameras, where it removes seated and crouching "
        "workers; overhead cameras see fallen people end-on, so 0 (off) is the default",
    )


class FallRule(Rule):
    """In ``motion`` mode, observes a tracked person who fell: their box is *down* (at least
    ``down_aspect`` times as wide as tall, or labelled ``person_fallen``), and within the last
    ``fall_time`` seconds (or the last two analysed frames, if they span longer) an *upright*
    ``person`` box (at least ``upright_ratio`` times as tall as wide) stood where they lie (the
    boxes overlap and their bottoms are within half the upright height), seen no later than
    their track went down (a track already down when someone stood there did not fall), and
    either the box is now wide (the aspect flipped) or its top is at least ``min_drop`` of the
    upright height lower (a fall seen end-on, labelled ``person_fallen``). The sightings
    between may be down already: mid-fall, the model calls the box fallen before it is wide.
    Boxes cut off by the frame's bottom edge are not judged (their shape is the frame's
    doing). The upright box may belong to another track: when two models find the person
    standing and fallen, each tracks its own boxes; then the two fallen tracks whose boxes
    overlap are one fall (one subject, the first track to fall). An upright box whose track is
    still standing there now is someone else. The fallen track is then observed for as long as
    it stays down; ``min_duration`` (and ``still_after``) make it stay down long enough.
    Sitting or crouching slowly, or climbing a ladder, never turns a box from upright to down
    within ``fall_time``.

    In ``pose`` mode, observes every tracked ``person_fallen`` box in the zones (default:
    whole frame).

    With ``min_aspect`` set, only boxes at least that many times as wide as tall count (someone
    lying across a side view); datasets/RESULTS.md measures what it costs on overhead views.

    With ``still_after`` set, a fallen person is observed only once their box has been seen
    fallen for that long without its centre moving more than ``still_tolerance`` of the box
    diagonal: someone lying still, not someone crawling under a pipe. The person and fallen
    boxes share one track id (the tracker is class-agnostic), so a track that stands up and
    falls again stays the same subject.

    >>> import numpy as np
    >>> import supervision as sv
    >>> fallen = sv.Detections(xyxy=np.array([[10.0, 100.0, 120.0, 140.0]]),
    ...                        confidence=np.array([0.7]), tracker_id=np.array([4]),
    ...                        data={"label": np.array(["person_fallen"])})
    >>> [o.subject for o in FallRule(FallParams(mode="pose")).observe(fallen,
    ...                                                               Frame.blank((480, 640)))]
    ['track:4']
    """

    name = "fall"
    Params = FallParams
    params: FallParams
    needs = frozenset({PERSON_FALLEN})
    requires = (frozenset({PERSON_FALLEN}),)

    def __init__(self, params: FallParams | None = None) -> None:
        super().__init__(params)
        self._history: dict[int, deque[_Sighting]] = {}
        self._motion = FallMotion(self.params) if self.params.mode == "motion" else None
        if self._motion is not None:
            self.needs = frozenset({PERSON, PERSON_FALLEN})

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        wall = frame.wall
        if self._motion is None:
            fallen = select(
                detections, {PERSON_FALLEN}, min_confidence=self.params.confidence, tracked=True
            )
        else:
            people = select(
                detections,
                {PERSON, PERSON_FALLEN},
                min_confidence=self.params.confidence,
                tracked=True,
            )
            fell = self._motion.update(people, wall, frame.shape[0])
            fallen = people[np.asarray(fell, dtype=bool)]
        if self.params.min_aspect and len(fallen):
            fallen = fallen[width_over_height(fallen.xyxy) >= self.params.min_aspect]
        labels, conf = labels_of(fallen), confidences_of(fallen)
        out = []
        for i, zones in enumerate(self.zones.zones_of(fallen)):
            track_id = int(np.asarray(fallen.tracker_id)[i])
            if self._motion is not None:
                track_id = self._motion.subject(track_id)  # one person, two models: one fall
            still = self._still(track_id, fallen.xyxy[i], wall)
            if not zones or not still:
                continue
            out.append(
                Observation(
                    subject=track_subject(track_id),
                    label=str(labels[i]),
                    confidence=float(conf[i]),
                    bbox=bbox_of(fallen.xyxy[i]),
                    track_id=track_id,
                    zone=zones[0],
                )
            )
        self._forget_stale(wall)
        return out

    def _still(self, track_id: int, xyxy: np.ndarray, wall: float) -> bool:
        """Record a fallen sighting; whether the track has lain still for ``still_after``."""
        still_after = self.params.still_after
        if still_after is None:
            return True
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        cx, cy, diag = (x1 + x2) / 2, (y1 + y2) / 2, float(np.hypot(x2 - x1, y2 - y1))
        history = self._history.setdefault(track_id, deque())
        if history and wall - history[-1][0] >= self.params.end_after:
            history.clear()  # out of sight too long: a new fall, not the same one
        history.append((wall, cx, cy, diag))
        # Keep one sighting at or before the window's start: it shows the window is covered.
        while len(history) > 1 and history[1][0] <= wall - still_after:
            history.popleft()
        if history[0][0] > wall - still_after:
            return False
        limit = self.params.still_tolerance * max(diag, 1.0)
        return all(np.hypot(hx - cx, hy - cy) <= limit for _, hx, hy, _ in history)

    def _forget_stale(self, wall: float) -> None:
        horizon = self.params.end_after + (self.params.still_after or 0.0)
        for track_id in [t for t, h in self._history.items() if wall - h[-1][0] > horizon]:
            del self._history[track_id]


# A box whose bottom is this close to the frame's bottom edge is cut off (pixels).
CUT_OFF_PX = 3.0
# A fall may show over this many analysed frames however far apart they are: a fall takes
# frames (mid-fall the box is called fallen before it is wide), and frames come further apart
# than planned: the sampler takes the source frame nearest each tick (2 fps on 29.97 fps video:
# two frames are 1.0008 s, over fall_time 1 s), and a loaded machine drops frames of live
# cameras (the newest frame wins).
FALL_FRAMES = 2
# Two fallen boxes overlapping by this much of the smaller one are one person found by two
# models (site_ppe's person box and the fall card's person_fallen box of fall_01's worker
# overlap 0.85-1.00 on the 11 frames where both are seen), not two people lying side by side.
SAME_FALL_OVERLAP = 0.7


@dataclass(slots=True)
class _Pose:
    """One sighting of a tracked person: when, where, and whether upright or down."""

    wall: float
    xyxy: np.ndarray
    upright: bool
    down: bool


class FallMotion:
    """Per-track box history over the last ``fall_time`` (+ margin) seconds, and the tracks
    that fell and are still down (see :class:`FallRule`, motion mode).

    >>> import supervision as sv
    >>> motion = FallMotion(FallParams())
    >>> def box(xyxy, label):
    ...     return sv.Detections(xyxy=np.array([xyxy], dtype=float), tracker_id=np.array([1]),
    ...                          data={"label": np.array([label])})
    >>> motion.update(box([100, 100, 140, 200], "person"), 0.0).tolist()
    [False]
    >>> motion.update(box([60, 160, 200, 200], "person"), 0.5).tolist()  # wide, 60% lower
    [True]
    """

    def __init__(self, params: FallParams) -> None:
        self.params = params
        self._poses: dict[int, deque[_Pose]] = {}
        self._fallen: set[int] = set()
        self._same: dict[int, int] = {}  # fallen track -> the fallen track it duplicates
        self._frames: deque[float] = deque(maxlen=FALL_FRAMES + 1)  # analysed frames' walls

    def update(
        self, people: sv.Detections, wall: float, frame_height: float = np.inf
    ) -> np.ndarray:
        """Record this frame's people; whether each one is a track that fell and is down.
        A box cut off by the bottom of a ``frame_height`` frame is not judged: its shape is
        the frame's doing."""
        self._forget(wall)
        self._frames.append(wall)
        if len(people) == 0:
            return np.zeros(0, dtype=bool)
        xyxy = people.xyxy.astype(float)
        width, height = xyxy[:, 2] - xyxy[:, 0], np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-6)
        labels = labels_of(people)
        upright = (labels == PERSON) & (height >= self.params.upright_ratio * width)
        down = (labels == PERSON_FALLEN) | (width >= self.params.down_aspect * height)
        ids = [int(t) for t in np.asarray(people.tracker_id)]
        fell = np.zeros(len(people), dtype=bool)
        current = dict(zip(ids, xyxy, strict=True))
        for i, track_id in enumerate(ids):
            if not down[i]:
                self._fallen.discard(track_id)  # got up
                self._same.pop(track_id, None)
            elif track_id in self._fallen or (
                xyxy[i, 3] < frame_height - CUT_OFF_PX
                and self._just_fell(track_id, xyxy[i], wall, ids)
            ):
                if track_id not in self._fallen:
                    self._join_a_fallen(track_id, xyxy[i], current)
                self._fallen.add(track_id)
                fell[i] = True
        for i, track_id in enumerate(ids):
            pose = _Pose(wall, xyxy[i], bool(upright[i]), bool(down[i]))
            self._poses.setdefault(track_id, deque()).append(pose)
        return fell

    def subject(self, track_id: int) -> int:
        """The track whose fall this track's fall is (itself, unless two models found the
        same person fallen: their boxes overlap, and the first track to fall speaks for both).
        """
        return self._same.get(track_id, track_id)

    def _join_a_fallen(
        self, track_id: int, box: np.ndarray, current: dict[int, np.ndarray]
    ) -> None:
        """Record ``track_id``, just fallen, as the same fall as the fallen track whose box
        (this frame's, else its last) it overlaps most, by at least ``SAME_FALL_OVERLAP``."""
        best, best_overlap = None, SAME_FALL_OVERLAP
        for other in sorted(self._fallen - {track_id}):
            last = self._poses.get(other)
            other_box = current.get(other, last[-1].xyxy if last else None)
            if other_box is None:
                continue
            overlap = _overlap(box, other_box)
            if overlap >= best_overlap:
                best, best_overlap = other, overlap
        if best is not None:
            self._same[track_id] = self.subject(best)

    def _just_fell(self, track_id: int, box: np.ndarray, wall: float, now: list[int]) -> bool:
        """Whether an upright box stood here within ``fall_time`` (or the last
        ``FALL_FRAMES`` analysed frames, if they span longer) with its top well above ``box``'s
        (or ``box`` is wide), seen no later than this track went down."""
        since = min(wall - self.params.fall_time, self._frames[0])
        width, height = box[2] - box[0], box[3] - box[1]
        wide = width >= self.params.down_aspect * max(height, 1e-6)
        went_down = _down_since(self._poses.get(track_id, ()), wall)
        for other, poses in self._poses.items():
            still_standing = other != track_id and other in now and poses[-1].upright
            if still_standing:
                continue
            for pose in poses:
                # Upright after this track went down: someone else, or a standing flicker.
                if not pose.upright or pose.wall < since or pose.wall > went_down:
                    continue
                top, upright_height = pose.xyxy[1], pose.xyxy[3] - pose.xyxy[1]
                dropped = box[1] - top >= self.params.min_drop * upright_height
                # Feet stay about where they stood: a box far below is someone else.
                same_floor = abs(box[3] - pose.xyxy[3]) <= 0.5 * upright_height
                if (wide or dropped) and same_floor and _overlap(pose.xyxy, box) > 0:
                    return True
        return False

    def _forget(self, wall: float) -> None:
        keep = self.params.fall_time + self.params.end_after
        for track_id in list(self._poses):
            poses = self._poses[track_id]
            while poses and poses[0].wall < wall - keep:
                poses.popleft()
            if not poses:
                del self._poses[track_id]
                self._fallen.discard(track_id)
                self._same.pop(track_id, None)


def _down_since(poses: Iterable[_Pose], wall: float) -> float:
    """When a track's current run of down sightings began (``wall`` if it is not down yet):
    a fall takes frames, so the sightings mid-fall may be down before the box shows it.

    >>> up, down = np.zeros(4), np.zeros(4)
    >>> _down_since([_Pose(1.0, up, True, False), _Pose(1.5, down, False, True)], 2.0)
    1.5
    >>> _down_since([_Pose(1.0, up, True, False)], 2.0)
    2.0
    """
    since = wall
    for pose in reversed(list(poses)):
        if not pose.down:
            break
        since = pose.wall
    return since


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area of two xyxy boxes over the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / max(smaller, 1e-9))
