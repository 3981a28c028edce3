"""A camera's zones: read by anyone who may see the camera, replaced by an admin or a verifier
(the safety managers' role). Saved zones replace the site file's for that camera; running
workers pick a new revision up within seconds (vigil.zone_watch)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from vigil.events.store.zones import StaleZones, ZoneStore
from vigil.events.zones import CameraZone

from ..deps import Authenticated, Principal, Services, Svc, require_role
from ..schemas import Problem
from ..zone_schemas import ZonesIn, ZonesOut
from .cameras import CameraIdPath

log = logging.getLogger(__name__)

ZoneEditor = Annotated[Principal, Depends(require_role("admin", "verifier"))]


class OneLineErrors(APIRoute):
    """Refuses a body that does not validate with one line naming each problem (a drawn
    polygon's mistake reads as the config's own message), not FastAPI's list of objects."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, one_line(exc.errors())
                ) from None

        return handle


def one_line(errors: Any) -> str:
    """Validation errors as ``where: what; …`` (``zones.0: zone 'pit': …``).

    >>> one_line([{"loc": ("body", "zones", 0), "msg": "Value error, zone 'a': no"}])
    "zones.0: zone 'a': no"
    """
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


router = APIRouter(prefix="/cameras", tags=["zones"], route_class=OneLineErrors)
NOT_FOUND = {404: {"model": Problem, "description": "no such camera (or not one of yours)"}}


def _known(svc: Services, principal: Principal, camera: str) -> list[CameraZone]:
    """The camera's zones in its site file, or 404 for a camera nobody knows of (or that
    the caller may not see)."""
    site = (svc.site_zones or {}).get(camera)
    known = (
        site is not None
        or any(h.camera == camera for h in svc.store.camera_health())
        or ZoneStore(svc.store).latest(camera) is not None
    )
    if not known or not principal.can_see(camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera}")
    return site or []


@router.get(
    "/{camera_id}/zones",
    summary="A camera's zones",
    response_model=ZonesOut,
    responses=NOT_FOUND,
)
def get_zones(camera_id: CameraIdPath, svc: Svc, principal: Authenticated) -> ZonesOut:
    """The zones in force: the newest saved revision, else the site file's."""
    site = _known(svc, principal, camera_id)
    return ZonesOut.of(camera_id, ZoneStore(svc.store).latest(camera_id), site)


@router.put(
    "/{camera_id}/zones",
    summary="Replace a camera's zones",
    response_model=ZonesOut,
    responses={
        **NOT_FOUND,
        409: {"model": Problem, "description": "saved by someone else since base_revision"},
        422: {"model": Problem, "description": "a polygon, name or kind that cannot be used"},
    },
)
def put_zones(camera_id: CameraIdPath, body: ZonesIn, svc: Svc, editor: ZoneEditor) -> ZonesOut:
    """Save the camera's zones as a new revision; running workers apply it within seconds."""
    site = _known(svc, editor, camera_id)
    zones = [zone.model_dump(mode="json") for zone in body.zones]
    try:
        saved = ZoneStore(svc.store).save(
            camera_id, zones, editor.user.name, base_revision=body.base_revision
        )
    except StaleZones as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    log.info(
        "camera %s: zones saved by %s (rev %d: %s)",
        camera_id,
        editor.user.name,
        saved.revision,
        ", ".join(f"{z.name} ({z.kind})" for z in body.zones) or "none",
    )
    return ZonesOut.of(camera_id, saved, site)
