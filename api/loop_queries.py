"""The hazard loop's figures (``GET /api/v1/stats/loop``): times to acknowledge, assign and
close, on-time rectification, overdue items, repeat violations per area. Each is one
aggregate query over the events and their audit rows, so they stay quick at 100k events.

>>> from vigil.events.store import EventStore
>>> LoopQueries(EventStore("sqlite://").engine).figures(EventFilter(), now=0.0).overdue_now
0
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Select, case, func, literal, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from vigil.events.loop.store import AWAITING_FIX
from vigil.events.store.models import AuditRow, EventRow, LoopRow

from .queries import EventFilter


@dataclass(frozen=True, slots=True)
class LoopFigures:
    by_status: list[tuple[str, int]]
    rectified: int
    rectified_on_time: int
    mean_to_acknowledge: float | None
    mean_to_assign: float | None
    mean_to_close: float | None
    overdue_now: int
    repeat_areas: list[tuple[str, int]]

    @property
    def on_time_rate(self) -> float | None:
        return None if self.rectified == 0 else self.rectified_on_time / self.rectified


MEASURED = ("acknowledged", "assigned", "rectified", "closed")


class LoopQueries:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine)

    def figures(self, f: EventFilter, now: float, repeat_at_least: int = 2) -> LoopFigures:
        where = f.conditions()
        with self._sessions() as s:
            by_status = s.execute(
                select(EventRow.status, func.count())
                .where(*where)
                .group_by(EventRow.status)
                .order_by(EventRow.status)
            ).all()
            firsts = {row[0]: row for row in s.execute(_firsts(where))}
            overdue = s.scalar(
                select(func.count())
                .select_from(EventRow)
                .join(LoopRow, LoopRow.event_id == EventRow.id)
                .where(LoopRow.due_at < now, EventRow.status.in_(AWAITING_FIX), *where)
            )
            area = func.coalesce(
                literal("zone:") + EventRow.zone, literal("camera:") + EventRow.camera
            ).label("area")
            count = func.count().label("n")
            repeats = s.execute(
                select(area, count)
                .where(*where)
                .group_by(area)
                .having(func.count() >= repeat_at_least)
                .order_by(count.desc(), area)
            ).all()

        def mean(status: str) -> float | None:
            row = firsts.get(status)
            return None if row is None or row[1] is None else float(row[1])

        rectified = firsts.get("rectified")
        return LoopFigures(
            by_status=[(k, n) for k, n in by_status],
            rectified=int(rectified[2]) if rectified else 0,
            rectified_on_time=int(rectified[3] or 0) if rectified else 0,
            mean_to_acknowledge=mean("acknowledged"),
            mean_to_assign=mean("assigned"),
            mean_to_close=mean("closed"),
            overdue_now=int(overdue or 0),
            repeat_areas=[(k, n) for k, n in repeats],
        )


def _firsts(where: list[ColumnElement[bool]]) -> Select:
    """Per status: the mean seconds from an event's start to its first move there, how many
    of those events had a due time, and how many of them got there by it: one pass over the
    audit's (to_status, event_id, at) index."""
    first = (
        select(
            AuditRow.to_status.label("to_status"),
            AuditRow.event_id.label("event_id"),
            func.min(AuditRow.at).label("at"),
        )
        .where(AuditRow.to_status.in_(MEASURED))
        .group_by(AuditRow.to_status, AuditRow.event_id)
        .subquery()
    )
    return (
        select(
            first.c.to_status,
            func.avg(first.c.at - EventRow.start_wall),
            func.count(LoopRow.due_at),
            func.sum(case((first.c.at <= LoopRow.due_at, 1), else_=0)),
        )
        .select_from(first)
        .join(EventRow, EventRow.id == first.c.event_id)
        .outerjoin(LoopRow, LoopRow.event_id == first.c.event_id)
        .where(*where)
        .group_by(first.c.to_status)
    )
