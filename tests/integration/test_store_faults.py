"""`vigil run` through store faults (issue 12, findings 1 and 5), on real footage with real
models: a PostgreSQL server stopped mid-run, and a worker killed with SIGKILL mid-event.

- Outage: workers_no_hardhat_slideshow_01.mp4 looped as a camera (even slides show bare
  heads: a no_helmet event every few seconds) against a throwaway PostgreSQL (tests/pgserver.py)
  that is stopped for 16 s as soon as the first event is stored, then started again. Every
  event the run raised must be in the database once, ended, with its clip and snapshot.
- Kill: fall_01.mp4 looped (a fall opens ~4 s in and lasts to the end of the file), the worker
  SIGKILLed while the fall is open and its clip is being recorded; a new runner's start ends
  the event with the clip salvaged from the recording, and leaves no temporary file.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
import yaml
from livehelpers import wait_for
from pgserver import ThrowawayPostgres, postgres_bin
from sqlalchemy import create_engine, text
from videocheck import is_faststart, probe

from vigil.config import SiteConfig
from vigil.events.evidence import sha256_file
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.run import SiteRunner

pytestmark = pytest.mark.slow

OUTAGE_S = 16.0
MAX_OUTAGE_S = 40.0
AFTER_OUTAGE_S = 20.0


def journaled_an_open(data: Path) -> bool:
    """Whether the worker's journal holds an event that opened while the database was down."""
    return any('"op":"opened"' in p.read_text() for p in (data / "journal").glob("*.jsonl"))


def test_every_event_raised_is_stored_once_through_a_database_outage(videos: Path, tmp_path: Path):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    data = tmp_path / "data"
    with ThrowawayPostgres() as pg:
        config = SiteConfig.model_validate(
            {
                "cameras": [
                    {
                        "id": "yard",
                        "source": str(videos / "workers_no_hardhat_slideshow_01.mp4"),
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
        thread = threading.Thread(target=lambda: outcome.update(summary=runner.run(stop)))
        probe_db = create_engine(pg.url, pool_pre_ping=True)

        def stored() -> int:
            with probe_db.connect() as conn:
                return conn.execute(text("select count(*) from events")).scalar_one()

        thread.start()
        try:
            wait_for(stored, 60, "a first event in the database", step=0.2)
            probe_db.dispose()
            pg.stop()  # the server goes down while that event is open
            time.sleep(OUTAGE_S)  # events open, update and end meanwhile
            # On a busy machine the analysis may lag: stay down until an event has opened in
            # the outage too (bounded), so both an open and an end wait in the journal.
            deadline = time.monotonic() + MAX_OUTAGE_S - OUTAGE_S
            while not journaled_an_open(data) and time.monotonic() < deadline:
                time.sleep(0.2)
            pg.start()
            time.sleep(AFTER_OUTAGE_S)
        finally:
            stop.set()
            thread.join(120)
        assert not thread.is_alive(), "vigil run did not stop"
        summary = outcome["summary"]
        with EventStore(pg.url, auto_migrate=False) as store:
            events = store.list_events(camera="yard")
        probe_db.dispose()

    print(
        f"\nevents raised {summary.events_raised}, stored {len(events)}; "
        f"{summary.changes_journaled} changes went through the journal"
    )
    assert summary.changes_journaled > 0, "the outage hit no event change: the test saw nothing"
    assert (summary.changes_pending, summary.changes_lost) == (0, 0)
    assert len(events) == summary.events_raised >= 2
    assert len({e.id for e in events}) == len(events)
    assert all(e.state is LifecycleState.ENDED for e in events)
    for event in events:
        assert event.snapshot_path is not None and event.snapshot_path.exists()
        assert event.clip_path is not None and sha256_file(event.clip_path) == event.clip_sha256
    on_disk = {p.stem for p in (data / "media").rglob("*.mp4")}
    assert on_disk == {e.id for e in events}  # no evidence without its row
    assert not list((data / "journal").glob("*.jsonl"))


def test_a_killed_workers_open_event_is_ended_with_its_salvaged_clip(videos: Path, tmp_path: Path):
    data = tmp_path / "data"
    site = {
        "cameras": [
            {
                "id": "replay",
                "source": str(videos / "fall_01.mp4"),
                "loop": True,
                "fps": 2,
                "rules": {"fall": {}},
            }
        ],
        "evidence": {"pre_seconds": 2, "post_seconds": 2},
        "storage": {"data_dir": str(data)},
    }
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site))
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )

    def open_event() -> str | None:
        try:
            with sqlite3.connect(data / "vigil.db") as db:
                row = db.execute("select id from events where state = 'open'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def recording_of(event_id: str) -> Path | None:
        parts = list((data / "media" / "replay").glob(f"*/.{event_id}.mp4.*.rec.part"))
        return parts[0] if parts and parts[0].stat().st_size > 100_000 else None

    try:
        event_id = wait_for(open_event, 120, "a fall event to open", step=0.25)
        part = wait_for(lambda: recording_of(event_id), 30, "its clip recording", step=0.1)
        time.sleep(1.0)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert part.exists() and open_event() == event_id  # what the kill left

    stop = threading.Event()
    stop.set()  # start, recover, and stop at once
    SiteRunner(SiteConfig.model_validate(site)).run(stop)

    with EventStore.for_data_dir(data) as store:
        event = store.get_event(event_id)
    print(f"\nevidence note: {event.evidence_note}")
    assert event.state is LifecycleState.ENDED
    assert "salvaged" in event.evidence_note
    assert event.snapshot_path is not None and event.snapshot_path.read_bytes()[:2] == b"\xff\xd8"
    codec, seconds, frames, _ = probe(event.clip_path)  # decodes whole
    assert codec == "h264" and frames > 24 and seconds > 1.0 and is_faststart(event.clip_path)
    assert sha256_file(event.clip_path) == event.clip_sha256
    with av.open(str(event.clip_path)) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == frames
    assert event.clip_start_pts is not None and event.clip_start_pts <= event.start_pts
    assert not [p for p in (data / "media").rglob("*") if p.name.endswith(".part")]
