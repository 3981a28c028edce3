"""The loop worker with the real alert dispatcher and webhook receivers on loopback (SQLite and
PostgreSQL): auto-dispatch assigns a new event and its assignee's channel hears of it; an item
whose short due time passes is flagged and escalated once per step; and `vigil run` on a real
looped video gets its event dispatched (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alerthelpers import Receiver, open_event, wait_until
from workerhelpers import stop_run

from vigil.events.alerts import AlertsConfig, Dispatcher
from vigil.events.loop.config import DispatchRule, EscalationStep
from vigil.events.loop.store import LoopStore
from vigil.events.loop.worker import LoopWorker
from vigil.events.store.store import EventStore


def channel(name: str, receiver: Receiver, assignees: list[str]) -> dict:
    return {
        "name": name,
        "kind": "webhook",
        "url": receiver.url,
        "backoff_initial": 0.05,
        "filter": {"assignees": assignees},
    }


def bodies(receiver: Receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.snapshot()]


def test_dispatched_notified_flagged_and_escalated_once_per_step(url: str, tmp_path: Path):
    rules = [
        DispatchRule.model_validate(
            {"match": {"rules": ["fire"]}, "assign": {"user": "fixer"}, "due": {"critical": "1s"}}
        )
    ]
    ladder = {
        "critical": [
            EscalationStep.model_validate({"after": 0, "notify": {"user": "boss"}}),
            EscalationStep.model_validate({"after": "1s", "notify": {"group": "mgmt"}}),
        ]
    }
    with (
        Receiver() as fixer,
        Receiver() as boss,
        Receiver() as mgmt,
        EventStore(url) as store,
        EventStore(url) as other_store,
    ):
        config = AlertsConfig.model_validate(
            {
                "channels": [
                    channel("fixer", fixer, ["fixer"]),
                    channel("boss", boss, ["user:boss"]),
                    channel("mgmt", mgmt, ["group:mgmt"]),
                ]
            }
        )
        alerts = Dispatcher(store, config, tmp_path, poll_interval=0.02).start()
        options = {"check_every": 0.2, "poll_interval": 0.05, "on_change": alerts.wake}
        workers = [
            LoopWorker(store, rules, ladder, **options).start(),
            LoopWorker(other_store, rules, ladder, **options).start(),  # stands by: the lease
        ]
        try:
            fire = open_event(store)
            other = open_event(store, rule="smoke", label="smoke", subject="zone:x")
            wait_until(fixer.snapshot, 20, "the assignee's webhook")
            wait_until(lambda: len(mgmt.snapshot()) >= 1, 20, "the second escalation step")
            time.sleep(1.5)  # several more checks: nothing is sent twice
        finally:
            for worker in workers:
                worker.stop()
            alerts.stop(drain=2)
        assigned = bodies(fixer)
        assert len(assigned) == 1 and assigned[0]["event_id"] == fire.id
        assert assigned[0]["after"]["status"] == "assigned"
        assert (assigned[0]["assignee"], assigned[0]["notify"]) == ("user:fixer", ["user:fixer"])
        assert [b["escalation"]["step"] for b in bodies(boss)] == [1]
        assert [b["escalation"]["step"] for b in bodies(mgmt)] == [2]
        audit = store.audit(fire.id)
        assert [(a.to_status.value, a.actor) for a in audit] == [
            ("acknowledged", "auto-dispatch"),
            ("assigned", "auto-dispatch"),
        ]
        state = LoopStore(store).state(fire.id)
        assert state.assignee == "user:fixer" and state.overdue_at is not None
        assert state.escalation_step == 2
        assert store.get_event(other.id).status.value == "new"  # no rule takes smoke
        assert store.audit(other.id) == []


@pytest.mark.slow
def test_vigil_run_raises_an_event_that_is_dispatched_and_its_assignee_notified(
    videos: Path, tmp_path: Path
):
    """`vigil run` on a looped real video: its fall is assigned by the dispatch rule and the
    assignee's webhook (on loopback) hears of it. Bounded to 90 s."""
    data = tmp_path / "data"
    config = tmp_path / "site.yaml"
    with Receiver() as receiver:
        config.write_text(
            f"""
cameras:
  - id: replay
    source: {videos / "fall_01.mp4"}
    loop: true
    fps: 2
    rules: {{fall: {{}}}}
evidence: {{pre_seconds: 1, post_seconds: 1}}
storage: {{data_dir: {data}}}
dispatch:
  - match: {{cameras: [replay], rules: [fall]}}
    assign: {{user: fixer}}
    due: {{high: 24h, medium: 72h, low: 7d, critical: 4h}}
alerts:
  channels:
    - {{name: fixer-phone, kind: webhook, url: "{receiver.url}/in",
        filter: {{assignees: [fixer]}}}}
"""
        )
        log = (tmp_path / "run.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_until(receiver.snapshot, 80, "the assignee's webhook")
            assert stop_run(process, tmp_path / "run.log") == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        received = bodies(receiver)
    assert "Traceback" not in (tmp_path / "run.log").read_text()
    first = received[0]
    assert (first["type"], first["camera"], first["rule"]) == ("status", "replay", "fall")
    assert first["after"]["status"] == "assigned" and first["notify"] == ["user:fixer"]
    with EventStore.for_data_dir(data) as store:
        audit = store.audit(first["event_id"])
        event = store.get_event(first["event_id"])
    assert [(a.to_status.value, a.actor) for a in audit[:2]] == [
        ("acknowledged", "auto-dispatch"),
        ("assigned", "auto-dispatch"),
    ]
    assert audit[1].due_at is not None
    assert audit[1].due_at - event.created_at == pytest.approx(
        {"high": 86400, "medium": 259200, "low": 604800, "critical": 14400}[event.severity], abs=5
    )
