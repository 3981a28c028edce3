"""The hazard loop on an event (DESIGN.md, Events): moves, the event's loop view with its
before and after photos, "after" photo uploads, and photos by id.

Who may make which move::

    to acknowledged                 operator, admin
    to assigned (from acknowledged) operator, admin           (an assignee is required)
    to assigned (from rectified)    verifier, admin           (a failed check; reason required)
    to rectified                    rectifier assigned to it (or to their group), admin
                                    (an "after" photo is required)
    to verified, to closed          verifier, admin
    to dismissed                    operator, admin           (reason required)

A role that may not make the move gets 403; a move the event's status does not allow gets 409
with the allowed ones; nothing is written for either.
"""

from __future__ import annotations

import time
import uuid
import weakref
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from vigil.events.loop.store import LoopStore, Photo
from vigil.events.store import EventRecord, EventStore, WorkflowStatus, allowed_transitions
from vigil.events.store.store import StaleStatus
from vigil.events.store.workflow import InvalidTransition, needs_reason

from ..deps import Authenticated, Principal, Svc
from ..loop_schemas import AssignmentOut, MoveIn, PhotoOut, WorkflowOut
from ..media import serve_media
from ..photos import NotAnImage, save_photo
from ..schemas import Problem
from .events import EventId, epoch, visible_event

router = APIRouter(tags=["workflow"])

PHOTO_ID_PATTERN = r"^[0-9a-f]{32}$"
PhotoId = Annotated[str, Path(pattern=PHOTO_ID_PATTERN, description="the photo's id")]
FORM_OVERHEAD = 64 << 10  # multipart boundaries and the small text fields around the photo
ROUTE_BODY_LIMIT = (1 << 32) + FORM_OVERHEAD  # the API config's own limit is checked inside

_loops: weakref.WeakKeyDictionary[EventStore, LoopStore] = weakref.WeakKeyDictionary()

S = WorkflowStatus


def loop_store(svc: Svc) -> LoopStore:
    """The app's :class:`LoopStore` (one per event store)."""
    loop = _loops.get(svc.store)
    if loop is None:
        loop = _loops[svc.store] = LoopStore(svc.store)
    return loop


Loop = Annotated[LoopStore, Depends(loop_store)]


def roles_for(source: WorkflowStatus, target: WorkflowStatus) -> frozenset[str]:
    """The roles that may move an event from ``source`` to ``target`` (when the workflow
    allows the move at all).

    >>> sorted(roles_for(S.RECTIFIED, S.ASSIGNED)), sorted(roles_for(S.ACKNOWLEDGED, S.ASSIGNED))
    (['admin', 'verifier'], ['admin', 'operator'])
    """
    if target is S.ASSIGNED:
        who = {"verifier"} if source is S.RECTIFIED else {"operator"}
    else:
        who = {
            S.ACKNOWLEDGED: {"operator"},
            S.RECTIFIED: {"rectifier"},
            S.VERIFIED: {"verifier"},
            S.CLOSED: {"verifier"},
            S.DISMISSED: {"operator"},
        }.get(target, set())
    return frozenset({"admin", *who}) if target is not S.NEW else frozenset()


def _may_ever(role: str, target: WorkflowStatus) -> bool:
    return any(role in roles_for(source, target) for source in S)


def _assigned_to(principal: Principal, assignee: str | None) -> bool:
    user = principal.user
    return assignee is not None and (
        assignee == f"user:{user.name}"
        or (user.group is not None and assignee == f"group:{user.group}")
    )


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail)


def unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _not_allowed(event: EventRecord, target: WorkflowStatus) -> HTTPException:
    allowed = sorted(s.value for s in allowed_transitions(event.status)) or ["nothing"]
    return HTTPException(
        status.HTTP_409_CONFLICT,
        f"event {event.id} is {event.status.value}: it cannot move to {target.value}; "
        f"allowed: {', '.join(allowed)}",
    )


def check_move(
    principal: Principal, event: EventRecord, target: WorkflowStatus, assignee: str | None
) -> None:
    """403 or 409 for a move this principal may not make now (see the module docstring)."""
    role = principal.user.role.value
    if not _may_ever(role, target):
        raise _forbidden(f"the role {role} cannot move an event to {target.value}")
    if target not in allowed_transitions(event.status):
        raise _not_allowed(event, target)
    if role not in roles_for(event.status, target):
        raise _forbidden(
            f"the role {role} cannot move an event from {event.status.value} to {target.value}"
        )
    if role == "rectifier" and not _assigned_to(principal, assignee):
        raise _forbidden(f"event {event.id} is not assigned to you or your group")


