"""WebPush for the console on phones: the VAPID key to subscribe with, and the calling user's
subscriptions (any signed-in user; each manages only their own)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from vigil.events.alerts import AlertStore
from vigil.events.alerts.channels.webpush import application_server_key

from ..alert_schemas import PushEndpointIn, PushKeyOut, PushSubscriptionIn, PushSubscriptionOut
from ..deps import Authenticated, Services, Svc
from ..schemas import Problem, at

router = APIRouter(prefix="/push", tags=["push"])

NO_PUSH = {404: {"model": Problem, "description": "the site has no WebPush channel"}}


def _server_key(svc: Services) -> str:
    key = application_server_key(svc.alerts, svc.data_dir)
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the site has no WebPush channel")
    return key


@router.get("/key", summary="The WebPush server key", response_model=PushKeyOut, responses=NO_PUSH)
def push_key(svc: Svc, principal: Authenticated) -> PushKeyOut:
    """The ``applicationServerKey`` a browser passes to ``pushManager.subscribe``."""
    del principal
    return PushKeyOut(application_server_key=_server_key(svc))


@router.post(
    "/subscriptions",
    summary="Subscribe this browser",
    status_code=status.HTTP_201_CREATED,
    response_model=PushSubscriptionOut,
    responses=NO_PUSH,
)
def subscribe(body: PushSubscriptionIn, svc: Svc, principal: Authenticated) -> PushSubscriptionOut:
    """Store the browser's ``PushSubscription`` for the calling user (the same endpoint again
    replaces the stored one: a browser that re-subscribed, or a phone handed to another user)."""
    _server_key(svc)
    try:
        sub = AlertStore(svc.store).add_push_subscription(
            principal.user.name, body.endpoint, body.keys.p256dh, body.keys.auth
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return PushSubscriptionOut(
        endpoint=sub.endpoint, user=sub.user_name, created_at=at(sub.created_at)
    )


@router.delete(
    "/subscriptions",
    summary="Unsubscribe this browser",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"model": Problem, "description": "no such subscription of yours"}},
)
def unsubscribe(body: PushEndpointIn, svc: Svc, principal: Authenticated) -> Response:
    """Forget the calling user's subscription with this endpoint."""
    if not AlertStore(svc.store).remove_push_subscription(body.endpoint, principal.user.name):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no push subscription of yours has that endpoint"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
