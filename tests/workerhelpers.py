"""Several `vigil run` workers sharing one site's cameras (DESIGN.md, Past one machine), for the
fault tests and benchmarks/failover_time.py: each worker a real subprocess with its own log,
the site's cameras served by the RTSP test server, one PostgreSQL for all of them.

Example::

    site = write_site(tmp_path, rtsp, url, cameras=["cam1", "cam2"])
    a, b = Worker(site, tmp_path / "a.log"), Worker(site, tmp_path / "b.log")
    holders(url)                   # {"cam1": a.id, "cam2": b.id} once both run
    a.kill(); b.term()
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from vigil.events.evidence import event_media_paths

OPENED = re.compile(r"camera (\S+): \S+ opened \(.*\) event (\w+)")
TOOK = re.compile(r"lease: took cameras \[(.*?)\]")


def write_site(
    tmp_path: Path,
    urls: dict[str, str],
    database_url: str,
    *,
    lease_ttl_s: float = 6.0,
    heartbeat_s: float = 2.0,
    fps: float = 2.0,
) -> Path:
    """A site file: each camera (id → RTSP URL) with the fall rule, one data folder shared by
    the workers (as a shared volume would be), the given database."""
    site = {
        "cameras": [
            {"id": c, "source": u, "fps": fps, "rules": {"fall": {}}} for c, u in urls.items()
        ],
        "evidence": {"pre_seconds": 1, "post_seconds": 1},
        "reconnect": {"stall_seconds": 3, "open_timeout": 5, "backoff_max": 2},
        "storage": {"data_dir": str(tmp_path / "data"), "database_url": database_url},
        "worker": {"lease_ttl_s": lease_ttl_s, "heartbeat_s": heartbeat_s},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


class Worker:
    """`vigil run --config SITE` in a subprocess, its stderr in ``log``."""

    def __init__(self, site: Path, log: Path) -> None:
        self.log = log
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vigil.cli", "run", "--config", str(site)],
                stdout=subprocess.DEVNULL,
                stderr=out,
                env=env,
            )
        self.prefix = f"{socket.gethostname()}:{self.process.pid}:"

    def owns(self, worker_id: str | None) -> bool:
        return worker_id is not None and worker_id.startswith(self.prefix)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def term(self, timeout: float = 120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(30)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def opened(self) -> dict[str, str]:
        """Every event this worker opened (its log): id → camera."""
        return {m[2]: m[1] for m in OPENED.finditer(self.text())}

    def takes(self) -> list[list[str]]:
        """The cameras taken, one list per take, in order."""
        return [re.findall(r"'([^']+)'", m[1]) for m in TOOK.finditer(self.text())]


class Probe:
    """Reads leases, health and events straight from the database."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 3})

    def rows(self, sql: str, **params) -> list:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        except Exception:  # not migrated yet, or the server is down
            return []

    def holders(self) -> dict[str, str]:
        """camera → worker holding an unexpired lease."""
        rows = self.rows(
            "select camera, worker from camera_leases where worker is not null "
            "and expires_at >= :now",
            now=time.time(),
        )
        return {camera: worker for camera, worker in rows}

    def analysed_by(self, camera: str, worker: Worker, since: float) -> bool:
        """The camera's health says ``worker`` analyses its frames, stored after ``since``."""
        rows = self.rows(
            "select worker, state, fps_analysed, updated_at from camera_health "
            "where camera = :camera",
            camera=camera,
        )
        return bool(rows) and (
            worker.owns(rows[0][0])
            and rows[0][1] == "live"
            and rows[0][2] > 0
            and rows[0][3] > since
        )

    def open_events(self, cameras: list[str], media_in: Path | None = None) -> list[str]:
        """Ids of the open events on these cameras; with ``media_in`` (a data folder), only
        those whose snapshot is written (a worker killed before that leaves nothing to salvage)."""
        rows = self.rows("select id, camera, start_wall from events where state = 'open'")
        return [
            id
            for id, camera, start in rows
            if camera in cameras
            and (media_in is None or event_media_paths(media_in, camera, id, start)[0].exists())
        ]

    def dispose(self) -> None:
        self.engine.dispose()


def counts_per_worker(holders: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for worker in holders.values():
        counts[worker] = counts.get(worker, 0) + 1
    return counts


def stop_run(process: subprocess.Popen, log: Path, timeout: float = 60) -> int:
    """SIGTERM a `vigil run` and its exit status; a run still there after ``timeout`` fails
    the test with its log's end (where, after 45 s, its threads' stacks are)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)
        tail = log.read_text(errors="replace")[-6000:]
        raise AssertionError(f"vigil run did not stop within {timeout:.0f} s:\n{tail}") from None
