"""Signing in and out of the console: a session cookie and its CSRF token."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, HTTPException, Request, Response, status

from ..deps import Authenticated, Svc
from ..schemas import LoginRequest, LoginResponse, Me, Problem, UserOut, at
from ..security import CSRF_COOKIE, SESSION_COOKIE, new_csrf_token

router = APIRouter(prefix="/auth", tags=["auth"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    summary="Sign in",
    response_model=LoginResponse,
    responses={
        401: {"model": Problem, "description": "wrong name or password, or user disabled"},
        429: {"model": Problem, "description": "too many attempts; see Retry-After"},
    },
)
def login(body: LoginRequest, request: Request, response: Response, svc: Svc) -> LoginResponse:
    """Check the name and password; set the HttpOnly session cookie and the readable CSRF
    cookie. Attempts are limited per client address (``api.login_rate``)."""
    client = _client(request)
    if not svc.login_limiter.hit(svc.login_limit, "login", client):
        stats = svc.login_limiter.get_window_stats(svc.login_limit, "login", client)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many sign-in attempts from this address; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    user = svc.accounts.authenticate(body.name, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong name or password")
    csrf = new_csrf_token()
    now = time.time()
    cookie = svc.sessions.encode(user.id, csrf, now)
    secure = svc.config.secure_cookies
    max_age = svc.sessions.seconds
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age, httponly=True, samesite="strict", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age, httponly=False, samesite="strict", secure=secure
    )
    return LoginResponse(user=UserOut.of(user), csrf_token=csrf, expires_at=at(now + max_age))


@router.post(
    "/logout",
    summary="Sign out",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"model": Problem, "description": "not signed in"}},
)
def logout(principal: Authenticated, response: Response, svc: Svc) -> None:
    """Clear the session cookies (with the cookie, this needs the CSRF header)."""
    del principal
    secure = svc.config.secure_cookies
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, httponly=httponly, samesite="strict", secure=secure)


@router.get("/me", summary="Who am I", response_model=Me)
def me(principal: Authenticated) -> Me:
    return Me(user=UserOut.of(principal.user), auth=principal.via)
