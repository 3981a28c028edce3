"""Read models over the store for the API: filtered event pages (keyset, newest first) and
counts. They query the store's tables directly, on the store's engine.

>>> from vigil.events.store import EventStore
>>> queries = EventQueries(EventStore("sqlite://").engine)
>>> queries.page(EventFilter(rules=("fall",)), limit=10)
EventPage(events=[], next_cursor=None)
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import BigInteger, Engine, Integer, Select, cast, func, or_, select, tuple_
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from vigil.events.store.models import EventRow, LoopRow
from vigil.events.store.records import EventRecord
from vigil.events.store.store import event_record

_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
UNASSIGNED = "none"  # in EventFilter.assignees: events no one is assigned to


class BadCursor(ValueError):
    """A page cursor this API did not make."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a caller asks for, and which cameras it may see (``allowed`` None: all).

    Empty tuples mean "any"; times are epoch seconds on ``start_wall``. ``assignees`` are the
    hazard loop's ``user:NAME`` or ``group:NAME``, or ``UNASSIGNED`` for events without one.
    """

    cameras: Sequence[str] = ()
    rules: Sequence[str] = ()
    zones: Sequence[str] = ()
    severities: Sequence[str] = ()
    statuses: Sequence[str] = ()
    states: Sequence[str] = ()
    since: float | None = None
    until: float | None = None
    min_confidence: float | None = None
    assignees: Sequence[str] = ()
    allowed: Sequence[str] | None = field(default=None)

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        for column, values in (
            (EventRow.camera, self.cameras),
            (EventRow.rule, self.rules),
            (EventRow.zone, self.zones),
            (EventRow.severity, self.severities),
            (EventRow.status, self.statuses),
            (EventRow.state, self.states),
        ):
            if values:
                out.append(column.in_(list(values)))
        if self.allowed is not None:
            out.append(EventRow.camera.in_(list(self.allowed)))
        if self.since is not None:
            out.append(EventRow.start_wall >= self.since)
        if self.until is not None:
            out.append(EventRow.start_wall < self.until)
        if self.min_confidence is not None:
            out.append(EventRow.peak_confidence >= self.min_confidence)
        if self.assignees:
            out.append(self._assigned())
        return out

    def _assigned(self) -> ColumnElement[bool]:
        named = [a for a in self.assignees if a != UNASSIGNED]
        either = []
        if named:
            loops = select(LoopRow.event_id).where(LoopRow.assignee.in_(named))
            either.append(EventRow.id.in_(loops))
        if UNASSIGNED in self.assignees:
            loops = select(LoopRow.event_id).where(LoopRow.assignee.is_not(None))
            either.append(EventRow.id.not_in(loops))
        return or_(*either)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[EventRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    """Events per rule, camera, zone (None: no zone) and day, most first (days in order)."""

    total: int
    by_rule: list[tuple[str, int]]
    by_camera: list[tuple[str, int]]
    by_zone: list[tuple[str | None, int]]
    by_day: list[tuple[date, int]]


def encode_cursor(start_wall: float, event_id: str) -> str:
    """An opaque cursor for the page after the event (start_wall, id).

    >>> decode_cursor(encode_cursor(1.7e9, "ab12"))
    (1700000000.0, 'ab12')
    """
    raw = json.dumps([start_wall, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start_wall, event_id = json.loads(raw)
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise TypeError
        if isinstance(start_wall, bool):
            raise TypeError
        start_wall = float(start_wall)
        if not math.isfinite(start_wall):
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadCursor("cursor: not one this API gave out; start again without it") from None
    return start_wall, event_id


class EventQueries:
    """Event pages and counts; each call is one read transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine)

    def page(self, f: EventFilter, limit: int, cursor: str | None = None) -> EventPage:
        """Up to ``limit`` events, newest ``start_wall`` first (ties by id, descending),
        after ``cursor`` (a previous page's ``next_cursor``)."""
        query = select(EventRow).where(*f.conditions())
        if cursor is not None:
            start_wall, event_id = decode_cursor(cursor)
            query = query.where(tuple_(EventRow.start_wall, EventRow.id) < (start_wall, event_id))
        query = query.order_by(EventRow.start_wall.desc(), EventRow.id.desc()).limit(limit + 1)
        with self._sessions() as session:
            rows = list(session.scalars(query))
        events = [event_record(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = events[-1] if events else None
        return EventPage(events, encode_cursor(last.start_wall, last.id) if more and last else None)

    def latest_snapshot(self, f: EventFilter) -> EventRecord | None:
        """The newest event matching ``f`` that has a snapshot (a camera's latest picture)."""
        query = (
            select(EventRow)
            .where(*f.conditions(), EventRow.snapshot_path.is_not(None))
            .order_by(EventRow.start_wall.desc(), EventRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalars(query).first()
        return None if row is None else event_record(row)

    def counts(self, f: EventFilter, utc_offset_minutes: int = 0) -> Counts:
        """How many events match, grouped four ways; days are local to the UTC offset."""
        where = f.conditions()
        day = self._day_number(utc_offset_minutes * 60)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(EventRow).where(*where)) or 0
            grouped = {
                name: session.execute(_grouped(column, where)).all()
                for name, column in (
                    ("rule", EventRow.rule),
                    ("camera", EventRow.camera),
                    ("zone", EventRow.zone),
                )
            }
            days = session.execute(
                select(day.label("day"), func.count()).where(*where).group_by("day").order_by("day")
            ).all()
        epoch = datetime(1970, 1, 1, tzinfo=UTC).date()
        return Counts(
            total=total,
            by_rule=[(k, n) for k, n in grouped["rule"]],
            by_camera=[(k, n) for k, n in grouped["camera"]],
            by_zone=[(k, n) for k, n in grouped["zone"]],
            by_day=[(epoch + timedelta(days=int(d)), n) for d, n in days],
        )

    def _day_number(self, offset_s: int) -> ColumnElement[int]:
        days = (EventRow.start_wall + offset_s) / 86400
        if self._engine.dialect.name == "sqlite":
            return cast(days, Integer)  # truncates; times are after 1970, so it floors
        return cast(func.floor(days), BigInteger)


def _grouped(column: ColumnElement, where: list[ColumnElement[bool]]) -> Select:
    count = func.count().label("n")
    return select(column, count).where(*where).group_by(column).order_by(count.desc(), column)
