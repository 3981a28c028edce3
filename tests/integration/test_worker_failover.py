"""Several `vigil run` workers sharing a site's cameras through leases in PostgreSQL (DESIGN.md,
Past one machine; issue 19), with real workers (subprocesses), real RTSP cameras and real
models. Each test counts the events the workers raised (their logs) against those stored.

The cameras (four; two in the last two tests, to halve the load) all serve fall_01.mp4 looped:
a worker falls at ~3.6 s and lies to the end (11.3 s), so on every camera a fall event is open
about two thirds of the time.

- kill -9 a worker while its cameras have open falls: its cameras move to the other worker
  (lease TTL 6 s), the open falls are ended with their clips salvaged, nothing stored twice.
- SIGTERM: the worker ends its falls, finishes their clips and releases its leases; with a
  lease TTL of 60 s, only that release lets the other worker take the cameras in the 30 s
  waited.
- A PostgreSQL restart (down 15 s) during a two-worker run: no camera changes hands (no two
  workers ever run one), and every event raised is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from livehelpers import RtspServer, rtsp_server_available, wait_for
from pgserver import ThrowawayPostgres, postgres_bin
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from workerhelpers import Probe, Worker, counts_per_worker, write_site

from vigil.events.store.records import EventRecord, LifecycleState
from vigil.events.store.store import EventStore

pytestmark = [pytest.mark.slow, pytest.mark.needs_rtsp, pytest.mark.needs_pg]

CAMERAS = ["cam1", "cam2", "cam3", "cam4"]
START_S = 240.0  # two workers loading models and connecting four cameras on a busy CPU
FALL_S = 180.0  # a fall opens every 11.3 s of stream, when the CPU keeps up with 2 frames/s


@pytest.fixture(scope="module", autouse=True)
def _needs_rtsp_server() -> None:
    reason = rtsp_server_available()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards."""
    schema = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(str(pg_admin.url.render_as_string(hide_password=False)))
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with pg_admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def cameras(videos: Path) -> Iterator[dict[str, str]]:
    with RtspServer({c: videos / "fall_01.mp4" for c in CAMERAS}) as rtsp:
        yield {c: rtsp.url(c) for c in CAMERAS}


def vigil_status(site: Path, *args: str) -> str:
    status = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "status", "--config", str(site), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    return status.stdout


