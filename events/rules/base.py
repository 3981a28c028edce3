"""What a rule is, its shared parameters, and the small selections every rule makes on a
frame's Detections.

A rule turns one camera's Detections for one analysed frame into per-subject
:class:`~vigil.events.violation.Observation` s. Confirmation, opening and ending are not its
business: :class:`~vigil.events.lifecycle.ViolationTracker` does that with the rule's params.
Each rule lives in one file with its params (``fall.py``: ``FallParams`` and ``FallRule``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar, Literal

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from vigil.events.schedule import in_window, parse_window
from vigil.events.violation import BBox, Observation
from vigil.events.zones import Zone, ZoneSet, check_unique_names
from vigil.streams.frame import Frame

Severity = Literal["low", "medium", "high", "critical"]


class RuleParams(BaseModel):
    """What every rule shares: confirmation, ending, cooldown, severity, threshold, zones.

    A subject opens a violation when it was observed in at least ``k`` of the last ``n``
    analysed frames *and* has been observed for at least ``min_duration`` seconds. Times are
    seconds of video (pts for files, wall time for live sources); boxes and polygons are pixels
    of the source frame.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run this rule")
    k_of_n: tuple[int, int] = Field(
        (3, 5),
        description="confirm when the subject is seen in at least k of the last n analysed frames",
    )
    min_duration: float = Field(
        1.0, ge=0, description="seconds the subject must be observed before a violation opens"
    )
    end_after: float = Field(
        3.0, gt=0, description="a violation ends after this many seconds without an observation"
    )
    cooldown: float = Field(
        60.0, ge=0, description="seconds after an end during which the same subject cannot re-open"
    )
    severity: Severity = Field("medium", description="low, medium, high or critical")
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="minimum confidence of the triggering boxes; None keeps the model card's "
        "per-label threshold",
    )
    zones: list[Zone] | None = Field(
        None, description="polygons the rule applies in; None means the whole frame"
    )

    @field_validator("k_of_n")
    @classmethod
    def _k_within_n(cls, value: tuple[int, int]) -> tuple[int, int]:
        k, n = value
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if k > n:
            raise ValueError(f"k ({k}) must not exceed n ({n})")
        return value

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone] | None) -> list[Zone] | None:
        check_unique_names(zones)
        return zones

    @property
    def confirmation_duration(self) -> float:
        """Seconds a subject must be observed before it can open a violation."""
        return self.min_duration


