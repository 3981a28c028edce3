"""`vigil run` ends a worker whose analysis hangs (a model call that never returns), so that its
service manager starts it again; a worker with nothing to analyse, or one that turns, goes on."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import pytest

from vigil import run
from vigil.run import EXIT_HUNG, SiteRunner


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        raise Exited

    monkeypatch.setattr(run.os, "_exit", fake_exit)
    monkeypatch.setattr(run.logging, "shutdown", lambda: None)  # pytest's handlers stay
    return codes


def worker(stalled_s: float, running: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        _running={"gate-3": object()} if running else {},
        _service=SimpleNamespace(beat=time.monotonic() - stalled_s),
        hung_exit_s=180.0,
    )


def test_a_hung_analysis_exits_for_the_service_manager(exits, caplog) -> None:
    with caplog.at_level(logging.CRITICAL), pytest.raises(Exited):
        SiteRunner._exit_if_hung(worker(stalled_s=181))
    assert exits == [EXIT_HUNG]
    assert "has not turned for 181 s" in caplog.text


@pytest.mark.parametrize(("stalled_s", "running"), [(60, True), (600, False)])
def test_a_turning_or_idle_worker_goes_on(exits, stalled_s: float, running: bool) -> None:
    SiteRunner._exit_if_hung(worker(stalled_s, running))
    assert exits == []
