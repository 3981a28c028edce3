"""Shared fixtures: where ../shared lies, and empty databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VIDEOS = SHARED / "data" / "videos"
PG_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def videos() -> Path:
    if not VIDEOS.is_dir():
        pytest.skip(f"shared footage not found at {VIDEOS} (../shared beside the repository)")
    return VIDEOS


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except (OperationalError, ImportError) as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {str(exc).splitlines()[0]}")
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
