"""Rule parameters: what each rule is configured with, validated (DESIGN.md, Rules).

Times are seconds of video (pts for files, wall time for live sources); boxes and polygons are
pixels of the source frame.

>>> cfg = RulesConfig.model_validate({"no_helmet": {"min_duration": 2}, "fall": {}})
>>> sorted(cfg.enabled())
['fall', 'no_helmet']
>>> cfg.no_helmet.k_of_n, cfg.no_helmet.min_duration
((3, 5), 2.0)
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from vigil.events.zones import Zone

__all__ = [
    "FallParams",
    "FireParams",
    "NoHarnessParams",
    "NoHelmetParams",
    "RestrictedZoneParams",
    "RuleParams",
    "RulesConfig",
    "Severity",
    "SmokeParams",
    "Zone",
]

Severity = Literal["low", "medium", "high", "critical"]


class RuleParams(BaseModel):
    """What every rule shares: confirmation, ending, cooldown, severity, threshold, zones.

    A subject opens a violation when it was observed in at least ``k`` of the last ``n``
    analysed frames *and* has been observed for at least ``min_duration`` seconds.
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
        seen: set[str] = set()
        for zone in zones or ():
            if zone.name in seen:
                raise ValueError(f"zone {zone.name!r} is defined twice")
            seen.add(zone.name)
        return zones

    @property
    def confirmation_duration(self) -> float:
        """Seconds a subject must be observed before it can open a violation."""
        return self.min_duration


class NoHelmetParams(RuleParams):
    """``no_helmet``: a tracked head is bare in a helmet-required zone (default: whole frame).

    >>> NoHelmetParams().min_head_px
    12
    """

    severity: Severity = "high"
    min_head_px: int = Field(
        12, ge=0, description="heads whose box is shorter than this (pixels) are ignored"
    )
    zones: list[Zone] | None = Field(
        None, description="helmet-required zones; None means the whole frame"
    )


class NoHarnessParams(RuleParams):
    """``no_harness``: a tracked person in a work-at-height zone has no harness on the upper
    body, or an unhooked one."""

    min_duration: float = Field(
        2.0, ge=0, description="seconds the subject must be observed before a violation opens"
    )
    severity: Severity = "high"
    zones: list[Zone] = Field(min_length=1, description="work-at-height zones (required)")
    upper_body: float = Field(
        0.6,
        gt=0,
        le=1,
        description="top fraction of the person's box that counts as the upper body",
    )
    min_overlap: float = Field(
        0.3,
        gt=0,
        le=1,
        description="fraction of a harness box that must lie on the upper body to belong to it",
    )


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as (start, end) minutes of the day; the end may be ``24:00``.

    >>> parse_window("22:00-06:30")
    (1320, 390)
    """
    m = _WINDOW.match(text)
    bad = f"schedule window {text!r}: expected 'HH:MM-HH:MM', e.g. '22:00-06:00'"
    if not m:
        raise ValueError(bad)
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(bad)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"schedule window {text!r}: start and end are the same time")
    return start, end


def in_window(minute: float, window: tuple[int, int]) -> bool:
    """Whether a minute of the day lies in [start, end); windows may cross midnight."""
    start, end = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


class RestrictedZoneParams(RuleParams):
    """``restricted_zone``: a tracked person's bottom-centre stays inside a polygon for at
    least ``dwell`` seconds, during the ``schedule`` windows (always, when there is none).

    >>> p = RestrictedZoneParams(zones=[{"name": "pit", "polygon": [(0, 0), (9, 0), (9, 9)]}],
    ...                          schedule=["22:00-06:00"])
    >>> p.confirmation_duration
    2.0
    """

    min_duration: float = Field(
        0.0, ge=0, description="seconds observed before opening; dwell applies as well"
    )
    severity: Severity = "high"
    zones: list[Zone] = Field(min_length=1, description="restricted zones (required)")
    dwell: float = Field(
        2.0, ge=0, description="seconds the person's anchor must stay in a zone before it counts"
    )
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
    def _parse_windows(self) -> RestrictedZoneParams:
        self._windows = [parse_window(w) for w in self.schedule or ()]
        return self

    @property
    def confirmation_duration(self) -> float:
        return max(self.min_duration, self.dwell)

    def active_at(self, wall: float) -> bool:
        """Whether the schedule covers this wall time (seconds since the epoch, local time)."""
        if not self._windows:
            return True
        t = time.localtime(wall)
        minute = t.tm_hour * 60 + t.tm_min + t.tm_sec / 60
        return any(in_window(minute, w) for w in self._windows)


class FallParams(RuleParams):
    """``fall``: a tracked person is seen fallen (``person_fallen``) long enough; optionally
    only once the fallen box has stayed still for ``still_after`` seconds."""

    severity: Severity = "critical"
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


class RegionParams(RuleParams):
    """What smoke and fire share: a region's size and motion filters."""

    min_area: float = Field(
        0.0005, ge=0, le=1, description="smallest box area, as a fraction of the frame area"
    )
    max_area: float = Field(
        1.0,
        gt=0,
        le=1,
        description="largest box area, as a fraction of the frame area (a box over the whole "
        "frame is haze or a dark scene, not a plume)",
    )
    min_motion: float = Field(
        0.0,
        ge=0,
        description="smallest mean grey-level change inside the box since the previous analysed "
        "frame (0-255 scale); flames flicker and smoke drifts, look-alikes that stand still "
        "are dropped; 0 turns the filter off",
    )


class SmokeParams(RegionParams):
    """``smoke``: a smoke region large enough persists, per zone (or the whole frame)."""

    min_duration: float = Field(
        2.0, ge=0, description="seconds the region must be observed before a violation opens"
    )
    severity: Severity = "high"


class FireParams(RegionParams):
    """``fire``: a fire region large enough persists, per zone (or the whole frame)."""

    severity: Severity = "critical"


class RulesConfig(BaseModel):
    """The rules of one camera: one optional entry per rule; a missing entry is off.

    >>> from pydantic import ValidationError
    >>> try:
    ...     RulesConfig.model_validate({"helmet": {}})
    ... except ValidationError as exc:
    ...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"])
    ('helmet',) Extra inputs are not permitted
    """

    model_config = ConfigDict(extra="forbid")

    no_helmet: NoHelmetParams | None = None
    no_harness: NoHarnessParams | None = None
    restricted_zone: RestrictedZoneParams | None = None
    fall: FallParams | None = None
    smoke: SmokeParams | None = None
    fire: FireParams | None = None

    def enabled(self) -> dict[str, RuleParams]:
        """The configured, enabled rules by name, in field order."""
        out: dict[str, RuleParams] = {}
        for name in type(self).model_fields:
            params = getattr(self, name)
            if params is not None and params.enabled:
                out[name] = params
        return out

    @classmethod
    def defaults(cls) -> RulesConfig:
        """The rules that need no zones, with default parameters."""
        return cls(
            no_helmet=NoHelmetParams(),
            fall=FallParams(),
            smoke=SmokeParams(),
            fire=FireParams(),
        )
