"""The live evidence writer while its store is away (issue 12, finding 1), without models: the
changes wait in the journal, in order, the camera's health says how many, and they are stored
once the store answers again. The store is real (SQLite); only its outage is staged, by a
wrapper whose transactions fail as a stopped server's do."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy.exc import OperationalError

from vigil.events.live import LiveEvidenceWriter
from vigil.events.store.journal import Journal
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.events.violation import LifecycleEvent, Phase, Violation
from vigil.streams.health import CameraHealth
from vigil.streams.ring import RingBuffer


class OutageStore:
    """A real EventStore whose writes fail like a stopped database's while ``down`` is set."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.down = threading.Event()
        self.attempts = 0

    @contextmanager
    def unit_of_work(self):
        self.attempts += 1
        if self.down.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        with self.store.unit_of_work() as writer:
            yield writer

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def violation(start: float) -> Violation:
    return Violation(
        camera="cam",
        rule="no_helmet",
        label="head_bare",
        subject="track:1",
        severity="high",
        start_pts=start,
        start_wall=1_760_000_000.0 + start,
        end_pts=start,
        end_wall=1_760_000_000.0 + start,
        peak_confidence=0.7,
        peak_pts=start,
        bbox=(10.0, 10.0, 100.0, 100.0),
        track_id=1,
        peak_image=np.zeros((64, 64, 3), np.uint8),
    )


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def start_writer(store, tmp_path: Path, journal: Journal | None = None):
    health = CameraHealth("cam")
    writer = LiveEvidenceWriter(
        store, tmp_path, journal=journal, update_interval=0.0, retry_initial=0.05, retry_max=0.2
    )
    writer.add_camera(
        "cam",
        RingBuffer(10, 1 << 20),
        source="rtsp://cam",
        pre_seconds=1,
        post_seconds=0,
        health=health,
    )
    writer.camera_done("cam")  # no frames will come: ended events close at once
    writer.start()
    return writer, health


def raise_event(writer: LiveEvidenceWriter, v: Violation) -> None:
    writer.submit("cam", [LifecycleEvent(Phase.OPENED, v)])
    v.end_pts, v.end_wall, v.peak_confidence = v.start_pts + 2, v.end_wall + 2, 0.9
    writer.submit("cam", [LifecycleEvent(Phase.UPDATED, v)])
    v.ended = True
    writer.submit("cam", [LifecycleEvent(Phase.ENDED, v)])


def test_changes_wait_in_the_journal_and_are_stored_when_the_store_is_back(tmp_path: Path):
    store = OutageStore(EventStore.for_data_dir(tmp_path))
    writer, health = start_writer(store, tmp_path)
    before = violation(1.0)
    raise_event(writer, before)
    wait_until(lambda: writer.written_events == 1)
    assert store.get_event(before.id).state is LifecycleState.ENDED
    assert writer.journaled_changes == 0 and not list((tmp_path / "journal").glob("*"))

    store.down.set()
    during = violation(5.0)
    raise_event(writer, during)
    writer.gap("cam", 1_760_000_010.0, 1_760_000_012.0, "stalled")
    wait_until(lambda: writer.pending_changes == 4)  # opened, updated, ended, gap
    assert store.get_event(during.id) is None
    assert health.snapshot().pending_changes == 4
    assert writer.journal.path.exists()
    attempts = store.attempts
    time.sleep(0.5)
    assert store.attempts > attempts  # it keeps trying, backing off

    after = violation(9.0)  # raised while the journal still waits: stored after it, in order
    writer.submit("cam", [LifecycleEvent(Phase.OPENED, after)])
    wait_until(lambda: writer.pending_changes == 5)
    store.down.clear()
    wait_until(lambda: writer.pending_changes == 0)
    assert health.snapshot().pending_changes == 0
    event = store.get_event(during.id)
    assert event.state is LifecycleState.ENDED and event.peak_confidence == 0.9
    assert event.snapshot_path.exists()
    assert store.get_event(after.id).state is LifecycleState.OPEN
    assert len(store.gaps("cam")) == 1
    writer.close(timeout=30)
    assert writer.raised_events == 3 and len(store.list_events()) == 3
    assert not writer.journal.path.exists()  # replayed whole: removed on close
    store.dispose()


def test_what_still_waits_at_close_stays_in_the_journal_for_the_next_run(tmp_path: Path):
    store = OutageStore(EventStore.for_data_dir(tmp_path))
    store.down.set()
    writer, _ = start_writer(store, tmp_path)
    writer.close_retry_seconds = 0.3
    v = violation(1.0)
    raise_event(writer, v)
    writer.close(timeout=30)
    assert writer.pending_changes == 3
    (left,) = (tmp_path / "journal").glob("*.jsonl")
    store.down.clear()
    from vigil.events.recovery import replay_orphaned_journals

    assert replay_orphaned_journals(store.store, tmp_path / "journal") == (3, 0)
    assert store.get_event(v.id).state is LifecycleState.ENDED
    assert not left.exists()
    store.dispose()


def test_a_journal_that_cannot_be_written_loses_changes_loudly_and_the_writer_goes_on(
    tmp_path: Path, caplog
):
    store = OutageStore(EventStore.for_data_dir(tmp_path))
    store.down.set()
    blocker = tmp_path / "full"
    blocker.write_text("a file where the journal folder should be")
    writer, health = start_writer(store, tmp_path, journal=Journal(blocker / "j" / "w.jsonl"))
    raise_event(writer, violation(1.0))
    wait_until(lambda: writer.lost_changes == 3)
    assert health.snapshot().lost_changes == 3
    assert "refused a change" in caplog.text
    store.down.clear()  # the next event is stored: nothing waits before it
    later = violation(5.0)
    raise_event(writer, later)
    wait_until(lambda: writer.written_events == 2)
    writer.close(timeout=30)
    assert store.get_event(later.id).state is LifecycleState.ENDED
    store.dispose()
