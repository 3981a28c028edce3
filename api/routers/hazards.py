"""Hazards reported by hand ("see it, snap it"): a photo from a phone, a camera or an area,
a description. Each is stored as an event of rule ``manual_report`` (already ended), so it
enters the same loop, moves and routes as a detected event (auto-dispatch included), with
its reporter recorded; its photo is its "before"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from vigil.events.store import EventRecord
from vigil.events.store.store import MANUAL_REPORT

from ..accounts import CAMERA_ID_PATTERN
from ..deps import Authenticated, Principal, Svc
from ..loop_schemas import HazardOut
from ..queries import EventFilter
from ..schemas import Problem
from .events import EventId, visible_event
from .workflow import (
    ROUTE_BODY_LIMIT,
    UPLOAD_ERRORS,
    Loop,
    LoopStore,
    photo_bytes,
    read_form,
    stored_photo,
    unprocessable,
)

router = APIRouter(prefix="/hazards", tags=["hazards"])

REPORTERS = frozenset({"admin", "operator", "rectifier", "verifier"})
SEVERITIES = ("low", "medium", "high", "critical")
AREA_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"

REPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo", "description"],
                    "properties": {
                        "photo": {"type": "string", "format": "binary", "description": "JPEG/PNG"},
                        "camera": {"type": "string", "description": "the camera it is seen from"},
                        "area": {"type": "string", "description": "or the area, by name"},
                        "description": {"type": "string", "maxLength": 4000},
                        "severity": {
                            "type": "string",
                            "enum": list(SEVERITIES),
                            "default": "medium",
                        },
                    },
                }
            }
        },
    }
}


def _hazard(svc: Svc, loop: LoopStore, e: EventRecord) -> HazardOut:
    report = next((p.id for p in loop.photos(e.id) if p.kind == "report"), None)
    return HazardOut.of(e, loop.state(e.id), report, svc.base_url)


def _text(form, name: str, pattern: str | None = None, max_length: int = 128) -> str | None:  # noqa: ANN001
    import re

    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise unprocessable(f"{name}: text of at most {max_length} characters")
    if pattern is not None and not re.match(pattern, value):
        raise unprocessable(f"{name}: {value!r} is not a valid {name}")
    return value


def _where(principal: Principal, camera: str | None, area: str | None) -> tuple[str, str | None]:
    if (camera is None) == (area is None):
        raise unprocessable("name either a camera or an area where the hazard is")
    place = camera or f"area:{area}"
    if not principal.can_see(place):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your account cannot report on {place}")
    return place, area


@router.post(
    "",
    summary="Report a hazard by hand, with a photo",
    status_code=status.HTTP_201_CREATED,
    response_model=HazardOut,
    responses={**UPLOAD_ERRORS, 403: {"model": Problem, "description": "viewers cannot report"}},
    openapi_extra=REPORT_BODY,
    max_body_size=ROUTE_BODY_LIMIT,
)
async def report_hazard(
    request: Request, svc: Svc, principal: Authenticated, loop: Loop
) -> HazardOut:
    """Multipart: ``photo``, ``camera`` or ``area``, ``description``, ``severity``. The hazard
    becomes an event (rule manual_report, workflow new) with the caller as its reporter."""
    if principal.user.role.value not in REPORTERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "viewers cannot report hazards")
    limit = svc.config.max_upload_bytes
    form = await read_form(request, limit)
    place, area = _where(
        principal, _text(form, "camera", CAMERA_ID_PATTERN), _text(form, "area", AREA_PATTERN)
    )
    description = _text(form, "description", max_length=4000)
    if description is None:
        raise unprocessable("description: say what the hazard is")
    severity = _text(form, "severity") or "medium"
    if severity not in SEVERITIES:
        raise unprocessable(f"severity: one of {', '.join(SEVERITIES)}")
    event_id = uuid.uuid4().hex
    photo = stored_photo(
        svc, await photo_bytes(form, limit), event_id, "report", principal.user.name
    )
    loop.report(event_id, place, area, severity, principal.user.name, description, photo)
    return _hazard(svc, loop, visible_event(svc, principal, event_id))


@router.get(
    "", summary="List hazards reported by hand, newest first", response_model=list[HazardOut]
)
def list_hazards(
    svc: Svc,
    principal: Authenticated,
    loop: Loop,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
) -> list[HazardOut]:
    f = EventFilter(rules=(MANUAL_REPORT,), allowed=principal.cameras)
    return [_hazard(svc, loop, e) for e in svc.queries.page(f, limit).events]


@router.get(
    "/{event_id}",
    summary="One hazard reported by hand",
    response_model=HazardOut,
    responses={404: {"model": Problem, "description": "no such hazard"}},
)
def get_hazard(event_id: EventId, svc: Svc, principal: Authenticated, loop: Loop) -> HazardOut:
    """Its moves, photos and audit are at /events/{id}/workflow, like any event's."""
    event = visible_event(svc, principal, event_id)
    if event.rule != MANUAL_REPORT:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no hazard {event_id}")
    return _hazard(svc, loop, event)
