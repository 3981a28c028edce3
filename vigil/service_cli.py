"""`vigil serve`, `vigil users …` and `vigil token …`: the API service and who may use it.

Mounted into the `vigil` command by :func:`mount`. The heavy imports (FastAPI, uvicorn) happen
inside the commands, so the rest of the CLI starts as fast as before.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil import VigilError
from vigil.api.config import ApiConfig
from vigil.config import ConfigError, SiteConfig, StorageConfig, load_site_config

if TYPE_CHECKING:
    from fastapi import FastAPI

    from vigil.api.server import ApiServer
    from vigil.events.alerts import AlertsConfig
    from vigil.events.store import EventStore

out = Console()
err = Console(stderr=True)

users_app = typer.Typer(help="API users: who may sign in, with which role and cameras.")
token_app = typer.Typer(help="API tokens for integrations (Authorization: Bearer …).")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="site YAML (storage:, api:)")
]
DataOpt = Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")]


@dataclass
class Service:
    """Where the API's data lives and how it is served, from a site file and the options."""

    storage: StorageConfig
    api: ApiConfig
    data_dir: Path
    alerts: AlertsConfig | None = None
    site: SiteConfig | None = None  # its hazard-loop policy (dispatch, escalation)

    @classmethod
    def load(cls, config: Path | None, data: Path | None) -> Service:
        site = load_site_config(config) if config else None
        if site is None:
            return cls(StorageConfig(), ApiConfig(), data or StorageConfig().data_dir)
        return cls.of_site(site, data or site.storage.data_dir)

    @classmethod
    def of_site(cls, site: SiteConfig, data_dir: Path) -> Service:
        return cls(site.storage, site.api, data_dir, site.alerts, site)

    def create_app(self, store: EventStore) -> FastAPI:
        from vigil.api.app import create_app

        policy = self.site.loop_policy() if self.site else None
        zones = self.site.site_zones() if self.site else None
        settings = self.storage.object_store()
        media = None
        if settings is not None:
            from vigil.api.media import MediaSource
            from vigil.events.objectstore import ObjectStore
            from vigil.events.uploads import MediaUploader

            objects = ObjectStore(settings)
            uploader = MediaUploader(  # hazard photos; the workers upload their own media
                objects,
                self.data_dir,
                keep_local_seconds=self.storage.keep_local_hours * 3600,
                sweep_on_start=False,
            )
            media = MediaSource(objects, self.storage.media_serve, uploader)
        return create_app(store, self.data_dir, self.api, self.alerts, policy, zones, media=media)

    def open_store(self) -> EventStore:
        from vigil.events.store import EventStore

        url = self.storage.database_url
        return EventStore(url) if url else EventStore.for_data_dir(self.data_dir)


@dataclass
class BackgroundApi:
    """The API serving in a thread, with the store it opened for itself."""

    server: ApiServer
    store: EventStore

    def stop(self) -> None:
        self.server.stop()
        self.store.dispose()


def start_api(service: Service) -> BackgroundApi:
    """The API in a background thread; ``stop()`` it when done."""
    from vigil.api.server import ApiServer

    store = service.open_store()
    try:
        app = service.create_app(store)
        server = ApiServer(app, service.api.host, service.api.port)
        server.start()
    except BaseException:
        store.dispose()
        raise
    err.print(f"API on {server.url}/api/v1 (health: {server.url}/healthz)")
    return BackgroundApi(server, store)


def serve_beside(site: SiteConfig, data_dir: Path) -> BackgroundApi:
    """`vigil run --serve`: the site's API beside its cameras, in this process (the runner
    runs the site's alert dispatcher; the API starts none)."""
    return start_api(Service.of_site(site, data_dir))


def serve(
    config: ConfigOpt = None,
    data: DataOpt = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port", min=1, max=65535)] = None,
) -> None:
    """Serve the API and console over the store, deliver the site's alerts when it has
    channels, and run its hazard loop (auto-dispatch, overdue) when it has a policy. Each runs
    once per store: a `vigil run` of the same store takes turns with this one through the
    store's leases."""
    from vigil.api.server import ApiServer
    from vigil.events.alerts import build_dispatcher
    from vigil.events.loop.worker import LoopWorker

    service = Service.load(config, data)
    changes = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    service.api = service.api.model_copy(update=changes)
    store = service.open_store()
    try:
        app = service.create_app(store)
        server = ApiServer(app, service.api.host, service.api.port, log_level="info")
        server.check_port()
        try:
            dispatcher = build_dispatcher(store, service.alerts, service.data_dir)
        except ValueError as exc:
            raise ConfigError(f"alerts: {exc}") from None
        if dispatcher is not None:
            dispatcher.start()
            err.print(f"alerts: {len(dispatcher.channels)} channels ({dispatcher.holder})")
        site = service.site
        loop = None
        if site is not None and (site.dispatch or site.escalation):
            wake = dispatcher.wake if dispatcher is not None else None
            loop = LoopWorker(store, site.dispatch, site.escalation, on_change=wake).start()
            err.print(f"hazard loop: {len(site.dispatch)} dispatch rules")
        err.print(f"data: {service.data_dir}; Ctrl-C to stop")
        try:
            server.run()
        finally:
            if loop is not None:
                loop.stop()
            if dispatcher is not None:
                dispatcher.stop(drain=3.0)  # the last changes go out; the rest on the next start
    finally:
        store.dispose()


