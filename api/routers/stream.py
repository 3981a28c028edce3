"""The live event stream: Server-Sent Events over the transactional outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from vigil.events.store import OutboxRecord

from ..deps import Authenticated, Principal, Svc
from .events import Cameras, Rules

router = APIRouter(tags=["stream"])

RETRY_MS = 2000  # how soon a browser's EventSource reconnects
WAIT_S = 5.0  # a client re-checks at least this often (the hub wakes it sooner)
RECHECK_S = 10.0  # a disabled user, a revoked token or a new camera limit applies this soon


def _wanted(
    r: OutboxRecord, principal: Principal, cameras: list[str], rules: list[str], sev: list[str]
) -> bool:
    return (
        principal.can_see(r.camera)
        and (not cameras or r.camera in cameras)
        and (not rules or r.rule in rules)
        and (not sev or r.severity in sev)
    )


@router.get(
    "/stream",
    summary="Live event changes (SSE)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "one SSE message per event change: `id:` the change's outbox id, "
            "`event:` new, update, end or status, `data:` {type, before, after} as JSON; a "
            "comment every 15 s keeps the connection open",
        }
    },
)
async def stream(
    svc: Svc,
    principal: Authenticated,
    camera: Cameras = [],  # noqa: B006 (FastAPI copies defaults)
    rule: Rules = [],  # noqa: B006
    severity: Annotated[
        list[Literal["low", "medium", "high", "critical"]],
        Query(max_length=4, description="only these severities"),
    ] = [],  # noqa: B006
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=2**62, description="resume after this change (browsers send it)"),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**62, description="resume after this change id (if no Last-Event-ID)"),
    ] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Changes to the events the caller may see, from now on, or from just after
    ``Last-Event-ID`` so that a client that reconnects misses nothing and gets nothing twice."""
    hub = svc.hub
    await hub.start()
    last = last_event_id if last_event_id is not None else after
    last = hub.position if last is None else last
    svc.metrics.sse_clients.inc()
    checked = time.monotonic()
    try:
        yield ServerSentEvent(comment="vigil event stream", retry=RETRY_MS)
        while not hub.closed:
            if time.monotonic() - checked >= RECHECK_S:
                checked = time.monotonic()
                fresh = await asyncio.to_thread(principal.still_allowed, svc.accounts, time.time())
                if fresh is None:
                    return  # the client reconnects, and is refused with a 401
                principal = fresh
            rows = await hub.after(last)
            if not rows:
                await hub.wait(last, WAIT_S)
                continue
            for r in rows:
                last = r.id
                if _wanted(r, principal, camera, rule, severity):
                    yield ServerSentEvent(id=str(r.id), event=r.type, data=r.payload)
    finally:
        svc.metrics.sse_clients.dec()
