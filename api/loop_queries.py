"""The hazard loop's figures (``GET /api/v1/stats/loop``): times to acknowledge, assign and
close, on-time rectification, overdue items, repeat violations per area. Each is one
aggregate query over the events and their audit rows, so they stay quick at 100k events.

>>> from vigil.events.store import EventStore
>>> LoopQueries(EventStore("sqlite://").engine).figures(EventFilter(), now=0.0).overdue_now
0
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Select, and_, case, func, literal, select
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


def _first(status: str) -> Select:
    """(event_id, at) of each event's first move to ``status``."""
    return (
        select(AuditRow.event_id.label("event_id"), func.min(AuditRow.at).label("at"))
        .where(AuditRow.to_status == status)
        .group_by(AuditRow.event_id)
    )


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
            means = [self._mean_to(s, status, where) for status in ("acknowledged", "assigned")]
            closed = self._mean_to(s, "closed", where)
            rectified = _first("rectified").subquery()
            on_time = s.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.sum(case((rectified.c.at <= LoopRow.due_at, 1), else_=0)), 0
                    ),
                )
                .select_from(EventRow)
                .join(rectified, rectified.c.event_id == EventRow.id)
                .join(LoopRow, LoopRow.event_id == EventRow.id)
                .where(LoopRow.due_at.is_not(None), *where)
            ).one()
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
        return LoopFigures(
            by_status=[(k, n) for k, n in by_status],
            rectified=int(on_time[0]),
            rectified_on_time=int(on_time[1]),
            mean_to_acknowledge=means[0],
            mean_to_assign=means[1],
            mean_to_close=closed,
            overdue_now=int(overdue or 0),
            repeat_areas=[(k, n) for k, n in repeats],
        )

    @staticmethod
    def _mean_to(s, status: str, where: list[ColumnElement[bool]]) -> float | None:  # noqa: ANN001
        first = _first(status).subquery()
        mean = s.scalar(
            select(func.avg(first.c.at - EventRow.start_wall))
            .select_from(EventRow)
            .join(first, and_(first.c.event_id == EventRow.id))
            .where(*where)
        )
        return None if mean is None else float(mean)