# --- users ---------------------------------------------------------------------------------


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[
        str, typer.Option("--role", help="admin, operator, rectifier, verifier or viewer")
    ],
    group: Annotated[str | None, typer.Option(help="team, for assignments")] = None,
    camera: Annotated[
        list[str] | None, typer.Option("--camera", help="limit to this camera (repeatable)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Add a user; the password is asked for (twice) unless --password-stdin."""
    from vigil.api.accounts import Accounts

    store = Service.load(config, data).open_store()
    with store:
        user = Accounts(store.engine).add_user(
            name, _password(password_stdin), role, group=group, cameras=camera or None
        )
    cameras = ", ".join(user.cameras) if user.cameras is not None else "every camera"
    err.print(f"added {user.name} ({user.role.value}; {cameras})")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="login name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Set a user's password (and enable the user again)."""
    from vigil.api.accounts import Accounts

    store = Service.load(config, data).open_store()
    with store:
        Accounts(store.engine).update_user(name, password=_password(password_stdin), disabled=False)
    err.print(f"password of {name} set")


@users_app.command("list")
def users_list(
    config: ConfigOpt = None,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per user")] = False,
) -> None:
    """List the users."""
    from vigil.api.accounts import Accounts

    store = Service.load(config, data).open_store()
    with store:
        users = Accounts(store.engine).users()
    if as_json:
        for u in users:
            row = {"name": u.name, "role": u.role.value, "group": u.group}
            row |= {"cameras": u.cameras and list(u.cameras), "disabled": u.disabled}
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table(title="Users")
    for column in ("name", "role", "group", "cameras", "disabled"):
        table.add_column(column, overflow="fold")
    for u in users:
        cameras = "all" if u.cameras is None else ", ".join(u.cameras)
        table.add_row(u.name, u.role.value, u.group or "", cameras, "yes" if u.disabled else "")
    out.print(table)


# --- tokens --------------------------------------------------------------------------------


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="what the token is for, e.g. grafana")],
    user: Annotated[str, typer.Option("--user", help="the user it acts as")],
    expires_days: Annotated[
        float | None, typer.Option("--expires-days", help="days until it stops working", min=0)
    ] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Make a token; its secret is printed once, on stdout, and kept nowhere."""
    from vigil.api.accounts import Accounts

    if expires_days is not None and expires_days <= 0:
        raise VigilError("--expires-days must be above 0")
    store = Service.load(config, data).open_store()
    with store:
        new = Accounts(store.engine).create_token(user, name, expires_days=expires_days)
    until = f", expires {_when(new.info.expires_at)}" if new.info.expires_at else ""
    err.print(f"token {new.info.id} for {user}{until}; the secret is shown this once:")
    sys.stdout.write(new.secret + "\n")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="the token's id (vigil token list)")],
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """Revoke a token at once."""
    from vigil.api.accounts import Accounts

    store = Service.load(config, data).open_store()
    with store:
        info = Accounts(store.engine).revoke_token(token_id)
    err.print(f"token {info.id} ({info.name}, {info.user}) revoked")


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="only this user's tokens")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
) -> None:
    """List tokens (never their secrets)."""
    from vigil.api.accounts import Accounts

    store = Service.load(config, data).open_store()
    with store:
        tokens = Accounts(store.engine).tokens(user)
    table = Table(title="API tokens")
    for column in ("id", "name", "user", "prefix", "expires", "revoked", "last used"):
        table.add_column(column, overflow="fold")
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.user,
            t.prefix + "…",
            _when(t.expires_at),
            _when(t.revoked_at),
            _when(t.last_used_at),
        )
    out.print(table)


def mount(app: typer.Typer) -> None:
    """Add `serve`, `users` and `token` to the `vigil` command."""
    app.command()(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(token_app, name="token")
