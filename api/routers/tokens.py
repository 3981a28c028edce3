"""API tokens for integrations (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from ..accounts import USER_NAME_PATTERN
from ..deps import Admin, Svc
from ..schemas import Problem, TokenCreate, TokenCreated, TokenOut

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", summary="List tokens", response_model=list[TokenOut])
def list_tokens(
    svc: Svc,
    admin: Admin,
    user: Annotated[
        str | None, Query(pattern=USER_NAME_PATTERN, description="only this user's tokens")
    ] = None,
) -> list[TokenOut]:
    """Tokens without their secrets, oldest first."""
    del admin
    return [TokenOut.of(t) for t in svc.accounts.tokens(user)]


@router.post(
    "",
    summary="Make a token",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    responses={404: {"model": Problem, "description": "no such user"}},
)
def create_token(body: TokenCreate, svc: Svc, admin: Admin) -> TokenCreated:
    """A new token acting as ``user``; the secret is in this answer only."""
    del admin
    new = svc.accounts.create_token(body.user, body.name, expires_days=body.expires_days)
    return TokenCreated(token=new.secret, info=TokenOut.of(new.info))


@router.delete(
    "/{token_id}",
    summary="Revoke a token",
    response_model=TokenOut,
    responses={404: {"model": Problem, "description": "no such token"}},
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=2**62, description="the token's id")],
    svc: Svc,
    admin: Admin,
) -> TokenOut:
    """Revoke it at once (revoking twice is harmless)."""
    del admin
    return TokenOut.of(svc.accounts.revoke_token(token_id))
