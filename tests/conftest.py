"""Shared fixtures, and the markers (registered in pyproject.toml) that say what a test needs:

- ``needs_footage``: ../shared/data beside the repository (given to every test that uses the
  ``videos`` fixture);
- ``needs_pg``: PostgreSQL at ``VIGIL_TEST_PG_URL`` (given to every test that uses a
  PostgreSQL ``url`` or ``pg_admin``);
- ``needs_rtsp``: GStreamer's RTSP server under Debian's python3 (``scripts/setup`` installs it);
- ``slow``: real weights or real streams, seconds to a minute each.

A test whose need is missing here is skipped with the reason; with ``VIGIL_TEST_STRICT=1``
(``.ci/run``) it fails instead, so CI never passes by skipping.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from livehelpers import rtsp_server_available
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

# The console's browser-test fixtures (`site`, `browser`, `page_for`), for every test module.
pytest_plugins = ["consolehelpers"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VIDEOS = SHARED / "data" / "videos"
PG_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@functools.cache
def footage_missing() -> str | None:
    if VIDEOS.is_dir():
        return None
    return f"shared footage not found at {VIDEOS} (../shared beside the repository)"


@functools.cache
def pg_missing() -> str | None:
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except (OperationalError, ImportError) as exc:
        return f"PostgreSQL unreachable at {PG_URL}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


MISSING: dict[str, Callable[[], str | None]] = {
    "needs_footage": footage_missing,
    "needs_pg": pg_missing,
    "needs_rtsp": functools.cache(rtsp_server_available),
}


def lacking(why: str) -> None:
    """Skip the test (or fail it, under VIGIL_TEST_STRICT=1) for a missing need."""
    if os.environ.get("VIGIL_TEST_STRICT") == "1":
        pytest.fail(f"VIGIL_TEST_STRICT=1 and {why}", pytrace=False)
    pytest.skip(why)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "videos" in fixtures:
            item.add_marker(pytest.mark.needs_footage)
        if "pg_admin" in fixtures or params.get("url") == "postgresql":
            item.add_marker(pytest.mark.needs_pg)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, missing in MISSING.items():
        if item.get_closest_marker(marker) and (why := missing()):
            lacking(why)


@pytest.fixture(scope="session")
def videos() -> Path:
    if why := footage_missing():
        lacking(why)
    return VIDEOS


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    if why := pg_missing():
        lacking(why)
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vigil.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema = f"vigil_test_{uuid.uuid4().hex[:12]}"
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
