"""Outside /api/v1: the open health check and the Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from vigil.events.store.drops import drop_counts

from ..deps import Principal, Svc, every_camera
from ..schemas import HealthOut, MediaDropsOut

router = APIRouter(tags=["system"])


@router.head("/healthz", include_in_schema=False)
@router.get(
    "/healthz",
    summary="Is the service up (no sign-in)",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "the database cannot be reached"}},
)
def healthz(svc: Svc, response: Response) -> HealthOut:
    """200 when the database answers, 503 when it does not; with the media lost so far."""
    try:
        with svc.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            drops = MediaDropsOut(**drop_counts(svc.store).as_dict())
    except SQLAlchemyError:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return HealthOut(status="unavailable", database="unreachable")
    return HealthOut(status="ok", database="ok", media_drops=drops)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition"}},
)
def metrics(svc: Svc, principal: Annotated[Principal, Depends(every_camera)]) -> Response:
    """Events by rule, cameras by state, SSE clients (and what other parts register)."""
    del principal
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
