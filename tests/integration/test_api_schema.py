"""Schemathesis over the API's own OpenAPI schema, as an admin, against a real server on
loopback (SQLite and PostgreSQL): valid and invalid input alike, never a 5xx, and every valid
request's answer matches the schema. Bounded: a few examples per operation and mode.

(Schemathesis' pytest plugin does not run under pytest 9, so the operations are driven from
one test with Hypothesis directly.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from apihelpers import T0, Running, running_api, stored, violation
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

MAX_EXAMPLES = 8  # per operation and mode: the run stays well under a minute a backend


@pytest.fixture
def running(url: str, tmp_path: Path) -> Iterator[Running]:
    with running_api(url, tmp_path / "data", login_rate="1000/minute") as r:
        stored(r.store, violation("gate-3", "no_helmet", T0))
        stored(r.store, violation("yard", "fire", T0 + 60, zone="tank-farm"), ended=False)
        yield r


def fuzz(operation, mode: GenerationMode, running: Running, auth: dict[str, str]) -> None:
    """Call ``operation`` with MAX_EXAMPLES generated requests of ``mode``."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case) -> None:
        response = case.call(base_url=running.url, headers=auth, timeout=30)
        label = f"{case.method} {case.formatted_path} {case.query} {case.body!r}"[:300]
        assert response.status_code < 500, (label, response.text[:300])
        if mode is GenerationMode.POSITIVE and response.status_code < 300:
            case.validate_response(
                response, checks=[response_schema_conformance, content_type_conformance]
            )

    call()


def test_no_input_gives_a_server_error(running: Running) -> None:
    with running.client("root") as admin:
        document = admin.get("/api/v1/openapi.json").json()
    # The event stream never ends by design; tests/integration/test_api.py covers it.
    schema = schemathesis.openapi.from_dict(document).exclude(path="/api/v1/stream")
    auth = {"Authorization": f"Bearer {running.tokens['root']}"}
    tried = 0
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(result.ok(), mode, running, auth)
            except Unsatisfiable:  # no invalid input exists for this operation
                continue
            tried += 1
    assert tried >= 20  # both modes of most of the 17 operations ran
