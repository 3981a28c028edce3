"""Events: filtered pages, one event with its timeline and audit, and its media."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import StringConstraints

from vigil.events.store import EventRecord, LifecycleState, WorkflowStatus

from ..accounts import CAMERA_ID_PATTERN
from ..deps import Authenticated, Principal, Svc
from ..media import serve_media
from ..queries import UNASSIGNED, EventFilter
from ..schemas import EventDetail, EventOut, EventPageOut, Problem

router = APIRouter(prefix="/events", tags=["events"])

EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
RULE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
ZONE_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"
Severity = Literal["low", "medium", "high", "critical"]

EventId = Annotated[str, Path(pattern=EVENT_ID_PATTERN, description="the event's id")]
Cameras = Annotated[
    list[Annotated[str, StringConstraints(pattern=CAMERA_ID_PATTERN)]],
    Query(max_length=100, description="only these cameras (repeat the parameter for several)"),
]
Rules = Annotated[
    list[Annotated[str, StringConstraints(pattern=RULE_PATTERN)]],
    Query(max_length=50, description="only these rules, e.g. no_helmet"),
]
Zones = Annotated[
    list[Annotated[str, StringConstraints(pattern=ZONE_PATTERN)]],
    Query(max_length=50, description="only events in these zones"),
]
Since = Annotated[
    datetime | None, Query(description="events that started at or after this time (ISO 8601)")
]
Until = Annotated[datetime | None, Query(description="events that started before this time")]
ASSIGNEE_PATTERN = r"^(me|none|user:[A-Za-z0-9][A-Za-z0-9._@-]{0,63}|group:[^\x00-\x1f\x7f]{1,64})$"
Assignees = Annotated[
    list[Annotated[str, StringConstraints(pattern=ASSIGNEE_PATTERN)]],
    Query(
        max_length=20,
        description="only events assigned to these: user:NAME, group:NAME, me (the caller or "
        "the caller's group) or none (assigned to no one)",
    ),
]

NOT_FOUND = {404: {"model": Problem, "description": "no such event (or not one of your cameras)"}}


def epoch(moment: datetime | None) -> float | None:
    """A query's time as epoch seconds; a time without a zone is taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def assignees_of(principal: Principal, asked: list[str]) -> list[str]:
    """The hazard-loop assignees an ``assignee`` filter names, with ``me`` resolved."""
    out: list[str] = []
    for a in asked:
        if a == "me":
            user = principal.user
            out += [f"user:{user.name}"] + ([f"group:{user.group}"] if user.group else [])
        else:
            out.append(UNASSIGNED if a == "none" else a)
    return out


def visible_event(svc: Svc, principal: Principal, event_id: str) -> EventRecord:
    """The event, if the principal may see its camera; 404 otherwise (ids do not leak)."""
    record = svc.store.get_event(event_id)
    if record is None or not principal.can_see(record.camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event {event_id}")
    return record


@router.get("", summary="List events, newest first", response_model=EventPageOut)
def list_events(
    svc: Svc,
    principal: Authenticated,
    camera: Cameras = [],  # noqa: B006 (FastAPI copies defaults)
    rule: Rules = [],  # noqa: B006
    zone: Zones = [],  # noqa: B006
    severity: Annotated[
        list[Severity], Query(max_length=4, description="only these severities")
    ] = [],  # noqa: B006
    status_: Annotated[
        list[WorkflowStatus],
        Query(alias="status", max_length=7, description="only these workflow statuses"),
    ] = [],  # noqa: B006
    state: Annotated[
        list[LifecycleState], Query(max_length=2, description="open (going on) or ended")
    ] = [],  # noqa: B006
    since: Since = None,
    until: Until = None,
    min_confidence: Annotated[
        float | None, Query(ge=0, le=1, description="peak confidence at least this")
    ] = None,
    assignee: Assignees = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=500, description="events per page")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="next_cursor of the previous page, to go on"),
    ] = None,
) -> EventPageOut:
    """Events the caller may see, newest first by start time, a page at a time (keyset
    pagination: pages stay consistent while new events arrive)."""
    f = EventFilter(
        cameras=camera,
        rules=rule,
        zones=zone,
        severities=severity,
        statuses=[s.value for s in status_],
        states=[s.value for s in state],
        since=epoch(since),
        until=epoch(until),
        min_confidence=min_confidence,
        assignees=assignees_of(principal, assignee),
        allowed=principal.cameras,
    )
    page = svc.queries.page(f, limit, cursor)
    return EventPageOut(
        events=[EventOut.of(e, svc.base_url) for e in page.events], next_cursor=page.next_cursor
    )


@router.get("/{event_id}", summary="One event", response_model=EventDetail, responses=NOT_FOUND)
def get_event(event_id: EventId, svc: Svc, principal: Authenticated) -> EventDetail:
    """The event with its score timeline, workflow audit, and the model card behind it."""
    record = visible_event(svc, principal, event_id)
    return EventDetail.of_parts(
        record, svc.base_url, svc.store.timeline(event_id), svc.store.audit(event_id)
    )


def _media(
    request: Request, svc: Svc, principal: Principal, event_id: str, kind: str, media_type: str
) -> Response:
    record = visible_event(svc, principal, event_id)
    stored = record.snapshot_path if kind == "snapshot" else record.clip_path
    missing = f"event {event_id} has no {kind} to serve"
    return serve_media(request, svc.media_root, svc.objects, stored, media_type, missing)


@router.head("/{event_id}/snapshot", include_in_schema=False)
@router.get(
    "/{event_id}/snapshot",
    summary="The event's snapshot",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}, **NOT_FOUND},
)
def snapshot(request: Request, event_id: EventId, svc: Svc, principal: Authenticated) -> Response:
    """The annotated JPEG at peak confidence."""
    return _media(request, svc, principal, event_id, "snapshot", "image/jpeg")


@router.head("/{event_id}/clip", include_in_schema=False)
@router.get(
    "/{event_id}/clip",
    summary="The event's clip (HTTP Range)",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the whole H.264 MP4"},
        206: {"content": {"video/mp4": {}}, "description": "the requested byte range"},
        416: {"description": "the range lies outside the file"},
        **NOT_FOUND,
    },
)
def clip(request: Request, event_id: EventId, svc: Svc, principal: Authenticated) -> Response:
    """The H.264 MP4 clip; send ``Range: bytes=a-b`` to seek (206 Partial Content)."""
    return _media(request, svc, principal, event_id, "clip", "video/mp4")