def _checked_photos(loop: LoopStore, event_id: str, ids: list[str]) -> list[str]:
    known = {p.id for p in loop.photos(event_id) if p.kind == "after"}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise unprocessable(f"photo_ids: not 'after' photos of this event: {', '.join(unknown)}")
    return ids


def _validated(body: MoveIn, event: EventRecord, loop: LoopStore) -> dict[str, Any]:
    """The move's assignment and photos, or 422 for what the move needs and lacks."""
    target = body.to
    if needs_reason(event.status, target) and not (body.note and body.note.strip()):
        raise unprocessable(
            f"note: moving to {target.value} from {event.status.value} needs a reason"
        )
    extra: dict[str, Any] = {}
    if target is S.ASSIGNED and event.status is S.ACKNOWLEDGED:
        if body.assignee is None:
            raise unprocessable("assignee: a move to assigned needs {user: NAME} or {group: NAME}")
        extra["assignee"] = body.assignee.target
        extra["due_at"] = epoch(body.due)
        extra["notify"] = [body.assignee.target]
    elif body.assignee is not None or body.due is not None:
        raise unprocessable("assignee and due go only with a move from acknowledged to assigned")
    if target is S.RECTIFIED:
        if not body.photo_ids:
            raise unprocessable("photo_ids: a rectification needs at least one 'after' photo")
        extra["photos"] = _checked_photos(loop, event.id, body.photo_ids)
    elif body.photo_ids:
        extra["photos"] = _checked_photos(loop, event.id, body.photo_ids)
    return extra


def _view(svc: Svc, loop: LoopStore, event: EventRecord) -> WorkflowOut:
    allowed = sorted(s.value for s in allowed_transitions(event.status))
    return WorkflowOut.of(
        event,
        loop.state(event.id),
        loop.photos(event.id),
        svc.store.audit(event.id),
        allowed,
        svc.base_url,
    )


MOVE_ERRORS = {
    403: {"model": Problem, "description": "your role may not make this move (nothing written)"},
    404: {"model": Problem, "description": "no such event (or not one of your cameras)"},
    409: {
        "model": Problem,
        "description": "the event's status does not allow this move; the allowed ones are "
        "listed (nothing written)",
    },
    422: {"model": Problem, "description": "a reason, assignee or photo the move needs is missing"},
}


@router.post(
    "/events/{event_id}/moves",
    summary="Move an event through the hazard loop",
    response_model=WorkflowOut,
    responses=MOVE_ERRORS,
)
def move(
    event_id: EventId, body: MoveIn, svc: Svc, principal: Authenticated, loop: Loop
) -> WorkflowOut:
    """One workflow move (see the tag's table of who may make which); written with its audit
    row (who, when, from, to, note, assignee, due, photos) and an outbox ``status`` change in
    one transaction."""
    event = visible_event(svc, principal, event_id)
    check_move(principal, event, body.to, loop.state(event_id).assignee)
    extra = _validated(body, event, loop)
    try:
        with svc.store.unit_of_work() as w:
            w.record_transition(
                event_id, event.status, body.to, principal.user.name, body.note, **extra
            )
    except (StaleStatus, InvalidTransition) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _view(svc, loop, visible_event(svc, principal, event_id))


@router.get(
    "/events/{event_id}/workflow",
    summary="An event in the hazard loop",
    response_model=WorkflowOut,
    responses={404: MOVE_ERRORS[404]},
)
def workflow(event_id: EventId, svc: Svc, principal: Authenticated, loop: Loop) -> WorkflowOut:
    """Status, assignee, due time and overdue flag, the "before" (snapshot) and "after"
    photos side by side, and every move so far."""
    return _view(svc, loop, visible_event(svc, principal, event_id))


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo"],
                    "properties": {
                        "photo": {
                            "type": "string",
                            "format": "binary",
                            "description": "a JPEG or PNG; at most the API's max_upload_bytes",
                        }
                    },
                }
            }
        },
    }
}
UPLOAD_ERRORS = {
    411: {"model": Problem, "description": "send a Content-Length"},
    413: {"model": Problem, "description": "the photo is larger than max_upload_bytes"},
    415: {"model": Problem, "description": "not a JPEG or PNG"},
    422: {"model": Problem, "description": "the image cannot be decoded, or a field is missing"},
}


