"""Cameras and their live health, as the workers running them last stored it."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import FileResponse, Response

from vigil.events.evidence import latest_frame_path
from vigil.streams.health import is_stale

from ..accounts import CAMERA_ID_PATTERN
from ..deps import Authenticated, Svc
from ..media import media_file, serve_media
from ..queries import EventFilter
from ..schemas import CameraOut, Problem

router = APIRouter(prefix="/cameras", tags=["cameras"])


@router.get("", summary="Cameras with their health", response_model=list[CameraOut])
def list_cameras(svc: Svc, principal: Authenticated) -> list[CameraOut]:
    """Every camera the caller may see that a worker has reported on, by id."""
    now = time.time()
    return [
        CameraOut.of(h, is_stale(h, now))
        for h in svc.store.camera_health()
        if principal.can_see(h.camera)
    ]


CameraIdPath = Annotated[str, Path(pattern=CAMERA_ID_PATTERN, description="camera id")]


@router.get(
    "/{camera_id}",
    summary="One camera's health",
    response_model=CameraOut,
    responses={404: {"model": Problem, "description": "no such camera (or not one of yours)"}},
)
def get_camera(camera_id: CameraIdPath, svc: Svc, principal: Authenticated) -> CameraOut:
    for h in svc.store.camera_health():
        if h.camera == camera_id and principal.can_see(camera_id):
            return CameraOut.of(h, is_stale(h, time.time()))
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")


@router.head("/{camera_id}/snapshot", include_in_schema=False)
@router.get(
    "/{camera_id}/snapshot",
    summary="The camera's latest picture",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "JPEG"},
        404: {"model": Problem, "description": "no picture yet (or not one of your cameras)"},
    },
)
def camera_snapshot(
    request: Request, camera_id: CameraIdPath, svc: Svc, principal: Authenticated
) -> Response:
    """The snapshot of the camera's newest event that has one: what the console's camera
    tiles show (the worker stores no frames between events)."""
    record = None
    if principal.can_see(camera_id):
        record = svc.queries.latest_snapshot(
            EventFilter(cameras=[camera_id], allowed=principal.cameras)
        )
    missing = f"no picture of camera {camera_id} yet"
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
    response = serve_media(
        request, svc.media_root, svc.objects, record.snapshot_path, "image/jpeg", missing
    )
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Vigil-Event"] = record.id
    return response


@router.head("/{camera_id}/frame", include_in_schema=False)
@router.get(
    "/{camera_id}/frame",
    summary="The camera's newest frame",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "JPEG, full size, nothing drawn"},
        404: {"model": Problem, "description": "no frame yet (or not one of your cameras)"},
    },
)
def camera_frame(camera_id: CameraIdPath, svc: Svc, principal: Authenticated) -> FileResponse:
    """The newest frame that the worker running the camera keeps (refreshed every few
    seconds, in the source's pixels): what zones are drawn on."""
    path = None
    if principal.can_see(camera_id):
        path = media_file(svc.media_root, latest_frame_path(svc.data_dir, camera_id))
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no frame of camera {camera_id} yet")
    return FileResponse(
        path,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, no-cache"},
        content_disposition_type="inline",
    )
