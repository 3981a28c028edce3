"""What durability costs, and a database outage played through `vigil run` (issue 12).

    .venv/bin/python benchmarks/store_durability.py journal        # append (fsync) and replay
    .venv/bin/python benchmarks/store_durability.py clip           # finishing a recoverable clip
    .venv/bin/python benchmarks/store_durability.py outage --down 16 --after 20

- ``journal``: latency of one fsynced journal append (what each event change costs while the
  store is down), and how fast a journal of N changes replays into SQLite and PostgreSQL.
- ``clip``: time to finish a live clip of ``--seconds`` of fall_01.mp4 (looped) recorded as a
  recoverable fragmented MP4 and remuxed into the faststart file, against the plain faststart
  recording it replaced; and the time to salvage the same recording cut short.
- ``outage``: SiteRunner on workers_no_hardhat_slideshow_01.mp4 (looped, no_helmet) against a
  throwaway PostgreSQL (tests/pgserver.py) stopped ``--down`` seconds once the first event is
  stored: events raised vs stored, changes journaled, and the time from the server's restart
  to an empty journal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
VIDEOS = ROOT.parent / "shared" / "data" / "videos"

from pgserver import ThrowawayPostgres  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from vigil.events.store.changes import Change, store_change  # noqa: E402
from vigil.events.store.journal import Journal  # noqa: E402
from vigil.events.store.store import EventStore  # noqa: E402
from vigil.events.violation import TimelinePoint, Violation  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def violation(i: int) -> Violation:
    return Violation(
        camera="cam",
        rule="no_helmet",
        label="head_bare",
        subject=f"track:{i}",
        severity="high",
        start_pts=float(i),
        start_wall=1.76e9 + i,
        end_pts=i + 3.0,
        end_wall=1.76e9 + i + 3,
        peak_confidence=0.7,
        peak_pts=float(i),
        bbox=(1.0, 2.0, 3.0, 4.0),
        track_id=i,
        timeline=[TimelinePoint(i + k / 2, 0.7, (1.0, 2.0, 3.0, 4.0)) for k in range(6)],
    )


def bench_journal(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vigil-journal-"))
    changes = []
    for i in range(count // 3):
        v = violation(i)
        changes += [Change.opened(v, "cam"), Change.updated(replace(v), "cam")]
        changes.append(Change.ended(replace(v, end_wall=v.end_wall + 1), None, "cam"))
    journal = Journal(folder / "bench.jsonl")
    latencies = []
    for change in changes:
        began = time.perf_counter()
        journal.append(change.to_json())
        latencies.append(time.perf_counter() - began)
    latencies.sort()
    print(
        f"append+fsync: median {statistics.median(latencies) * 1e3:.2f} ms, "
        f"p95 {latencies[int(0.95 * len(latencies))] * 1e3:.2f} ms "
        f"({len(changes)} changes, {journal.path.stat().st_size / 1024:.0f} KiB)"
    )
    for name, url in (("sqlite", f"sqlite:///{folder / 'vigil.db'}"), ("postgresql", PG_URL)):
        copy = folder / f"{name}.jsonl"
        copy.write_bytes(journal.path.read_bytes())
        replayed = Journal.take_over(copy)
        store = EventStore(url)
        if name == "postgresql":
            with store.engine.begin() as conn:
                conn.execute(text("delete from events where camera = 'cam'"))
        began = time.perf_counter()
        done = replayed.replay(lambda e, s=store: store_change(s, Change.from_json(e)))
        seconds = time.perf_counter() - began
        print(f"replay into {name}: {done} changes in {seconds:.2f} s ({done / seconds:.0f}/s)")
        if name == "postgresql":
            with store.engine.begin() as conn:
                conn.execute(text("delete from events where camera = 'cam'"))
        replayed.close()
        store.dispose()
    journal.replay(lambda e: None)
    journal.close()


def bench_clip(seconds: float) -> None:
    from vigil.events.evidence import salvage_clip
    from vigil.events.recording import RemuxClip
    from vigil.streams.reader import CameraReader, ReaderOptions
    from vigil.streams.sources import parse_source

    reader = CameraReader(
        "cam",
        parse_source(str(VIDEOS / "fall_01.mp4"), loop=True),
        ReaderOptions(ring_seconds=seconds + 30, analysis_fps=2),
    )
    reader.start()
    print(f"buffering {seconds:g} s of fall_01.mp4 (looped, real time)…")
    while reader.ring.newest_t < seconds:
        reader.take()
        time.sleep(0.05)
    reader.stop()
    packets = [p for _, p in reader.ring.since(-1) if p.t < seconds]
    folder = Path(tempfile.mkdtemp(prefix="vigil-clip-"))
    for recoverable in (False, True):
        clip = RemuxClip(
            folder / f"clip-{recoverable}.mp4", packets[0].params, recoverable=recoverable
        )
        began = time.perf_counter()
        for p in packets:
            clip.write(p)
        written = time.perf_counter() - began
        began = time.perf_counter()
        info = clip.finish()
        finished = time.perf_counter() - began
        label = "recoverable (fragmented, then remuxed)" if recoverable else "plain faststart"
        print(
            f"{label}: write {written * 1e3:.0f} ms, finish {finished * 1e3:.0f} ms "
            f"for {info.frames} frames, {info.path.stat().st_size / 1e6:.1f} MB"
        )
    cut = RemuxClip(folder / "cut.mp4", packets[0].params)
    for p in packets:
        cut.write(p)
    began = time.perf_counter()
    info = salvage_clip(cut._tmp, folder / "salvaged.mp4")
    print(
        f"salvage of the unfinished recording: {(time.perf_counter() - began) * 1e3:.0f} ms, "
        f"{info.frames} of {len(packets)} frames"
    )
    cut.abort()


def bench_outage(down: float, after: float) -> None:
    from vigil.config import SiteConfig
    from vigil.run import SiteRunner

    data = Path(tempfile.mkdtemp(prefix="vigil-outage-"))
    with ThrowawayPostgres() as pg:
        config = SiteConfig.model_validate(
            {
                "cameras": [
                    {
                        "id": "yard",
                        "source": str(VIDEOS / "workers_no_hardhat_slideshow_01.mp4"),
                        "loop": True,
                        "fps": 2,
                        "rules": {"no_helmet": {}},
                    }
                ],
                "evidence": {"pre_seconds": 1, "post_seconds": 1},
                "storage": {"data_dir": str(data), "database_url": pg.url},
            }
        )
        runner = SiteRunner(config)
        stop, outcome = threading.Event(), {}
        thread = threading.Thread(target=lambda: outcome.update(s=runner.run(stop)))
        thread.start()
        probe = create_engine(pg.url, pool_pre_ping=True)

        def stored() -> int:
            with probe.connect() as conn:
                return conn.execute(text("select count(*) from events")).scalar_one()

        while stored() == 0:
            time.sleep(0.2)
        probe.dispose()
        pg.stop()
        print(f"server stopped for {down:g} s after the first event was stored")
        time.sleep(down)
        pg.start()
        restarted = time.monotonic()
        drained = None
        while time.monotonic() - restarted < after:
            pending = sum(h.pending_changes for h in _health(runner))
            if drained is None and pending == 0:
                drained = time.monotonic() - restarted
            time.sleep(0.05)
        stop.set()
        thread.join(120)
        summary = outcome["s"]
        events = stored()
        probe.dispose()
    print(
        f"events raised {summary.events_raised}, stored {events}; "
        f"{summary.changes_journaled} changes journaled, {summary.changes_lost} lost; "
        f"journal empty {drained:.2f} s after the server was back"
    )


def _health(runner) -> list:
    return [c.reader.health.snapshot() for c in runner._cameras]


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("journal").add_argument("--changes", type=int, default=3000)
    sub.add_parser("clip").add_argument("--seconds", type=float, default=60.0)
    outage = sub.add_parser("outage")
    outage.add_argument("--down", type=float, default=16.0)
    outage.add_argument("--after", type=float, default=20.0)
    args = parser.parse_args()
    if args.what == "journal":
        bench_journal(args.changes)
    elif args.what == "clip":
        bench_clip(args.seconds)
    else:
        bench_outage(args.down, args.after)


if __name__ == "__main__":
    main()
