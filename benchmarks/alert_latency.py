"""Alert latency: an event change committed to the store → its MQTT message and its webhook
received, through the real dispatcher (lease, routing, one worker per channel).

Each change is an event opened through ``EventStore.unit_of_work`` (the outbox row written in
the same transaction); its time is taken when the commit returns. A loopback HTTP receiver and
a paho subscriber on the machine's Mosquitto take the receipt times. The dispatcher polls the
outbox every ``--poll`` seconds (its default, 0.1 s).

    .venv/bin/python benchmarks/alert_latency.py --changes 200 --interval 0.05
    .venv/bin/python benchmarks/alert_latency.py --db postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import paho.mqtt.client as mqtt  # noqa: E402
from alerthelpers import Receiver, violation  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from vigil.events.alerts import AlertsConfig, AlertStore, Dispatcher  # noqa: E402
from vigil.events.store.store import EventStore  # noqa: E402


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {q[49] * 1000:6.1f} ms  p95 {q[94] * 1000:6.1f} ms  "
        f"max {max(values) * 1000:6.1f} ms  (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between changes")
    parser.add_argument("--poll", type=float, default=0.1, help="dispatcher poll interval")
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vigil-alert-bench-"))
    with scratch_database(args.db or f"sqlite:///{tmp / 'vigil.db'}") as url:
        run(args, tmp, url)


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """The URL itself for SQLite; for PostgreSQL a schema of its own, dropped afterwards."""
    if not url.startswith("postgresql"):
        yield url
        return
    admin = create_engine(url)
    schema = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(args: argparse.Namespace, tmp: Path, url: str) -> None:
    store = EventStore(url)
    prefix = f"vigil-bench-{uuid.uuid4().hex[:8]}"
    mqtt_at: dict[str, float] = {}
    ready = threading.Event()

    def on_message(_c, _u, message) -> None:  # noqa: ANN001
        mqtt_at.setdefault(json.loads(message.payload)["event_id"], time.time())

    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_connect = lambda c, *_: c.subscribe(f"{prefix}/events", qos=1)
    sub.on_subscribe = lambda *_: ready.set()
    sub.on_message = on_message
    sub.connect("127.0.0.1", 1883)
    sub.loop_start()
    ready.wait(10)

    with Receiver() as receiver:
        config = AlertsConfig.model_validate(
            {
                "channels": [
                    {"name": "hook", "kind": "webhook", "url": receiver.url, "secret": "s"},
                    {"name": "bus", "kind": "mqtt", "topic_prefix": prefix, "qos": 1},
                ]
            }
        )
        dispatcher = Dispatcher(store, config, tmp, poll_interval=args.poll).start()
        while not dispatcher.holding:
            time.sleep(0.01)
        written: dict[str, float] = {}
        for _ in range(args.changes):
            v = violation()
            with store.unit_of_work() as w:
                w.opened(v)
            written[v.id] = time.time()
            time.sleep(args.interval)
        dispatcher.wait_idle(30)
        deadline = time.time() + 10
        while len(mqtt_at) < len(written) and time.time() < deadline:
            time.sleep(0.05)
        dispatcher.stop()
        hook_at = {json.loads(r.body)["event_id"]: r.at for r in receiver.snapshot()}
    sub.disconnect()
    sub.loop_stop()
    logged = [d.latency for d in AlertStore(store).deliveries(status="sent", limit=10_000)]
    store.dispose()

    backend = store.engine.dialect.name
    print(f"{len(written)} changes, one every {args.interval:g} s, poll {args.poll:g} s, {backend}")
    print("commit → webhook received  ", percentiles([hook_at[i] - t for i, t in written.items()]))
    print("commit → MQTT received     ", percentiles([mqtt_at[i] - t for i, t in written.items()]))
    print("outbox row → sent (log)    ", percentiles(logged))


if __name__ == "__main__":
    main()
