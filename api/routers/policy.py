"""The hazard loop's policy and groups: whom events go to, and who is in each group."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ..deps import Authenticated, Principal, Svc, require_role
from ..loop_schemas import GroupOut, PolicyOut

router = APIRouter(tags=["hazard loop"])

Assigner = Annotated[Principal, Depends(require_role("admin", "operator", "verifier"))]


@router.get("/groups", summary="Groups and their members", response_model=list[GroupOut])
def groups(svc: Svc, principal: Assigner) -> list[GroupOut]:
    """The groups an event can be assigned to, with their enabled members (admins, operators
    and verifiers, who assign and send back)."""
    del principal
    members: dict[str, list[str]] = {}
    for user in svc.accounts.users():
        if user.group is not None and not user.disabled:
            members.setdefault(user.group, []).append(user.name)
    return [GroupOut(name=g, members=sorted(m)) for g, m in sorted(members.items())]


@router.get("/dispatch-policy", summary="Auto-dispatch and escalation", response_model=PolicyOut)
def dispatch_policy(svc: Svc, principal: Authenticated) -> PolicyOut:
    """The site's auto-dispatch rules (first match wins) with due times per severity, and its
    escalation ladder; set in the site file (`dispatch:`, `escalation:`)."""
    del principal
    return PolicyOut.of(svc.loop_policy)
