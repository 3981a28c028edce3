"""What every route shares: the app's services, and who is asking (FastAPI dependencies).

A request is authenticated by a bearer token (``Authorization: Bearer vgl_…``, for
integrations) or by the signed session cookie (for the console). A cookie-authenticated write
(any method but GET, HEAD, OPTIONS) must also carry the session's CSRF token in the
``X-CSRF-Token`` header: a page on another site can make the browser send the cookie, but it
cannot read the token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem
from limits.strategies import MovingWindowRateLimiter

from vigil.events.alerts import AlertsConfig
from vigil.events.loop.config import LoopPolicy
from vigil.events.store import EventStore
from vigil.events.zones import CameraZone

from .accounts import Accounts, User
from .config import ApiConfig
from .media import MediaSource
from .metrics import Metrics
from .outbox import OutboxHub
from .queries import EventQueries
from .security import (
    CSRF_HEADER,
    SESSION_COOKIE,
    InvalidSession,
    SessionSigner,
    same_secret,
    token_digest,
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Services:
    """One app's parts, on ``app.state.services``."""

    config: ApiConfig
    store: EventStore
    accounts: Accounts
    queries: EventQueries
    sessions: SessionSigner
    hub: OutboxHub
    metrics: Metrics
    media_root: Path
    login_limit: RateLimitItem
    login_limiter: MovingWindowRateLimiter
    alerts: AlertsConfig | None = None  # the site's channels (GET /channels, WebPush)
    loop_policy: LoopPolicy | None = None  # the site's dispatch and escalation
    site_zones: dict[str, list[CameraZone]] | None = None  # per camera, the site file's zones
    objects: MediaSource | None = None  # the object store media go to, if any

    @property
    def base_url(self) -> str:
        """Prefix of the links the API gives out (media URLs)."""
        root = (self.config.public_url or "").rstrip("/")
        return f"{root}/api/v1"

    @property
    def data_dir(self) -> Path:
        return self.media_root.parent


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, and how they proved it."""

    user: User
    via: Literal["session", "token"]
    token_sha256: str | None = None  # the bearer token's digest
    expires_at: float | None = None  # the session's end

    def still_allowed(self, accounts: Accounts, now: float) -> Principal | None:
        """This principal as the store has it now (role, cameras), or None if it has been
        disabled, revoked or has expired since the request began."""
        if self.expires_at is not None and now >= self.expires_at:
            return None
        user = accounts.still_allowed(self.user.id, self.token_sha256, now)
        return None if user is None else dataclasses.replace(self, user=user)

    @property
    def cameras(self) -> tuple[str, ...] | None:
        """The cameras this principal may see; None: every camera."""
        return self.user.cameras

    def can_see(self, camera: str) -> bool:
        return self.user.can_see(camera)


def services(request: Request) -> Services:
    return request.app.state.services


_bearer = HTTPBearer(
    auto_error=False, description="an API token made by an admin (`vigil token create`)"
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="the session cookie set by POST /api/v1/auth/login; writes also need the "
    f"{CSRF_HEADER} header",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


def authenticated(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """The principal behind the request, or 401 (403 for a cookie write without CSRF)."""
    if request.headers.get("authorization"):
        if bearer is None or not bearer.credentials:
            raise _unauthorized("Authorization header: send 'Bearer <token>'")
        user = svc.accounts.user_for_token(bearer.credentials)
        if user is None:
            raise _unauthorized("token unknown, expired or revoked, or its user is disabled")
        return Principal(user, "token", token_sha256=token_digest(bearer.credentials))
    if cookie:
        try:
            claims = svc.sessions.decode(cookie)
        except InvalidSession:
            raise _unauthorized("session expired or not valid; sign in again") from None
        user = svc.accounts.user_by_id(claims.user_id)
        if user is None or user.disabled:
            raise _unauthorized("this session's user no longer exists or is disabled")
        if request.method not in SAFE_METHODS and not same_secret(
            request.headers.get(CSRF_HEADER), claims.csrf
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"CSRF token missing or wrong: send the {CSRF_HEADER} header from sign-in",
            )
        return Principal(user, "session", expires_at=claims.expires_at)
    raise _unauthorized("sign in (POST /api/v1/auth/login) or send a bearer token")


Authenticated = Annotated[Principal, Depends(authenticated)]
Svc = Annotated[Services, Depends(services)]


def require_role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only these roles through (403 for the others)."""

    def check(principal: Authenticated) -> Principal:
        if principal.user.role.value not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}"
            )
        return principal

    return check


def every_camera(principal: Authenticated) -> Principal:
    """Only principals not limited to some cameras (site-wide figures)."""
    if principal.cameras is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this shows every camera; your account is limited to some"
        )
    return principal


Admin = Annotated[Principal, Depends(require_role("admin"))]
