"""Users (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from ..accounts import USER_NAME_PATTERN
from ..deps import Admin, Svc
from ..schemas import Problem, UserCreate, UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])

UserNamePath = Annotated[str, Path(pattern=USER_NAME_PATTERN, description="the user's name")]
NOT_FOUND = {404: {"model": Problem, "description": "no such user"}}


@router.get("", summary="List users", response_model=list[UserOut])
def list_users(svc: Svc, admin: Admin) -> list[UserOut]:
    del admin
    return [UserOut.of(u) for u in svc.accounts.users()]


@router.post(
    "",
    summary="Add a user",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"model": Problem, "description": "the name is taken"}},
)
def add_user(body: UserCreate, svc: Svc, admin: Admin) -> UserOut:
    del admin
    user = svc.accounts.add_user(
        body.name, body.password, body.role, group=body.group, cameras=body.cameras
    )
    return UserOut.of(user)


@router.get("/{name}", summary="One user", response_model=UserOut, responses=NOT_FOUND)
def get_user(name: UserNamePath, svc: Svc, admin: Admin) -> UserOut:
    del admin
    return UserOut.of(svc.accounts.user(name))


@router.patch(
    "/{name}",
    summary="Change a user",
    response_model=UserOut,
    responses={
        **NOT_FOUND,
        409: {"model": Problem, "description": "it would leave no enabled admin"},
    },
)
def update_user(name: UserNamePath, body: UserUpdate, svc: Svc, admin: Admin) -> UserOut:
    """Change role, group, camera limit, password, or disable/enable: only the fields sent."""
    del admin
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    return UserOut.of(svc.accounts.update_user(name, **changes))
