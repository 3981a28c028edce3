"""A running API on loopback over a real store, with users, tokens and events (real media
cut from a real video), for the API tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
from argon2 import PasswordHasher, profiles

from vigil.api import security
from vigil.api.accounts import Accounts
from vigil.api.app import create_app
from vigil.api.config import ApiConfig
from vigil.api.media import MediaSource
from vigil.api.server import ApiServer
from vigil.events.alerts import AlertsConfig
from vigil.events.evidence import Evidence, cut_clip, media_paths, write_snapshot
from vigil.events.loop.config import LoopPolicy
from vigil.events.store import EventStore
from vigil.events.violation import ModelRef, TimelinePoint, Violation

# Real argon2, at its cheapest parameters: the tests hash a few passwords each, on shared cores.
security._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)

PASSWORD = "a long passphrase"
T0 = 1_767_000_000.0  # 2025-12-29T09:20:00Z
# name -> (role, cameras)
USERS = {
    "root": ("admin", None),
    "ops": ("operator", None),
    "gate-only": ("viewer", ["gate-3"]),
    "viewer": ("viewer", None),
}


@dataclass
class Running:
    url: str
    store: EventStore
    accounts: Accounts
    data_dir: Path
    tokens: dict[str, str]
    server: ApiServer

    def client(self, who: str | None = None, **kwargs: object) -> httpx.Client:
        """A client authenticated with ``who``'s bearer token (None: anonymous)."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)  # type: ignore[arg-type]


@contextmanager
def running_api(
    url: str,
    data_dir: Path,
    alerts: AlertsConfig | None = None,
    loop_policy: LoopPolicy | None = None,
    site_zones: dict | None = None,
    media: MediaSource | None = None,
    **config: object,
) -> Iterator[Running]:
    """An API server on a free loopback port, with the USERS and a token for each;
    ``alerts``: the site's channels; ``loop_policy``: its dispatch and escalation;
    ``site_zones``: each camera's zones in the site file; ``media``: the object store media
    are served from once no longer staged."""
    store = EventStore(url)
    accounts = Accounts(store.engine)
    tokens = {}
    for name, (role, cameras) in USERS.items():
        accounts.add_user(name, PASSWORD, role, cameras=cameras)
        tokens[name] = accounts.create_token(name, "tests").secret
    app = create_app(
        store, data_dir, ApiConfig(**config), alerts, loop_policy, site_zones, media=media
    )
    server = ApiServer(app, "127.0.0.1", 0)
    server.start()
    try:
        yield Running(server.url, store, accounts, data_dir, tokens, server)
    finally:
        server.stop()
        store.dispose()


def violation(camera: str, rule: str, start: float, **changes: object) -> Violation:
    fields: dict[str, object] = dict(
        camera=camera,
        rule=rule,
        label="head_bare",
        subject="track:1",
        severity="high",
        start_pts=1.0,
        start_wall=start,
        end_pts=2.5,
        end_wall=start + 1.5,
        peak_confidence=0.7,
        peak_pts=1.5,
        bbox=(10.0, 20.0, 60.0, 90.0),
        track_id=1,
        timeline=[TimelinePoint(1.0, 0.6, (10.0, 20.0, 60.0, 90.0))],
        model=ModelRef("site_ppe", "0123456789ab", 0.3, {"head_bare": 0.3, "person": 0.35}),
    )
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def first_frame(video: Path):
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="bgr24")
    raise AssertionError(f"no frame in {video}")


def event_with_media(store: EventStore, data_dir: Path, video: Path, v: Violation) -> Evidence:
    """Store ``v`` opened and ended, with a snapshot and a 3 s H.264 clip cut from ``video``."""
    jpg, mp4 = media_paths(data_dir, v)
    write_snapshot(first_frame(video), v, jpg)
    clip = cut_clip(video, 0.0, 3.0, mp4)
    evidence = Evidence(jpg, clip.path, clip.sha256, clip.start_pts, clip.end_pts)
    with store.unit_of_work() as w:
        w.opened(v, source=str(video))
        w.ended(v, evidence)
    return evidence


def stored(store: EventStore, v: Violation, *, ended: bool = True) -> Violation:
    with store.unit_of_work() as w:
        w.opened(v)
        if ended:
            w.ended(dataclasses.replace(v), None)
    return v


@dataclass
class SseMessage:
    id: str | None
    event: str | None
    data: str


def sse_messages(response: httpx.Response) -> Iterator[SseMessage | str]:
    """Messages of a text/event-stream response as they arrive; comments as plain strings."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in response.iter_lines():
        if line == "":
            if data:  # as browsers do: no data, no message (a lone retry: or id:)
                yield SseMessage(fields.get("id"), fields.get("event"), "\n".join(data))
            fields, data = {}, []
        elif line.startswith(":"):
            yield line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
