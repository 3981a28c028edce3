"""The alert channels a site has and the delivery log (admin and operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from vigil.events.alerts import AlertStore
from vigil.events.alerts.dispatcher import LEASE_NAME

from ..alert_schemas import (
    ChannelOut,
    ChannelStateOut,
    DeliveryOut,
    DeliveryPageOut,
    DeliveryStatus,
)
from ..deps import Principal, Svc, require_role
from .events import EVENT_ID_PATTERN

router = APIRouter(tags=["alerts"])

AlertWatcher = Annotated[Principal, Depends(require_role("admin", "operator"))]
CHANNEL_NAME = r"^[A-Za-z0-9._-]{1,64}$"


@router.get("/channels", summary="Alert channels", response_model=list[ChannelOut])
def list_channels(svc: Svc, principal: AlertWatcher) -> list[ChannelOut]:
    """The site's channels as configured (secrets left out), each with its delivery log summed
    up; empty when the API was started without the site's ``alerts:``."""
    del principal
    channels = svc.alerts.channels if svc.alerts is not None else []
    if not channels:
        return []
    alerts = AlertStore(svc.store)
    delivering = alerts.lease_holder(LEASE_NAME) is not None
    states = alerts.channel_states([c.name for c in channels])
    return [ChannelOut.of(c, ChannelStateOut.of(states[c.name], delivering)) for c in channels]


@router.get("/deliveries", summary="The delivery log", response_model=DeliveryPageOut)
def list_deliveries(
    svc: Svc,
    principal: AlertWatcher,
    channel: Annotated[
        str | None, Query(pattern=CHANNEL_NAME, description="only this channel's")
    ] = None,
    status: Annotated[DeliveryStatus | None, Query(description="only rows in this status")] = None,
    event_id: Annotated[
        str | None, Query(pattern=EVENT_ID_PATTERN, description="only this event's deliveries")
    ] = None,
    before_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**62,
            description="rows older than this id (the previous page's next_before_id)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="rows per page")] = 100,
) -> DeliveryPageOut:
    """Every attempt and every skipped change, newest first, paged by id. A user limited to
    some cameras sees only the deliveries of those cameras' events."""
    rows = AlertStore(svc.store).deliveries(
        channel=channel,
        status=status,
        event_id=event_id,
        before_id=before_id,
        cameras=principal.cameras,
        limit=limit + 1,
    )
    page = rows[:limit]
    return DeliveryPageOut(
        deliveries=[DeliveryOut.of(d) for d in page],
        next_before_id=page[-1].id if len(rows) > limit else None,
    )
