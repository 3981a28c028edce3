"""The hazard loop's part of a site file: auto-dispatch rules and the escalation ladder.

Example (``site.yaml``)::

    dispatch:
      - match: {cameras: [gate-3], rules: [no_helmet]}
        assign: {group: gate-supervisors}
        due: {high: 24h, medium: 72h, low: 7d}
      - match: {severities: [critical]}
        assign: {user: shift-lead}
        due: {critical: 1h}
    escalation:
      high:
        - {after: 0s, notify: {user: safety-manager}}
        - {after: 4h, notify: {group: plant-management}}

>>> rule = DispatchRule.model_validate(
...     {"match": {"rules": ["fire"]}, "assign": {"user": "ann"}, "due": {"high": "24h"}})
>>> rule.assign.target, rule.due_seconds("high"), rule.due_seconds("low")
('user:ann', 86400.0, None)
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SEVERITIES = ("low", "medium", "high", "critical")


def parse_duration(value: str | float) -> float:
    """Seconds in ``90``, ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"`` or ``"2w"``.

    >>> parse_duration("7d"), parse_duration(1.5)
    (604800.0, 1.5)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as '90s', '15m', '24h' or '7d'")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds < 0:
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_Strict):
    """A user or a group (exactly one); as an escalation target also an alert channel."""

    user: str | None = Field(None, pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="a user's name")
    group: str | None = Field(
        None, pattern=r"^[^\x00-\x1f\x7f]{1,64}$", description="a group's name (users' group)"
    )
    channel: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]{1,64}$", description="an alert channel's name"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if sum(v is not None for v in (self.user, self.group, self.channel)) != 1:
            raise ValueError("name exactly one of user, group or channel")
        return self

    @property
    def target(self) -> str:
        """``user:<name>``, ``group:<name>`` or ``channel:<name>``: how outbox rows and alert
        channel filters (``assignees``) name it."""
        if self.user is not None:
            return f"user:{self.user}"
        if self.group is not None:
            return f"group:{self.group}"
        return f"channel:{self.channel}"


class Assignee(Target):
    """A user or a group (a channel cannot fix a hazard)."""

    @model_validator(mode="after")
    def _not_channel(self) -> Assignee:
        if self.channel is not None:
            raise ValueError("an assignee is a user or a group, not a channel")
        return self


class DispatchMatch(_Strict):
    """Which events a rule takes; every list narrows, an empty match takes every event."""

    cameras: list[str] | None = None
    zones: list[str] | None = None
    rules: list[str] | None = None
    severities: list[str] | None = None

    def matches(self, camera: str, zone: str | None, rule: str, severity: str) -> bool:
        """Whether an event of this camera, zone, rule and severity matches.

        >>> DispatchMatch(zones=["pit"]).matches("c", None, "fall", "high")
        False
        """
        return (
            (self.cameras is None or camera in self.cameras)
            and (self.zones is None or zone in self.zones)
            and (self.rules is None or rule in self.rules)
            and (self.severities is None or severity in self.severities)
        )


class DispatchRule(_Strict):
    """Events that ``match`` are assigned to ``assign``, due after ``due[severity]``."""

    match: DispatchMatch = Field(default_factory=DispatchMatch)
    assign: Assignee
    due: dict[str, float] = Field(
        default_factory=dict, description="time to rectify per severity: '24h', '72h', '7d'"
    )

    @field_validator("due", mode="before")
    @classmethod
    def _durations(cls, value: dict[str, str | float]) -> dict[str, float]:
        if not isinstance(value, dict):
            raise ValueError("due: a mapping of severity to duration, e.g. {high: 24h}")
        for severity in value:
            if severity not in SEVERITIES:
                raise ValueError(f"due: unknown severity {severity!r} (one of {SEVERITIES})")
        return {k: parse_duration(v) for k, v in value.items()}

    def due_seconds(self, severity: str) -> float | None:
        return self.due.get(severity)


class EscalationStep(_Strict):
    """Notify ``notify`` once the item has been overdue for ``after``."""

    after: float = 0.0
    notify: Target

    @field_validator("after", mode="before")
    @classmethod
    def _duration(cls, value: str | float) -> float:
        return parse_duration(value)


def first_rule(
    rules: list[DispatchRule], camera: str, zone: str | None, rule: str, severity: str
) -> DispatchRule | None:
    """The first dispatch rule that takes the event, or None."""
    return next((r for r in rules if r.match.matches(camera, zone, rule, severity)), None)


def check_escalation(value: dict[str, list[EscalationStep]]) -> dict[str, list[EscalationStep]]:
    """Escalation ladders per severity, each step later than the one before."""
    for severity, steps in value.items():
        if severity not in SEVERITIES:
            raise ValueError(f"escalation: unknown severity {severity!r} (one of {SEVERITIES})")
        afters = [s.after for s in steps]
        if afters != sorted(afters):
            raise ValueError(f"escalation.{severity}: steps must come in order of 'after'")
    return value


class LoopPolicy(_Strict):
    """A site's hazard-loop policy: whom new events go to, by when, and who hears of overdue.

    >>> LoopPolicy().model_dump()
    {'dispatch': [], 'escalation': {}}
    """

    dispatch: list[DispatchRule] = Field(
        default_factory=list, description="auto-dispatch rules, first match wins"
    )
    escalation: dict[str, list[EscalationStep]] = Field(
        default_factory=dict, description="per severity: who is notified how long past due"
    )
