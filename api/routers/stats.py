"""Counts of events by rule, camera, zone and day."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ..deps import Authenticated, Services, Svc
from ..loop_queries import LoopQueries
from ..loop_schemas import LoopStatsOut
from ..queries import EventFilter
from ..schemas import DayCount, KeyCount, StatsOut, at
from .events import Cameras, Rules, Since, Until, Zones, epoch

router = APIRouter(prefix="/stats", tags=["stats"])


UtcOffset = Annotated[
    int, Query(ge=-14 * 60, le=14 * 60, description="days are counted at this offset from UTC")
]


def stats_filter(
    principal: Authenticated,
    since: Since = None,
    until: Until = None,
    camera: Cameras = [],  # noqa: B006 (FastAPI copies defaults)
    rule: Rules = [],  # noqa: B006
    zone: Zones = [],  # noqa: B006
) -> EventFilter:
    """The events a stats route counts: the caller's cameras, within the query's filters."""
    return EventFilter(
        cameras=camera,
        rules=rule,
        zones=zone,
        since=epoch(since),
        until=epoch(until),
        allowed=principal.cameras,
    )


StatsFilter = Annotated[EventFilter, Depends(stats_filter)]


def _counts(svc: Services, f: EventFilter, utc_offset_minutes: int) -> dict[str, Any]:
    """The fields that every stats answer shares (:class:`StatsOut`)."""
    counts = svc.queries.counts(f, utc_offset_minutes)
    return dict(
        since=at(f.since),
        until=at(f.until),
        total=counts.total,
        by_rule=[KeyCount(key=k, count=n) for k, n in counts.by_rule],
        by_camera=[KeyCount(key=k, count=n) for k, n in counts.by_camera],
        by_zone=[KeyCount(key=k, count=n) for k, n in counts.by_zone],
        by_day=[DayCount(day=d, count=n) for d, n in counts.by_day],
    )


@router.get("", summary="Event counts", response_model=StatsOut)
def stats(svc: Svc, f: StatsFilter, utc_offset_minutes: UtcOffset = 0) -> StatsOut:
    """How many events the caller may see started in the time range, by rule, camera, zone
    and day."""
    return StatsOut(**_counts(svc, f, utc_offset_minutes))


@router.get("/loop", summary="Hazard loop figures", response_model=LoopStatsOut)
def loop_stats(svc: Svc, f: StatsFilter, utc_offset_minutes: UtcOffset = 0) -> LoopStatsOut:
    """Over the events the caller may see that started in the range: counts by rule, camera,
    zone, day and status; on-time rectification rate (first rectification at or before the due
    time); mean seconds from start to first acknowledged, first assigned, closed; items
    overdue now; areas (zone, else camera) with two or more events (repeat violations)."""
    loop = LoopQueries(svc.store.engine).figures(f, now=time.time())
    return LoopStatsOut(
        **_counts(svc, f, utc_offset_minutes),
        by_status=[KeyCount(key=k, count=n) for k, n in loop.by_status],
        rectified=loop.rectified,
        rectified_on_time=loop.rectified_on_time,
        on_time_rate=loop.on_time_rate,
        mean_seconds_to_acknowledge=loop.mean_to_acknowledge,
        mean_seconds_to_assign=loop.mean_to_assign,
        mean_seconds_to_close=loop.mean_to_close,
        overdue_now=loop.overdue_now,
        repeat_areas=[KeyCount(key=k, count=n) for k, n in loop.repeat_areas],
    )
