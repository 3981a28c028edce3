"""The hazard loop's figures (``GET /api/v1/stats/loop``): times to acknowledge, assign and
close, on-time rectification, overdue items, repeat violations per area. They come from the
milestones the store keeps beside the audit (``event_loop``: first acknowledged, assigned,
rectified, closed; due time; awaiting fix), in one pass over the events in range.

>>> from vigil.events.store import EventStore
>>> LoopQueries(EventStore("sqlite://").engine).figures(EventFilter(), now=0.0).overdue_now
0
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, case, func, literal, select
from sqlalchemy.orm import sessionmaker

from vigil.events.store.models import EventRow, LoopRow

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


MEASURED = ("acknowledged", "assigned", "closed")  # mean seconds from start to the first


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
            times = s.execute(
                select(
                    *(
                        func.avg(getattr(LoopRow, f"{m}_at") - EventRow.start_wall)
                        for m in MEASURED
                    ),
                    func.count(case((LoopRow.due_at.is_not(None), LoopRow.rectified_at))),
                    func.coalesce(
                        func.sum(case((LoopRow.rectified_at <= LoopRow.due_at, 1), else_=0)), 0
                    ),
                    func.coalesce(
                        func.sum(
                            case(
                                (LoopRow.awaiting_fix.is_(True) & (LoopRow.due_at < now), 1),
                                else_=0,
                            )
                        ),
                        0,
                    ),
                )
                .select_from(EventRow)
                .join(LoopRow, LoopRow.event_id == EventRow.id)
                .where(*where)
            ).one()
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

        def mean(value: float | None) -> float | None:
            return None if value is None else float(value)

        return LoopFigures(
            by_status=[(k, n) for k, n in by_status],
            rectified=int(times[3] or 0),
            rectified_on_time=int(times[4] or 0),
            mean_to_acknowledge=mean(times[0]),
            mean_to_assign=mean(times[1]),
            mean_to_close=mean(times[2]),
            overdue_now=int(times[5] or 0),
            repeat_areas=[(k, n) for k, n in repeats],
        )
