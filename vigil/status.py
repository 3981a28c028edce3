"""`vigil status`: each camera's health as the worker running it last stored it, and which
worker holds its lease (DESIGN.md, Past one machine).

A row not refreshed for ``STALE_AFTER_S`` (streams.health) seconds belongs to a worker that is not
running (or cannot reach the database): its state is shown as it was, marked stale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from sqlalchemy.exc import DBAPIError

from vigil.config import ConfigError
from vigil.events.store.drops import DropCounts, drop_counts
from vigil.events.store.leases import CameraLease, WorkerRecord, camera_leases, workers
from vigil.events.store.store import EventStore
from vigil.streams.health import CameraState, HealthSnapshot, is_stale
from vigil.streams.sources import redact

_COLOURS = {
    CameraState.LIVE: "green",
    CameraState.CONNECTING: "yellow",
    CameraState.STALLED: "yellow",
    CameraState.FAILED: "red",
    CameraState.STOPPED: "dim",
}


@dataclass(frozen=True, slots=True)
class SiteStatus:
    health: list[HealthSnapshot]
    leases: dict[str, CameraLease]  # by camera
    workers: list[WorkerRecord]


def read_status(url: str) -> SiteStatus:
    """Health, leases and workers; ConfigError (one line) if there is nothing to read. A store
    older than the leases shows none."""
    health = read_health(url)
    store = EventStore(url, auto_migrate=False)
    try:
        return SiteStatus(health, {x.camera: x for x in camera_leases(store)}, workers(store))
    except DBAPIError:  # no lease tables yet: no worker of this version ran
        return SiteStatus(health, {}, [])
    finally:
        store.dispose()


def read_health(url: str) -> list[HealthSnapshot]:
    """The stored health of every camera; ConfigError (one line) if there is none to read."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise ConfigError(
            f"no Vigil database at {url.removeprefix('sqlite:///')}; start `vigil run` first"
        )
    store = EventStore(url, auto_migrate=False)
    try:
        return store.camera_health()
    except DBAPIError as exc:
        if "camera_health" in str(exc):
            raise ConfigError(
                "the database has no camera health yet; start `vigil run` once to create it"
            ) from None
        raise
    finally:
        store.dispose()


def read_drops(url: str) -> DropCounts | None:
    """The media lost so far (every worker); None when the database cannot say."""
    store = EventStore(url, auto_migrate=False)
    try:
        return drop_counts(store)
    except DBAPIError:  # a database older than the media_drops table
        return None
    finally:
        store.dispose()


def drops_line(drops: DropCounts) -> str:
    """One line for `vigil status`.

    >>> drops_line(DropCounts(3, 0, 1))
    'media dropped: 3 recording segments for disk space, 0 uploads lost, 1 events missing evidence'
    """
    return (
        f"media dropped: {drops.segments_for_disk} recording segments for disk space, "
        f"{drops.uploads_lost} uploads lost, {drops.events_missing_evidence} events missing "
        "evidence"
    )


def _ago(epoch: float | None, now: float, style: str = "ago") -> str:
    """``12 s ago`` (or ``12 s`` with style "for"), minutes and hours past two of each."""
    if epoch is None:
        return "never"
    seconds = max(0.0, now - epoch)
    if seconds < 120:
        text = f"{seconds:.0f} s"
    elif seconds < 7200:
        text = f"{seconds / 60:.0f} min"
    else:
        text = f"{seconds / 3600:.1f} h"
    return text if style == "for" else f"{text} ago"


def lease_text(lease: CameraLease | None, now: float) -> str:
    """Who holds a camera's lease: ``host:pid:x (renewed 1 s ago)``, ``free`` or ``expired``."""
    if lease is None or lease.worker is None:
        return "free"
    if lease.holder(now) is None:
        return f"[red]expired[/] (was {lease.worker})"
    return f"{lease.worker} (renewed {_ago(lease.heartbeat_at, now)})"


def health_table(
    rows: list[HealthSnapshot],
    now: float | None = None,
    leases: dict[str, CameraLease] | None = None,
) -> Table:
    now = time.time() if now is None else now
    table = Table(title="Cameras")
    columns = ["camera", "state", "fps in / analysed", "last frame", "reconnects", "skipped"]
    if leases:
        columns.insert(2, "worker (lease)")
    for column in columns:
        table.add_column(column, overflow="fold")
    table.add_column("last error", overflow="fold", ratio=1)
    for h in rows:
        state = f"[{_COLOURS[h.state]}]{h.state.value}[/] for {_ago(h.state_since, now, 'for')}"
        if is_stale(h, now):
            state += f" [red](stale: no update for {_ago(h.updated_at, now, 'for')})[/]"
        cells = [
            h.camera if not h.name else f"{h.camera} ({h.name})",
            state,
            f"{h.fps_in:.1f} / {h.fps_analysed:.1f}",
            _ago(h.last_frame_wall, now),
            str(h.reconnects),
            str(h.skipped),
            _error_and_backlog(h),
        ]
        if leases:
            cells.insert(2, lease_text(leases.get(h.camera), now))
        table.add_row(*cells)
    return table


def workers_table(
    rows: list[WorkerRecord], leases: dict[str, CameraLease], now: float | None = None
) -> Table:
    """Each registered worker: its host, pid, capacity, heartbeat and the cameras it holds."""
    now = time.time() if now is None else now
    table = Table(title="Workers")
    for column in ("worker", "host", "pid", "capacity", "heartbeat", "cameras"):
        table.add_column(column, overflow="fold")
    for w in rows:
        held = sorted(c for c, lease in leases.items() if lease.holder(now) == w.id)
        table.add_row(
            w.id,
            w.host,
            str(w.pid),
            "any" if w.capacity is None else str(w.capacity),
            _ago(w.heartbeat_at, now),
            ", ".join(held) or "none",
        )
    return table


def _error_and_backlog(h: HealthSnapshot) -> str:
    """The last error, and the event changes that wait for the database, if any."""
    backlog = [
        f"{n} event changes {what}"
        for n, what in (
            (h.pending_changes, "wait for the database"),
            (h.lost_changes, "lost"),
        )
        if n
    ]
    return "; ".join(part for part in [h.last_error, *backlog] if part)


def health_json(
    h: HealthSnapshot, now: float | None = None, lease: CameraLease | None = None
) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "camera": h.camera,
        "name": h.name,
        "source": redact(h.source),  # rows stored before masking was complete, too
        "state": h.state.value,
        "stale": is_stale(h, now),
        "state_since": h.state_since,
        "fps_in": h.fps_in,
        "fps_analysed": h.fps_analysed,
        "last_frame_wall": h.last_frame_wall,
        "reconnects": h.reconnects,
        "skipped": h.skipped,
        "last_error": h.last_error,
        "worker": h.worker,
        "updated_at": h.updated_at,
        "pending_changes": h.pending_changes,
        "lost_changes": h.lost_changes,
        "lease_worker": None if lease is None else lease.holder(now),  # None: free or expired
        "lease_expires_at": None if lease is None or lease.worker is None else lease.expires_at,
    }
