"""The FastAPI app over an event store and its data dir.

Example::

    store = EventStore.for_data_dir(Path("vigil-data"))
    app = create_app(store, Path("vigil-data"), ApiConfig(port=8080))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from vigil.events.alerts import AlertsConfig
from vigil.events.loop.config import LoopPolicy
from vigil.events.replay import read_uploaded_from
from vigil.events.store import EventStore
from vigil.events.zones import CameraZone

from .accounts import AccountError, Accounts
from .config import ApiConfig, session_secret
from .deps import Principal, Services, authenticated
from .media import MediaSource
from .metrics import Metrics
from .outbox import OutboxHub
from .queries import BadCursor, EventQueries
from .routers import alerts as alert_routes
from .routers import (
    auth,
    cameras,
    events,
    hazards,
    policy,
    push,
    recordings,
    stats,
    stream,
    system,
    tokens,
    users,
    workflow,
    zones,
)
from .security import SessionSigner

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
CONSOLE_DIR = Path(__file__).parent / "console"  # the web console: static HTML, CSS, JS modules


def _version() -> str:
    try:
        return version("vigil")
    except PackageNotFoundError:  # running from a source tree
        return "0"


def create_app(
    store: EventStore,
    data_dir: Path,
    config: ApiConfig | None = None,
    alerts: AlertsConfig | None = None,
    loop_policy: LoopPolicy | None = None,
    site_zones: dict[str, list[CameraZone]] | None = None,
    *,
    media: MediaSource | None = None,
) -> FastAPI:
    """The API over ``store``, serving media from ``data_dir/media``; ``alerts``: the site's
    channels (listed by GET /channels; a WebPush channel's key at GET /push/key);
    ``site_zones``: each camera's zones in the site file (GET /cameras/{id}/zones); ``media``:
    the object store media are uploaded to (served from there once no longer staged).

    Raises :class:`~vigil.api.config.SecretError` when the session secret is configured but
    unusable (one line, without the secret).
    """
    config = config or ApiConfig()
    svc = Services(
        config=config,
        store=store,
        accounts=Accounts(store.engine),
        queries=EventQueries(store.engine),
        sessions=SessionSigner(session_secret(config, Path(data_dir)), config.session_hours),
        hub=OutboxHub(store, poll_s=config.sse_poll_seconds),
        metrics=Metrics(store),
        media_root=Path(data_dir) / "media",
        login_limit=parse(config.login_rate),
        login_limiter=MovingWindowRateLimiter(MemoryStorage()),
        alerts=alerts,
        loop_policy=loop_policy,
        site_zones=site_zones,
        objects=media,
    )

    if media is not None:  # HLS and exports read uploaded segments from the store
        read_uploaded_from(data_dir, media.store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        uploader = media.uploader if media is not None else None
        if uploader is not None:
            uploader.start()
        yield
        await svc.hub.close()
        if uploader is not None:
            await asyncio.to_thread(uploader.close, 10.0)

    app = FastAPI(
        title="Vigil",
        version=_version(),
        description="Safety violations from plant cameras: events with evidence, live "
        "changes, cameras, users. Sign in with POST /api/v1/auth/login (cookie; writes need "
        "the X-CSRF-Token header) or send 'Authorization: Bearer <token>'.",
        openapi_url=None,  # served below, behind auth like every other route
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        max_body_size=config.max_body_bytes,
        generate_unique_id_function=lambda route: route.name,  # operation ids: function names
    )
    app.state.services = svc
    _add_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    routers = (
        auth,
        events,
        cameras,
        zones,
        stats,
        users,
        tokens,
        stream,
        workflow,
        hazards,
        policy,
        recordings,
        alert_routes,
        push,
    )
    for module in routers:
        api.include_router(module.router)

    @api.get("/openapi.json", include_in_schema=False)
    def openapi(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, Any]:
        del principal
        return app.openapi()

    app.include_router(api)
    app.include_router(system.router)
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    app.get("/", include_in_schema=False)(lambda: RedirectResponse("/console/"))
    app.openapi = lambda: _described(app)  # type: ignore[method-assign]
    return app


# FastAPI's own 422 body, described like every other schema.
_VALIDATION_FIELDS = {
    "HTTPValidationError": {"detail": "each problem with the request"},
    "ValidationError": {
        "loc": "where: body, query, path or header, then the field",
        "msg": "what is wrong with it",
        "type": "the kind of problem",
        "input": "the value given",
        "ctx": "details of the rule it broke",
    },
}


def _described(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for name, fields in _VALIDATION_FIELDS.items():
            properties = schema.get("components", {}).get("schemas", {}).get(name, {})
            for field, description in fields.items():
                if field in properties.get("properties", {}):
                    properties["properties"][field].setdefault("description", description)
    return app.openapi_schema or schema


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is JSON ``{"detail": ...}`` with a 4xx where the caller can fix it."""

    @app.exception_handler(AccountError)
    async def account_error(_r: Request, exc: AccountError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(BadCursor)
    async def bad_cursor(_r: Request, exc: BadCursor) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(IntegrityError)
    async def conflict(_r: Request, exc: IntegrityError) -> JSONResponse:
        log.info("conflict: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        return JSONResponse(
            {"detail": "this conflicts with what is stored (a duplicate?)"},
            status_code=status.HTTP_409_CONFLICT,
        )

    @app.exception_handler(DataError)
    async def unstorable(_r: Request, exc: DataError) -> JSONResponse:
        log.info("value refused by the database: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "a value in the request is not one the database can hold"},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(OperationalError)
    async def database_down(_r: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0])
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
