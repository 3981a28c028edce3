"""The hazard loop's figures, in SQLite and PostgreSQL:

1. Assignment latency: events opened one by one (as the live writer opens them) with the loop
   worker and the alert dispatcher running, a dispatch rule taking every event, and the
   assignee's webhook channel (filter ``assignees``) on a loopback receiver. p50/p95 of
   open (the event row's created_at) → assigned (the audit row's time) and → the assignee's
   webhook receipt. Target ≤ 1 s.
2. Stats query time over 100k events with their audit rows (a path through the loop per
   event, ~2.6 audit rows each) and loop rows: ``GET /api/v1/stats/loop``'s queries
   (LoopQueries.figures) and the counts, whole range and one camera.

    .venv/bin/python benchmarks/loop_figures.py --events 100000 --opens 60

Measured on the 2-core development machine shared with other jobs (load 7-10):

    figure                                          SQLite            PostgreSQL
    open → assigned, p50 / p95                      107 / 234 ms      155 / 308 ms
    open → assignee's webhook, p50 / p95            202 / 529 ms      286 / 500 ms
    loop stats + counts, 100k events, whole range   2137 ms (median)  1081 ms
    loop stats + counts, one camera of 16           457 ms            296 ms
    worker poll: new events to dispatch             1 ms              16 ms
    worker poll: overdue items to flag              2 ms              61 ms
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from api_event_list import database, rows  # same seeding as the event-list figures
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from alerthelpers import Receiver, open_event, wait_until  # noqa: E402

from vigil.api.loop_queries import LoopQueries  # noqa: E402
from vigil.api.queries import EventFilter, EventQueries  # noqa: E402
from vigil.events.alerts import AlertsConfig, Dispatcher  # noqa: E402
from vigil.events.loop.config import DispatchRule  # noqa: E402
from vigil.events.loop.store import LoopStore  # noqa: E402
from vigil.events.loop.worker import LoopWorker  # noqa: E402
from vigil.events.store import EventStore  # noqa: E402
from vigil.events.store.models import AuditRow, EventRow, LoopRow  # noqa: E402

PATH = ["new", "acknowledged", "assigned", "rectified", "verified", "closed"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def assignment_latency(url: str, folder: Path, opens: int) -> tuple[list[float], list[float]]:
    rule = DispatchRule.model_validate({"assign": {"user": "fixer"}, "due": {"critical": "4h"}})
    with Receiver() as receiver, EventStore(url) as store:
        config = AlertsConfig.model_validate(
            {
                "channels": [
                    {
                        "name": "fixer",
                        "kind": "webhook",
                        "url": receiver.url,
                        "filter": {"assignees": ["fixer"]},
                    }
                ]
            }
        )
        alerts = Dispatcher(store, config, folder).start()  # default poll: 0.1 s
        worker = LoopWorker(store, [rule], on_change=alerts.wake).start()  # default poll: 0.1 s
        wait_until(lambda: alerts.holding, 20, "the alert lease")
        try:
            opened = []
            for i in range(opens):
                opened.append(open_event(store, subject=f"track:{i}").id)
                time.sleep(0.25)
            wait_until(lambda: len(receiver.snapshot()) >= opens, 60, "every assignee webhook")
        finally:
            worker.stop()
            alerts.stop()
        receipts = {}
        for r in receiver.snapshot():
            receipts.setdefault(json.loads(r.body)["event_id"], r.at)
        to_assigned, to_notified = [], []
        for event_id in opened:
            created = store.get_event(event_id).created_at
            assigned = next(a.at for a in store.audit(event_id) if a.to_status.value == "assigned")
            to_assigned.append(assigned - created)
            to_notified.append(receipts[event_id] - created)
    return to_assigned, to_notified


def seed_loop(store: EventStore, n: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with store.engine.begin() as conn:
        for batch in rows(n):
            audit, loops = [], []
            for e in batch:
                depth = rng.choice([0, 1, 2, 2, 3, 4, 5, 5])
                e["status"] = PATH[depth]
                t = e["start_wall"]
                milestones = {}
                for k in range(1, depth + 1):
                    t += rng.expovariate(1 / 3600)
                    if PATH[k] != "verified":
                        milestones[f"{PATH[k]}_at"] = t
                    audit.append(
                        {
                            "event_id": e["id"],
                            "at": t,
                            "from_status": PATH[k - 1],
                            "to_status": PATH[k],
                            "actor": "bench",
                            "note": None,
                        }
                    )
                if depth >= 1:
                    loops.append(
                        {
                            "event_id": e["id"],
                            "assignee": "user:fixer" if depth >= 2 else None,
                            "due_at": e["start_wall"] + 86400 if depth >= 2 else None,
                            # overdue items already flagged and escalated: the steady state
                            "escalation_step": 2 if depth == 2 else 0,
                            "overdue_at": e["start_wall"] + 86400 if depth == 2 else None,
                            "dispatched": True,
                            "updated_at": t,
                            "awaiting_fix": depth == 2,
                            "acknowledged_at": None,
                            "assigned_at": None,
                            "rectified_at": None,
                            "closed_at": None,
                            **milestones,
                        }
                    )
            conn.execute(insert(EventRow), batch)
            conn.execute(insert(AuditRow), audit)
            conn.execute(insert(LoopRow), loops)


def stats_times(url: str, n: int, repeat: int) -> dict[str, tuple[float, float]]:
    with EventStore(url) as store:
        began = time.perf_counter()
        seed_loop(store, n)
        if store.engine.dialect.name == "postgresql":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"  seeded {n} events in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        loop, counts = LoopQueries(store.engine), EventQueries(store.engine)
        out = {}
        for name, f in (
            ("whole range", EventFilter()),
            ("one camera", EventFilter(cameras=("cam-03",))),
        ):
            times = []
            for _ in range(repeat + 1):
                began = time.perf_counter()
                loop.figures(f, now=time.time())
                counts.counts(f)
                times.append(time.perf_counter() - began)
            times = times[1:]  # the first warms the caches
            out[name] = (statistics.median(times), max(times))
        # The loop worker's two polls (every 0.1 s and every 2 s) over the same history.
        queue = LoopStore(store)
        for name, poll in (
            ("worker: new events to dispatch", lambda: queue.undispatched(time.time() - 3600)),
            ("worker: overdue items to flag", lambda: queue.overdue(time.time(), steps=2)),
        ):
            times = []
            for _ in range(repeat + 1):
                began = time.perf_counter()
                poll()
                times.append(time.perf_counter() - began)
            out[name] = (statistics.median(times[1:]), max(times[1:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--opens", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in args.kinds:
        with tempfile.TemporaryDirectory() as tmp:
            with database(kind, Path(tmp)) as url:
                assigned, notified = assignment_latency(url, Path(tmp), args.opens)
            print(
                f"{kind}: open → assigned p50 {pct(assigned, 0.5) * 1000:.0f} ms, "
                f"p95 {pct(assigned, 0.95) * 1000:.0f} ms; open → assignee's webhook p50 "
                f"{pct(notified, 0.5) * 1000:.0f} ms, p95 {pct(notified, 0.95) * 1000:.0f} ms "
                f"({args.opens} events)"
            )
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
            for name, (median, worst) in stats_times(url, args.events, args.repeat).items():
                print(
                    f"{kind}: over {args.events} events, {name}: "
                    f"median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms"
                )


if __name__ == "__main__":
    main()
