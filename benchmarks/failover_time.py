"""Failover time of camera leases (DESIGN.md, Past one machine): kill -9 a `vigil run` worker and
time until each of its cameras is analysed on another worker (its health row names the new
worker, live, with analysed frames, stored after the kill).

Each run: a fresh schema in PostgreSQL, the RTSP test server looping fall_01.mp4 as the
cameras, two workers (subprocesses) sharing them; once each holds its share, one is killed.
What the time is made of: the rest of the dead worker's lease (up to ``lease_ttl_s``), the
claim, the recovery of its open events, the RTSP connection, the first analysed frame, and
the next health write (once a second).

    .venv/bin/python benchmarks/failover_time.py --runs 5 --cameras 2

Needs PostgreSQL (VIGIL_TEST_PG_URL, default 127.0.0.1:5432/test) and GStreamer's RTSP server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from livehelpers import RtspServer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from workerhelpers import Probe, Worker, counts_per_worker, write_site  # noqa: E402

PG_URL = os.environ.get("VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VIDEO = ROOT.parent / "shared" / "data" / "videos" / "fall_01.mp4"


def wait(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError


def one_run(rtsp: RtspServer, cameras: list[str], ttl: float, beat: float) -> tuple[float, float]:
    """Seconds from the kill to every camera of the killed worker leased by the other, and to
    every one analysed by it."""
    admin = create_engine(PG_URL)
    schema = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory(prefix="vigil-failover-") as tmp:
        tmp_path = Path(tmp)
        site = write_site(
            tmp_path, {c: rtsp.url(c) for c in cameras}, url, lease_ttl_s=ttl, heartbeat_s=beat
        )
        a, b = Worker(site, tmp_path / "a.log"), Worker(site, tmp_path / "b.log")
        probe = Probe(url)
        share = len(cameras) // 2
        try:

            def split() -> dict[str, list[str]] | None:
                holders = probe.holders()
                counts = counts_per_worker(holders)
                if len(holders) < len(cameras) or sorted(counts.values()) != [share] * 2:
                    return None
                mine = [c for c, w in holders.items() if a.owns(w)]
                # Both analysing, so the kill is not during a start.
                live = all(probe.analysed_by(c, a if c in mine else b, 0) for c in holders)
                return {"a": mine} if mine and live else None

            moved = wait(split, 300, 1.0)["a"]
            time.sleep(2.0)
            killed = time.time()
            a.kill()
            wait(lambda: all(b.owns(probe.holders().get(c)) for c in moved), 120, 0.05)
            taken = time.time() - killed
            wait(lambda: all(probe.analysed_by(c, b, killed) for c in moved), 120, 0.05)
            return taken, time.time() - killed
        finally:
            a.term()
            b.term()
            probe.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=2, help="even: half on each worker")
    parser.add_argument("--ttl", type=float, default=6.0, help="worker.lease_ttl_s")
    parser.add_argument("--heartbeat", type=float, default=2.0, help="worker.heartbeat_s")
    args = parser.parse_args()
    cameras = [f"cam{i + 1}" for i in range(args.cameras)]
    taken, analysed = [], []
    with RtspServer({c: VIDEO for c in cameras}) as rtsp:
        for run in range(args.runs):
            lease, live = one_run(rtsp, cameras, args.ttl, args.heartbeat)
            taken.append(lease)
            analysed.append(live)
            print(f"run {run + 1}: leased {lease:.2f} s, analysed {live:.2f} s", flush=True)
    print(
        f"failover after kill -9, {len(taken)} runs, {args.cameras} cameras, "
        f"lease_ttl_s {args.ttl:g}, heartbeat_s {args.heartbeat:g}:\n"
        f"  lease taken by the other worker: p50 {statistics.median(taken):.2f} s, "
        f"max {max(taken):.2f} s\n"
        f"  camera analysed on the other worker: p50 {statistics.median(analysed):.2f} s, "
        f"max {max(analysed):.2f} s"
    )


if __name__ == "__main__":
    main()
