"""The dispatcher as a whole: one per store by its lease (SQLite and PostgreSQL), and killed
in the middle of a delivery and restarted (a real process, SIGKILL, a file SQLite database and
a loopback receiver slow to answer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from alerthelpers import Receiver, open_event, wait_until
from workerhelpers import stop_run

from vigil.events.alerts import AlertsConfig, AlertStore, Dispatcher
from vigil.events.alerts.store import INTERRUPTED
from vigil.events.store.store import EventStore

WORKER = Path(__file__).resolve().parents[1] / "alert_worker.py"


def webhook_config(*receivers: tuple[str, Receiver]) -> dict:
    return {
        "channels": [
            {"name": name, "kind": "webhook", "url": r.url, "timeout": 30, "backoff_initial": 0.05}
            for name, r in receivers
        ]
    }


def test_two_dispatchers_on_one_store_only_the_lease_holder_delivers(url: str, tmp_path: Path):
    config = None
    with Receiver() as receiver, EventStore(url) as store_a, EventStore(url) as store_b:
        config = AlertsConfig.model_validate(webhook_config(("hook", receiver)))
        options = {"poll_interval": 0.02, "lease_ttl": 1.0, "renew_every": 0.2}
        a = Dispatcher(store_a, config, tmp_path, holder="A", **options).start()
        wait_until(lambda: a.holding, 10, "A to take the lease")
        b = Dispatcher(store_b, config, tmp_path, holder="B", **options).start()
        try:
            for i in range(10):
                open_event(store_a, subject=f"track:{i}")
            wait_until(lambda: len(receiver.snapshot()) >= 10, 20, "10 deliveries")
            assert a.wait_idle(10)
            assert a.holding and not b.holding
            # A stops renewing without letting go (as if it hung or died): B takes over
            # once the lease expires.
            a.stop(release=False)
            wait_until(lambda: b.holding, 10, "B to take over")
            for i in range(10, 20):
                open_event(store_b, subject=f"track:{i}")
            wait_until(lambda: len(receiver.snapshot()) >= 20, 20, "10 more deliveries")
            assert b.wait_idle(10)
            # The cursor passes every routed change and their routed marks are dropped.
            alerts = AlertStore(store_b)
            wait_until(lambda: alerts.cursor_position("alerts", 0) == 20, 10, "the cursor")
            assert alerts.highest_routed() == 0
        finally:
            a.stop()
            b.stop()
        keys = Counter(r.key for r in receiver.snapshot())
        log = AlertStore(store_a).deliveries(limit=1000)

    assert sorted(keys.values()) == [1] * 20  # nothing twice
    senders = {d.outbox_id: d.dispatcher for d in log if d.status == "sent"}
    assert len(senders) == 20
    first = sorted(senders)[:10]
    assert {senders[i] for i in first} == {"A"}
    assert {senders[i] for i in sorted(senders)[10:]} == {"B"}


def test_killed_mid_delivery_and_restarted_loses_nothing(tmp_path: Path):
    """SIGKILL while the receiver holds the 4th request: the change in flight is sent again
    with the same idempotency key (it may have arrived: nobody can know); every other change
    arrives exactly once, on both channels, including those written while no dispatcher ran."""
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    store = EventStore(url)
    slow, fast = Receiver(hold_nth=4), Receiver()
    config = tmp_path / "alerts.json"
    config.write_text(json.dumps(webhook_config(("slow", slow), ("fast", fast))))
    alerts = AlertStore(store)

    def start(holder: str) -> subprocess.Popen:
        log = (tmp_path / f"{holder}.log").open("w")
        args = [sys.executable, str(WORKER), url, str(config), str(tmp_path), holder]
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    for i in range(6):  # written before any dispatcher runs
        open_event(store, subject=f"track:{i}")
    first = start("first")
    try:
        wait_until(lambda: len(slow.snapshot()) >= 4, 60, "the 4th request to be held")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    in_flight = {(d.channel, d.outbox_id) for d in alerts.deliveries(status="sending")}
    held = slow.snapshot()[3]
    assert ("slow", int(held.key.split(":")[0])) in in_flight
    for i in range(6, 10):  # written while no dispatcher runs
        open_event(store, subject=f"track:{i}")
    slow.release()  # the held request now answers a dead connection

    second = start("second")
    try:
        sent = lambda: len(alerts.deliveries(status="sent", limit=100))  # noqa: E731
        wait_until(lambda: sent() == 20, 60, "every change sent on both channels")
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        if second.poll() is None:
            second.kill()
        slow.close()
        fast.close()

    for name, receiver in (("slow", slow), ("fast", fast)):
        receipts = receiver.snapshot()
        raw = Counter(r.key for r in receipts)  # the receiver dedupes nothing
        assert set(raw) == {f"{i}:{name}" for i in range(1, 11)}
        repeated = {k for k, n in raw.items() if n > 1}
        # Only an attempt in flight at the kill can be repeated, and only once: it was
        # `sending`, and may or may not have reached the receiver (the held one had).
        assert repeated <= {f"{o}:{c}" for c, o in in_flight if c == name}, (repeated, in_flight)
        assert all(raw[k] == 2 for k in repeated)
        for key in repeated:  # byte-identical, so a receiver dedupes on the key
            assert len({r.body for r in receipts if r.key == key}) == 1
    assert Counter(r.key for r in slow.snapshot())[held.key] == 2
    outbox_id = int(held.key.split(":")[0])
    history = sorted(
        (d.attempt, d.status, d.error, d.dispatcher)
        for d in alerts.deliveries(channel="slow", limit=100)
        if d.outbox_id == outbox_id
    )
    assert history == [(1, "failed", INTERRUPTED, "first"), (2, "sent", None, "second")]
    assert "Traceback" not in (tmp_path / "second.log").read_text()
    store.dispose()


@pytest.mark.slow
def test_vigil_run_sends_the_open_and_at_shutdown_the_end(videos: Path, tmp_path: Path):
    """`vigil run` with a webhook channel: a fall on a looped real video reaches the receiver
    when it opens, and its end goes out during the shutdown that SIGTERM starts."""
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
alerts:
  public_url: http://vigil.test
  channels:
    - {{name: hook, kind: webhook, url: "{receiver.url}/in", secret: k}}
"""
        )
        log = (tmp_path / "run.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_until(lambda: receiver.snapshot(), 120, "the fall's webhook")
            assert stop_run(process, tmp_path / "run.log", 90) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        bodies = [json.loads(r.body) for r in receiver.snapshot()]
    assert "Traceback" not in (tmp_path / "run.log").read_text()
    first = bodies[0]
    assert (first["type"], first["camera"], first["rule"]) == ("new", "replay", "fall")
    ends = [b for b in bodies if b["type"] == "end" and b["event_id"] == first["event_id"]]
    assert len(ends) == 1 and ends[0]["after"]["state"] == "ended"
    assert (
        ends[0]["snapshot_url"] == f"http://vigil.test/api/v1/events/{first['event_id']}/snapshot"
    )


def test_vigil_run_with_a_bad_alert_channel_is_one_line(tmp_path: Path):
    config = tmp_path / "site.yaml"
    config.write_text(
        f"""
cameras: [{{id: gate-3, source: "rtsp://127.0.0.1:9/none", rules: {{fall: {{}}}}}}]
storage: {{data_dir: {tmp_path / "data"}}}
alerts: {{channels: [{{name: chat, kind: apprise, urls: ["nosuch://token@host/"]}}]}}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: alerts: channel chat: apprise does not understand a nosuch:// URL"], (
        result.stderr
    )