async def read_form(request: Request, limit: int) -> Any:
    """The request's multipart form, after checking its declared size against ``limit``."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(
            status.HTTP_411_LENGTH_REQUIRED, "send the upload with a Content-Length"
        )
    if int(length) > limit + FORM_OVERHEAD:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"the upload is larger than {limit} bytes"
        )
    try:
        return await request.form(max_files=1, max_fields=10)
    except HTTPException:
        raise
    except Exception:  # python-multipart's parse errors
        raise unprocessable("the body is not a valid multipart form") from None


async def photo_bytes(form: Any, limit: int) -> bytes:
    """The ``photo`` field's bytes, at most ``limit``."""
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        raise unprocessable("photo: a file field named 'photo' is required")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE, f"the photo is larger than {limit} bytes"
        )
    if not data:
        raise unprocessable("photo: the file is empty")
    return data


def stored_photo(svc: Svc, data: bytes, event_id: str, kind: str, who: str) -> Photo:
    """Decode and store the photo; 415/422 when it is not an image."""
    photo_id = uuid.uuid4().hex
    try:
        saved = save_photo(svc.media_root, data, photo_id)
    except NotAnImage as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if svc.objects is not None and svc.objects.uploader is not None:
        svc.objects.uploader.enqueue(saved.path)  # to the object store, off this request
    return Photo(
        id=photo_id,
        event_id=event_id,
        kind=kind,
        path=str(saved.path),
        content_type="image/jpeg",
        size=saved.size,
        width=saved.width,
        height=saved.height,
        sha256=saved.sha256,
        uploaded_by=who,
        created_at=time.time(),
    )


@router.post(
    "/events/{event_id}/photos",
    summary="Upload an 'after' photo of a rectification",
    status_code=status.HTTP_201_CREATED,
    response_model=PhotoOut,
    responses={**UPLOAD_ERRORS, 403: MOVE_ERRORS[403], 404: MOVE_ERRORS[404]},
    openapi_extra=UPLOAD_BODY,
    max_body_size=ROUTE_BODY_LIMIT,
)
async def upload_photo(
    event_id: EventId, request: Request, svc: Svc, principal: Authenticated, loop: Loop
) -> PhotoOut:
    """Multipart ``photo`` (JPEG or PNG). Allowed to whoever may rectify the event now (its
    assignee, or an admin); its id then goes in the rectification's ``photo_ids``."""
    event = visible_event(svc, principal, event_id)
    check_move(principal, event, S.RECTIFIED, loop.state(event_id).assignee)
    limit = svc.config.max_upload_bytes
    data = await photo_bytes(await read_form(request, limit), limit)
    photo = stored_photo(svc, data, event_id, "after", principal.user.name)
    loop.add_photo(photo)
    return PhotoOut.of(photo, svc.base_url)


@router.head("/photos/{photo_id}", include_in_schema=False)
@router.get(
    "/photos/{photo_id}",
    summary="A hazard-loop photo",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "JPEG"},
        404: {"model": Problem, "description": "no such photo (or not one of your cameras)"},
    },
)
def get_photo(
    request: Request, photo_id: PhotoId, svc: Svc, principal: Authenticated, loop: Loop
) -> Response:
    """The stored JPEG of an 'after' photo or a reported hazard's photo."""
    photo = loop.photo(photo_id)
    event = None if photo is None else svc.store.get_event(photo.event_id)
    if photo is None or event is None or not principal.can_see(event.camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no photo {photo_id}")
    return serve_media(
        request,
        svc.media_root,
        svc.objects,
        FilePath(photo.path),
        "image/jpeg",
        f"no photo {photo_id}",
    )


@router.get("/assignments", summary="Open assigned items", response_model=list[AssignmentOut])
def assignments(
    svc: Svc,
    principal: Authenticated,
    loop: Loop,
    mine: Annotated[bool, Query(description="only items assigned to me or to my group")] = False,
    overdue: Annotated[bool, Query(description="only items flagged overdue")] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 200,
) -> list[AssignmentOut]:
    """Items not yet closed or dismissed that have an assignee, soonest due first: a
    rectifier's work list (``mine=true``), or the overdue board (``overdue=true``)."""
    who = None
    if mine:
        who = [f"user:{principal.user.name}"]
        if principal.user.group is not None:
            who.append(f"group:{principal.user.group}")
    items = loop.assignments(who, overdue, principal.cameras, limit)
    return [AssignmentOut.of(e, state) for e, state in items]
