"""A violation as the machine sees it: opened, updated while it holds, ended (DESIGN.md, Events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

BBox = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Observation:
    """One rule's finding about one subject in one analysed frame.

    Attributes:
        subject: what the violation is about: ``"track:12"`` for a tracked person or head,
            ``"zone:tank-farm"`` or ``"frame"`` for smoke and fire regions.
        label: the canonical label that triggered it (e.g. ``head_bare``).
        confidence: the model's confidence for that box.
        bbox: xyxy box in pixels of the frame.
        track_id: the tracker's id, or None for region subjects.
        zone: the name of the zone that applies, if any.
    """

    subject: str
    label: str
    confidence: float
    bbox: BBox
    track_id: int | None = None
    zone: str | None = None


class Phase(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ENDED = "ended"


@dataclass(slots=True)
class TimelinePoint:
    pts: float
    confidence: float
    bbox: BBox


@dataclass(frozen=True, slots=True)
class ModelRef:
    """The model card behind a violation's label, as it stood when the violation opened.

    ``version`` identifies the weights (a digest of the file); ``threshold`` is the confidence a
    box of the triggering label needed (the card's, or the rule's ``confidence`` if higher);
    ``thresholds`` the card's per-label thresholds.

    >>> ModelRef("site_ppe", "3f2a9c1b0d4e", 0.3, {"head_bare": 0.3}).name
    'site_ppe'
    """

    name: str
    version: str
    threshold: float
    thresholds: dict[str, float]


@dataclass(slots=True)
class Violation:
    """A confirmed violation of one rule by one subject on one camera.

    Times: ``start_pts`` is the first observation of the run that got confirmed, ``end_pts``
    the last observation (set when it ends). Wall times follow the same frames.
    ``peak_image`` holds the frame (BGR) at peak confidence, for the snapshot; it is not stored.
    """

    camera: str
    rule: str
    label: str
    subject: str
    severity: str
    start_pts: float
    start_wall: float
    end_pts: float
    end_wall: float
    peak_confidence: float
    peak_pts: float
    bbox: BBox
    track_id: int | None = None
    zone: str | None = None
    peak_image: np.ndarray | None = field(default=None, repr=False)
    timeline: list[TimelinePoint] = field(default_factory=list)
    ended: bool = False
    model: ModelRef | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """What happened to a violation in one analysed frame."""

    phase: Phase
    violation: Violation
