"""Finding 4 of issue 12: several processes creating one fresh database at once all succeed.

Each process waits at a barrier and then builds an ``EventStore`` (which migrates), so the
migrations really run together; SQLite serialises them with a file lock beside the database,
PostgreSQL with an advisory lock.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import inspect

from vigil.events.store.store import EventStore

PROCESSES = 6


def _migrate(url: str, barrier, results) -> None:
    barrier.wait(60)
    try:
        EventStore(url).dispose()
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def migrate_at_once(url: str, processes: int = PROCESSES) -> list[str]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    workers = [ctx.Process(target=_migrate, args=(url, barrier, results)) for _ in range(processes)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    return outcomes


def test_parallel_migrations_of_a_fresh_database_all_succeed(url: str) -> None:
    outcomes = migrate_at_once(url)
    assert outcomes == ["ok"] * PROCESSES, outcomes
    with EventStore(url, auto_migrate=False) as store:
        assert "events" in inspect(store.engine).get_table_names()
        assert store.list_events() == []


def test_for_data_dir_in_parallel(tmp_path: Path) -> None:
    """The embedded store, as `vigil run` workers sharing a data folder open it."""
    data = tmp_path / "vigil-data"
    data.mkdir()
    outcomes = migrate_at_once(f"sqlite:///{data / 'vigil.db'}", processes=4)
    assert outcomes == ["ok"] * 4, outcomes
