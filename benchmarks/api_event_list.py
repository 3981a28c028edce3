"""Event list latency through the real API (uvicorn on loopback, httpx keep-alive) with 100k
events stored, in SQLite and in PostgreSQL: p50/p95 of first pages, deep pages (following
cursors), and filtered pages, as an unrestricted admin and as a camera-limited user.

Events are bulk-inserted with SQLAlchemy core (16 cameras, 6 rules, 30 days); the schema is
the store's own (Alembic), so the indexes measured are the shipped ones.

    .venv/bin/python benchmarks/api_event_list.py --events 100000 --requests 200
    VIGIL_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test  # the default

Measured on the 2-core development machine, shared with other jobs (load ~4), ms:

    scenario                           SQLite p50/p95   PostgreSQL p50/p95
    unfiltered, first page                 8.4 / 14.9        17.1 / 27.4
    unfiltered, pages 1-20 by cursor       8.9 / 13.1        19.0 / 31.7
    camera + rule + min_confidence        10.4 / 15.3        18.9 / 30.6
    one day + severity + status           10.0 / 13.6        16.6 / 23.8
    camera-limited user (2 of 16)         13.3 / 16.8        15.1 / 21.6
    stats, whole range                   163.9 / 287.8      193.0 / 233.3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from vigil.api.accounts import Accounts
from vigil.api.app import create_app
from vigil.api.server import ApiServer
from vigil.events.store import EventStore
from vigil.events.store.models import EventRow

PG_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CAMERAS = [f"cam-{i:02d}" for i in range(16)]
RULES = ["no_helmet", "restricted_zone", "fall", "smoke", "fire", "no_harness"]
DAYS = 30
T0 = 1_764_000_000.0


def rows(n: int, seed: int = 7) -> Iterator[list[dict]]:
    rng = random.Random(seed)
    batch = []
    for _ in range(n):
        start = T0 + rng.random() * DAYS * 86400
        rule = rng.choice(RULES)
        batch.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "camera": rng.choice(CAMERAS),
                "rule": rule,
                "label": "person",
                "subject": f"track:{rng.randrange(1000)}",
                "severity": rng.choice(["low", "medium", "high", "critical"]),
                "track_id": rng.randrange(1000),
                "zone": "tank-farm" if rule == "restricted_zone" else None,
                "start_pts": 0.0,
                "end_pts": 5.0,
                "start_wall": start,
                "end_wall": start + 5,
                "peak_confidence": rng.random(),
                "peak_pts": 1.0,
                "bbox": [1.0, 2.0, 3.0, 4.0],
                "state": "ended",
                "status": rng.choice(["new", "new", "acknowledged", "closed", "dismissed"]),
                "snapshot_path": None,
                "clip_path": None,
                "created_at": start,
                "updated_at": start,
                "model_card": "site_ppe",
                "model_version": "0123456789ab",
                "model_threshold": 0.3,
                "model_thresholds": {"person": 0.35},
            }
        )
        if len(batch) == 5000:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'vigil.db'}"
        return
    admin = create_engine(PG_URL)
    schema = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def timed(n: int, request: Callable[[], httpx.Response]) -> tuple[float, float]:
    request()  # warm
    times = []
    for _ in range(n):
        began = time.perf_counter()
        r = request()
        times.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 200, r.text
    return statistics.median(times), statistics.quantiles(times, n=20)[18]


def deep_pages(client: httpx.Client, pages: int) -> Callable[[], httpx.Response]:
    """Each call fetches the next page, starting over after ``pages`` pages."""
    state = {"cursor": None, "page": 0}

    def call() -> httpx.Response:
        params = {"limit": 50} | ({"cursor": state["cursor"]} if state["cursor"] else {})
        r = client.get("/api/v1/events", params=params)
        state["page"] += 1
        state["cursor"] = r.json()["next_cursor"] if state["page"] % pages else None
        return r

    return call


def bench(kind: str, events: int, requests: int) -> list[tuple[str, float, float, int]]:
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        store = EventStore(url)
        began = time.monotonic()
        with store.engine.begin() as conn:
            for batch in rows(events):
                conn.execute(insert(EventRow), batch)
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        print(
            f"{kind}: {events} events inserted in {time.monotonic() - began:.1f} s", file=sys.stderr
        )
        accounts = Accounts(store.engine)
        accounts.add_user("root", "a long passphrase", "admin")
        accounts.add_user("two", "a long passphrase", "viewer", cameras=CAMERAS[:2])
        tokens = {u: accounts.create_token(u, "bench").secret for u in ("root", "two")}
        server = ApiServer(create_app(store, Path(tmp)), "127.0.0.1", 0)
        server.start()
        results = []
        try:
            clients = {
                u: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {t}"})
                for u, t in tokens.items()
            }
            admin = clients["root"]
            since = "2025-12-05T00:00:00Z"
            scenarios = {
                "unfiltered, first page": lambda: admin.get("/api/v1/events"),
                "unfiltered, pages 1-20 by cursor": deep_pages(admin, 20),
                "camera + rule + min_confidence": lambda: admin.get(
                    "/api/v1/events",
                    params={"camera": "cam-03", "rule": "no_helmet", "min_confidence": 0.5},
                ),
                "one day + severity + status": lambda: admin.get(
                    "/api/v1/events",
                    params={
                        "since": since,
                        "until": "2025-12-06T00:00:00Z",
                        "severity": "critical",
                        "status": "new",
                    },
                ),
                "camera-limited user (2 of 16)": lambda: clients["two"].get("/api/v1/events"),
                "stats, whole range": lambda: admin.get("/api/v1/stats"),
            }
            for name, call in scenarios.items():
                p50, p95 = timed(requests, call)
                count = len(call().json().get("events", [])) if "stats" not in name else 0
                results.append((name, p50, p95, count))
        finally:
            for c in clients.values():
                c.close()
            server.stop()
            store.dispose()
        return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in args.backends:
        print(f"\n{kind}, {args.events} events, {args.requests} requests each (ms)")
        print(f"{'scenario':36} {'p50':>8} {'p95':>8}  rows")
        for name, p50, p95, count in bench(kind, args.events, args.requests):
            print(f"{name:36} {p50:8.1f} {p95:8.1f}  {count}")


if __name__ == "__main__":
    main()