def balanced(probe: Probe, workers: list[Worker], cameras: int = 4) -> dict[str, list[str]] | None:
    """Worker id → its cameras, once every camera is held and each worker holds its half."""
    holders = probe.holders()
    counts = counts_per_worker(holders)
    if len(holders) != cameras or sorted(counts.values()) != [cameras // 2] * len(workers):
        return None
    if not all(any(w.owns(id) for id in counts) for w in workers):
        return None
    owner = {id: w for w in workers for id in counts if w.owns(id)}
    if not all(probe.analysed_by(c, owner[w], 0) for c, w in holders.items()):
        return None  # taken, but not yet running there
    return {w: sorted(c for c, h in holders.items() if h == w) for w in counts}


def check_counts(url: str, workers: list[Worker]) -> list[EventRecord]:
    """Every event a worker raised is stored once and ended; returns them."""
    raised: dict[str, str] = {}
    for worker in workers:
        raised.update(worker.opened())
    with EventStore(url, auto_migrate=False) as store:
        events = store.list_events()
    print(f"\nevents raised {len(raised)}, stored {len(events)}")
    assert sorted(e.id for e in events) == sorted(raised)
    assert all(e.state is LifecycleState.ENDED for e in events)
    for camera in CAMERAS:  # one fall at a time per camera: two events overlapping = a duplicate
        spans = sorted((e.start_wall, e.end_wall) for e in events if e.camera == camera)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start + 0.5, f"camera {camera}: two events overlap"
    return events


def test_a_killed_workers_cameras_move_with_their_open_violations_ended(
    cameras: dict[str, str], pg_url: str, tmp_path: Path
):
    site = write_site(tmp_path, cameras, pg_url, lease_ttl_s=6, heartbeat_s=2)
    a, b = Worker(site, tmp_path / "a.log"), Worker(site, tmp_path / "b.log")
    probe = Probe(pg_url)
    try:
        held = wait_for(lambda: balanced(probe, [a, b]), START_S, "two cameras on each worker", 1)
        victim_id = next(w for w in held if a.owns(w))
        moved = held[victim_id]
        # Falls open on the victim's cameras: on each of them if that comes within 60 s (the
        # loops drift), else on one; killed at once (an event stays open in the database for
        # its post-roll after it ends, so none of those seen open ends before the kill).
        wait_for(
            lambda: probe.open_events(moved), FALL_S, "a fall open on the victim's cameras", 0.2
        )
        deadline = time.monotonic() + 60
        while len(set(probe.open_events(moved))) < len(moved) and time.monotonic() < deadline:
            time.sleep(0.2)
        data = tmp_path / "data"
        open_at_kill = set(
            wait_for(
                lambda: probe.open_events(moved, media_in=data),
                FALL_S,
                "a fall open, its snapshot written, at the kill",
                0.05,
            )
        )
        killed_at = time.time()
        a.kill()
        wait_for(
            lambda: all(probe.analysed_by(c, b, killed_at) for c in moved),
            60,
            "the victim's cameras analysed on the other worker",
            0.1,
        )
        print(f"\nfailover: {time.time() - killed_at:.1f} s; open at the kill: {len(open_at_kill)}")
        assert set(probe.holders()) == set(CAMERAS)
        assert all(b.owns(w) for w in probe.holders().values())
        rows = {r["camera"]: r for r in map(json.loads, vigil_status(site, "--json").splitlines())}
        assert sorted(rows) == CAMERAS and all(b.owns(r["lease_worker"]) for r in rows.values())
        assert "Workers" in vigil_status(site)
        time.sleep(3)
    finally:
        a.term()
        assert b.term() == 0
        probe.dispose()
    events = {e.id: e for e in check_counts(pg_url, [a, b])}
    assert open_at_kill
    for id in open_at_kill:  # ended by the worker that took the camera, with their clips
        event = events[id]
        assert "ended at start-up" in (event.evidence_note or ""), event.evidence_note
        assert event.clip_path is not None and event.clip_path.exists(), event.evidence_note
    assert [sorted(t) for t in b.takes()][-1] == sorted(moved)
    assert not [p for p in (tmp_path / "data" / "media").rglob("*") if p.name.endswith(".part")]


def test_sigterm_hands_the_cameras_over_at_once(
    cameras: dict[str, str], pg_url: str, tmp_path: Path
):
    two = {c: cameras[c] for c in CAMERAS[:2]}
    site = write_site(tmp_path, two, pg_url, lease_ttl_s=60, heartbeat_s=2)
    a, b = Worker(site, tmp_path / "a.log"), Worker(site, tmp_path / "b.log")
    probe = Probe(pg_url)
    try:
        held = wait_for(lambda: balanced(probe, [a, b], 2), START_S, "a camera on each worker", 1)
        moved = held[next(w for w in held if a.owns(w))]
        wait_for(
            lambda: probe.open_events(moved), FALL_S, "a fall open on the stopping camera", 0.2
        )
        stopped_at = time.time()
        assert a.term() == 0
        # A lease lasts 60 s: only its release lets the other worker take it within 30 s.
        wait_for(
            lambda: all(probe.analysed_by(c, b, stopped_at) for c in moved),
            30,
            "the stopped worker's cameras analysed on the other worker",
            0.1,
        )
        print(f"\nhandover after SIGTERM: {time.time() - stopped_at:.1f} s")
    finally:
        a.term()
        assert b.term() == 0
        probe.dispose()
    events = check_counts(pg_url, [a, b])
    # Ended by the worker that ran them, not by the next one's recovery.
    assert not [e for e in events if "ended at start-up" in (e.evidence_note or "")]
    assert all(e.clip_path is not None for e in events)


def test_a_database_restart_moves_no_camera_and_loses_no_event(
    cameras: dict[str, str], tmp_path: Path
):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    with ThrowawayPostgres() as pg:
        two = {c: cameras[c] for c in CAMERAS[:2]}
        site = write_site(tmp_path, two, pg.url, lease_ttl_s=6, heartbeat_s=2)
        a, b = Worker(site, tmp_path / "a.log"), Worker(site, tmp_path / "b.log")
        probe = Probe(pg.url)
        try:
            held = wait_for(lambda: balanced(probe, [a, b], 2), START_S, "a camera each", 1)
            marks = [len(w.text()) for w in (a, b)]
            wait_for(lambda: probe.open_events(CAMERAS), FALL_S, "a fall open", 0.2)
            probe.dispose()
            pg.stop()
            time.sleep(15)  # falls open, update and end meanwhile: into the journals
            pg.start()
            after = time.time()
            wait_for(
                lambda: all(
                    probe.analysed_by(c, w, after)
                    for w in (a, b)
                    for c in held[next(id for id in held if w.owns(id))]
                ),
                60,
                "each camera analysed by its worker again",
                0.5,
            )
            expected = {c: w for w, cs in held.items() for c in cs}
            wait_for(lambda: probe.holders() == expected, 30, "the leases renewed by their holders")
            time.sleep(10)  # the journals are replayed
            during = [w.text()[mark:] for w, mark in zip((a, b), marks, strict=True)]
        finally:
            assert a.term() == 0
            assert b.term() == 0
            probe.dispose()
        journaled = [w.text().count("event changes go to the journal") for w in (a, b)]
        print(f"\njournal entered by the workers: {journaled}")
        assert sum(journaled) > 0, "the outage hit no event change: the test saw nothing"
        # From the balance to the stop, no worker took or gave up a camera.
        for later in during:
            assert "lease: took" not in later and "taken by another worker" not in later
            assert "lease: handing over" not in later
        check_counts(pg.url, [a, b])
        assert not list((tmp_path / "data" / "journal").glob("*.jsonl"))