class ScheduledParams(RuleParams):
    """A rule active only during daily ``schedule`` windows of local wall time.

    >>> ScheduledParams().active_at(0.0), ScheduledParams(schedule=["08:00-09:00"]).schedule
    (True, ['08:00-09:00'])
    """

    schedule: list[str] | None = Field(
        None,
        min_length=1,
        description="'HH:MM-HH:MM' windows of local wall time when the rule is active "
        "(may cross midnight); None means always",
    )
    _windows: list[tuple[int, int]] = PrivateAttr(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _valid_windows(cls, schedule: list[str] | None) -> list[str] | None:
        for text in schedule or ():
            parse_window(text)
        return schedule

    @model_validator(mode="after")
    def _parse_windows(self) -> ScheduledParams:
        self._windows = [parse_window(w) for w in self.schedule or ()]
        return self

    def active_at(self, wall: float) -> bool:
        """Whether the schedule covers this wall time (seconds since the epoch, local time)."""
        if not self._windows:
            return True
        t = time.localtime(wall)
        minute = t.tm_hour * 60 + t.tm_min + t.tm_sec / 60
        return any(in_window(minute, w) for w in self._windows)


# Rule name -> class, in the order the classes were defined; filled by Rule.__init_subclass__.
RULES: dict[str, type[Rule]] = {}


class Rule:
    """A rule on one camera. Subclasses that set ``name`` are registered in :data:`RULES`, and
    so become a field of the config (``RulesConfig``) with their ``Params``.

    Class attributes:
        name: the rule's name in the config (``no_helmet``, ``fall``, ...).
        Params: its parameters' model.
        needs: the canonical labels it needs; the pipeline runs the models that provide them.
        requires: groups of labels; for each group some model must provide one of its labels,
            else the rule cannot work (no_harness: a person and a harness label).

    >>> class Wave(Rule):
    ...     name, Params = "wave_test", RuleParams
    ...     needs, requires = frozenset({"person"}), (frozenset({"person"}),)
    >>> RULES.pop("wave_test") is Wave, Wave.runs_by_default()
    (True, True)
    """

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]]
    needs: ClassVar[frozenset[str]]
    requires: ClassVar[tuple[frozenset[str], ...]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # a base for rules (RegionRule), not a rule
        known = RULES.setdefault(cls.name, cls)
        # The same class imported again under another module name keeps the first.
        if known.__qualname__ != cls.__qualname__:
            raise TypeError(f"rule {cls.name!r} is defined twice: {known} and {cls}")

    def __init__(self, params: RuleParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.zones = ZoneSet(self.params.zones)

    @classmethod
    def runs_by_default(cls) -> bool:
        """Whether the rule runs when a config names no rules: it needs nothing (no zones)."""
        return not any(field.is_required() for field in cls.Params.model_fields.values())

    def observe(self, detections: sv.Detections, frame: Frame) -> list[Observation]:
        """This frame's observations, at most one per subject.

        Args:
            detections: the frame's detections, already filtered by the model cards'
                per-label thresholds, with ``data["label"]`` and, where tracked, ``tracker_id``.
            frame: the analysed frame (its pixels, shape and wall time).
        """
        raise NotImplementedError


def labels_of(detections: sv.Detections) -> np.ndarray:
    """The canonical label of each detection (empty strings where there is no label data)."""
    labels = detections.data.get("label")
    if labels is None:
        return np.full(len(detections), "", dtype=object)
    return np.asarray(labels)


def confidences_of(detections: sv.Detections) -> np.ndarray:
    """The confidence of each detection (1.0 where the detector gave none)."""
    if detections.confidence is None:
        return np.ones(len(detections), dtype=float)
    return np.asarray(detections.confidence, dtype=float)


def select(
    detections: sv.Detections,
    labels: Iterable[str],
    *,
    min_confidence: float | None = None,
    tracked: bool = False,
) -> sv.Detections:
    """The detections with one of ``labels``, at least ``min_confidence`` (when given), and a
    tracker id (when ``tracked``).

    >>> import numpy as np
    >>> d = sv.Detections(xyxy=np.zeros((3, 4)), confidence=np.array([0.9, 0.4, 0.8]),
    ...                   tracker_id=np.array([1, 2, 3]),
    ...                   data={"label": np.array(["head_bare", "head_bare", "person"])})
    >>> select(d, {"head_bare"}, min_confidence=0.5).tracker_id
    array([1])
    """
    keep = np.isin(labels_of(detections), list(labels))
    if min_confidence is not None:
        keep &= confidences_of(detections) >= min_confidence
    if tracked:
        if detections.tracker_id is None:
            keep &= False
        else:
            # A pipeline may mark untracked boxes with -1 rather than leaving tracker_id unset.
            keep &= np.asarray(detections.tracker_id) >= 0
    return detections[keep]


def track_subject(track_id: int) -> str:
    """The subject of a tracked person or head: ``"track:<id>"``."""
    return f"track:{int(track_id)}"


def bbox_of(xyxy: np.ndarray) -> BBox:
    """A box as a tuple of plain floats (for Observation)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return x1, y1, x2, y2


def tracked_observation(
    detections: sv.Detections,
    i: int,
    zone: str | None,
    label: str | None = None,
    confidence: float | None = None,
) -> Observation:
    """The observation of tracked detection ``i`` (subject ``track:<id>``) in ``zone``, with
    the detection's own label and confidence unless given (a garment's, found on the person).

    >>> d = sv.Detections(xyxy=np.array([[1.0, 2.0, 3.0, 4.0]]), confidence=np.array([0.5]),
    ...                   tracker_id=np.array([9]), data={"label": np.array(["person"])})
    >>> tracked_observation(d, 0, "gate").subject
    'track:9'
    """
    track_id = int(np.asarray(detections.tracker_id)[i])
    return Observation(
        subject=track_subject(track_id),
        label=str(labels_of(detections)[i]) if label is None else label,
        confidence=float(confidences_of(detections)[i] if confidence is None else confidence),
        bbox=bbox_of(detections.xyxy[i]),
        track_id=track_id,
        zone=zone,
    )


def zone_observation(zone: Zone, label: str, confidence: float, boxes: np.ndarray) -> Observation:
    """The observation of a whole zone (subject ``zone:<name>``), boxed around ``boxes``
    (the zone's own bounding box when there are none).

    >>> z = Zone(name="post", polygon=[(0, 0), (10, 0), (10, 5)])
    >>> zone_observation(z, "absent", 1.0, np.zeros((0, 4))).bbox
    (0.0, 0.0, 10.0, 5.0)
    """
    if len(boxes):
        box = np.array([*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)])
    else:
        pts = np.asarray(zone.polygon, dtype=float)
        box = np.array([*pts.min(axis=0), *pts.max(axis=0)])
    return Observation(
        subject=f"zone:{zone.name}",
        label=label,
        confidence=float(confidence),
        bbox=bbox_of(box),
        zone=zone.name,
    )
