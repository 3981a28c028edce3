"""Which channel gets which change: pure functions of the change, the filter and a little state.

A change is one outbox row. For each channel the dispatcher asks :func:`route`, which answers

- ``ignore``: the channel does not subscribe to it (camera, zone, rule, severity or change type);
  nothing is logged;
- ``skip``: it subscribes, but not now (quiet hours, outside its schedule, in cooldown, or the
  event's ``new`` was skipped on this channel, so its follow-ups are too); logged as ``skipped``
  with the reason, so "why did my phone stay silent?" has an answer;
- ``deliver``: a delivery is queued.

Schedules and cooldowns are judged at the change's own time (the outbox row's ``created_at``),
not at routing time, so a backlog after a restart routes exactly as it would have live.

>>> f = AlertFilter(rules=["fire"], cooldown=60)
>>> c = Change(1, "new", "e1", "gate-3", "fire", None, "critical", "zone:tank", 1000.0)
>>> route(f, ("new", "end"), c, RouteState(), minute_of_day=600).action
'deliver'
>>> route(f, ("new", "end"), c, RouteState(last_new_at=990.0), minute_of_day=600).reason
'cooldown: camera gate-3, rule fire, subject zone:tank alerted 10 s before'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from vigil.events.rules.params import in_window
from vigil.events.store.records import OutboxRecord

from .config import AlertFilter

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class Change:
    """What routing needs to know of one outbox row."""

    outbox_id: int
    type: str
    event_id: str
    camera: str
    rule: str
    zone: str | None
    severity: str
    subject: str
    at: float  # epoch seconds the change was written
    notify: tuple[str, ...] = ()  # whom the change is addressed to (hazard loop), if anyone

    @classmethod
    def of(cls, record: OutboxRecord) -> Change:
        after: dict[str, Any] = record.payload.get("after") or {}
        return cls(
            outbox_id=record.id,
            type=record.type,
            event_id=record.event_id,
            camera=record.camera,
            rule=record.rule,
            zone=record.zone,
            severity=record.severity,
            subject=str(after.get("subject", "")),
            at=record.created_at,
            notify=tuple(record.payload.get("notify") or ()),
        )

    @property
    def subject_key(self) -> str:
        """The cooldown key: one subject of one rule on one camera, across events."""
        return f"{self.camera}/{self.rule}/{self.subject}"


@dataclass(frozen=True, slots=True)
class RouteState:
    """What the delivery log says that the decision depends on.

    ``last_new_at``: when the newest ``new`` change of the same subject key was sent (or
    queued) on this channel, if ever; ``new_skipped``: this event's ``new`` was skipped here.
    """

    last_new_at: float | None = None
    new_skipped: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    action: Literal["deliver", "skip", "ignore"]
    reason: str | None = None


DELIVER = Route("deliver")
IGNORE = Route("ignore")


def subscribes(f: AlertFilter, wanted: Sequence[str], c: Change) -> bool:
    """Whether the channel wants changes like this one at all (time plays no part).

    >>> subscribes(AlertFilter(zones=["pit"]), ["new"], Change(1, "new", "e", "c", "fall",
    ...            None, "low", "track:1", 0.0))
    False
    >>> subscribes(AlertFilter(assignees=["ann"]), ["status"], Change(1, "status", "e", "c",
    ...            "fall", None, "low", "track:1", 0.0, notify=("user:ann",)))
    True
    """
    if c.type not in wanted:
        return False
    if f.cameras is not None and c.camera not in f.cameras:
        return False
    if f.rules is not None and c.rule not in f.rules:
        return False
    if f.zones is not None and c.zone not in f.zones:
        return False
    if f.assignees is not None and not set(f.assignees) & set(c.notify):
        return False
    return f.min_severity is None or severity_at_least(c.severity, f.min_severity)


def severity_at_least(severity: str, least: str) -> bool:
    """``critical`` > ``high`` > ``medium`` > ``low``; an unknown severity counts as high.

    >>> severity_at_least("medium", "high"), severity_at_least("critical", "high")
    (False, True)
    """
    return SEVERITY_RANK.get(severity, SEVERITY_RANK["high"]) >= SEVERITY_RANK[least]


def silent_at(f: AlertFilter, minute_of_day: float) -> str | None:
    """Why the channel is silent at this minute of the day (local), or None when it is not.

    >>> silent_at(AlertFilter(quiet_hours=["12:00-13:00"]), 12 * 60 + 30)
    'quiet hours 12:00-13:00'
    """
    active, quiet = f.windows()
    for text, window in zip(f.quiet_hours or (), quiet, strict=True):
        if in_window(minute_of_day, window):
            return f"quiet hours {text}"
    if active and not any(in_window(minute_of_day, w) for w in active):
        return f"outside schedule {', '.join(f.schedule or ())}"
    return None


def route(
    f: AlertFilter,
    wanted: Sequence[str],
    c: Change,
    state: RouteState,
    *,
    minute_of_day: float,
) -> Route:
    """The decision for one change on one channel (see the module docstring)."""
    if not subscribes(f, wanted, c):
        return IGNORE
    if c.type != "new":
        if state.new_skipped:
            return Route("skip", "its event's new was skipped on this channel")
        return DELIVER
    silent = silent_at(f, minute_of_day)
    if silent is not None:
        return Route("skip", silent)
    if f.cooldown > 0 and state.last_new_at is not None:
        since = c.at - state.last_new_at
        if 0 <= since < f.cooldown:
            return Route(
                "skip",
                f"cooldown: camera {c.camera}, rule {c.rule}, subject {c.subject} "
                f"alerted {since:.0f} s before",
            )
    return DELIVER


def minute_of_day(wall: float, zone: str | None = None) -> float:
    """Minutes since local midnight of an epoch time, in ``zone`` (IANA) or the machine's.

    >>> minute_of_day(3600 * 25 + 90, "UTC")
    61.5
    """
    if zone is None:
        t = time.localtime(wall)
        return t.tm_hour * 60 + t.tm_min + t.tm_sec / 60
    from datetime import datetime

    d = datetime.fromtimestamp(wall, ZoneInfo(zone))
    return d.hour * 60 + d.minute + (d.second + d.microsecond / 1e6) / 60
