"""Counts of events by rule, camera, zone and day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import Authenticated, Svc
from ..queries import EventFilter
from ..schemas import DayCount, KeyCount, StatsOut, at
from .events import Cameras, Rules, Since, Until, Zones, epoch

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("", summary="Event counts", response_model=StatsOut)
def stats(
    svc: Svc,
    principal: Authenticated,
    since: Since = None,
    until: Until = None,
    camera: Cameras = [],  # noqa: B006 (FastAPI copies defaults)
    rule: Rules = [],  # noqa: B006
    zone: Zones = [],  # noqa: B006
    utc_offset_minutes: Annotated[
        int,
        Query(ge=-14 * 60, le=14 * 60, description="days are counted at this offset from UTC"),
    ] = 0,
) -> StatsOut:
    """How many events the caller may see started in the time range, by rule, camera, zone
    and day."""
    f = EventFilter(
        cameras=camera,
        rules=rule,
        zones=zone,
        since=epoch(since),
        until=epoch(until),
        allowed=principal.cameras,
    )
    counts = svc.queries.counts(f, utc_offset_minutes)
    return StatsOut(
        since=at(f.since),
        until=at(f.until),
        total=counts.total,
        by_rule=[KeyCount(key=k, count=n) for k, n in counts.by_rule],
        by_camera=[KeyCount(key=k, count=n) for k, n in counts.by_camera],
        by_zone=[KeyCount(key=k, count=n) for k, n in counts.by_zone],
        by_day=[DayCount(day=d, count=n) for d, n in counts.by_day],
    )
