"""Cameras and their live health, as the workers running them last stored it."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from vigil.streams.health import is_stale

from ..accounts import CAMERA_ID_PATTERN
from ..deps import Authenticated, Svc
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


@router.get(
    "/{camera_id}",
    summary="One camera's health",
    response_model=CameraOut,
    responses={404: {"model": Problem, "description": "no such camera (or not one of yours)"}},
)
def get_camera(
    camera_id: Annotated[str, Path(pattern=CAMERA_ID_PATTERN, description="camera id")],
    svc: Svc,
    principal: Authenticated,
) -> CameraOut:
    for h in svc.store.camera_health():
        if h.camera == camera_id and principal.can_see(camera_id):
            return CameraOut.of(h, is_stale(h, time.time()))
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
