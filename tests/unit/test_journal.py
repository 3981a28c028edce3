"""The journal of changes the store could not write (issue 12, finding 1): append and fsync,
replay in order, resume after a failure, a torn last line from a crash, a refusing disk, dead
workers' journals, and replay into a real store that writes each change once however often
it is replayed."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vigil.events.evidence import Evidence
from vigil.events.store.changes import Change, store_change
from vigil.events.store.journal import Journal, JournalBusy, orphaned_journals
from vigil.events.store.models import CameraGapRow, EventRow, TimelineRow
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.events.violation import TimelinePoint, Violation


def test_entries_come_back_in_order_and_a_full_replay_empties_the_file(tmp_path: Path):
    journal = Journal(tmp_path / "j" / "w.jsonl")
    assert not journal.path.exists()  # created at the first append only
    for n in range(5):
        assert journal.append({"n": n, "text": "ünïcode"})
    assert journal.pending == 5
    assert [json.loads(line)["n"] for line in journal.path.read_text().splitlines()] == [
        0,
        1,
        2,
        3,
        4,
    ]
    seen: list[int] = []
    assert journal.replay(lambda e: seen.append(e["n"])) == 5
    assert seen == [0, 1, 2, 3, 4] and journal.pending == 0
    assert journal.path.stat().st_size == 0  # truncated after the full replay
    journal.append({"n": 5})  # the journal goes on after a replay
    assert [e for _, e in journal.entries()] == [{"n": 5}]
    journal.replay(lambda e: None)
    journal.close()
    assert not journal.path.exists()  # nothing waits: nothing left behind


def test_a_failed_replay_resumes_at_the_entry_that_failed(tmp_path: Path):
    journal = Journal(tmp_path / "w.jsonl")
    for n in range(5):
        journal.append({"n": n})
    seen: list[int] = []

    def store_down_at_2(entry: dict) -> None:
        if entry["n"] == 2:
            raise ConnectionError("database down")
        seen.append(entry["n"])

    with pytest.raises(ConnectionError):
        journal.replay(store_down_at_2)
    assert seen == [0, 1] and journal.pending == 3
    journal.append({"n": 5})  # arrives while the store is away: after the others
    journal.replay(lambda e: seen.append(e["n"]))
    assert seen == [0, 1, 2, 3, 4, 5] and journal.pending == 0
    journal.close()


def test_a_torn_last_line_is_cut_off_and_the_rest_replayed(tmp_path: Path, caplog):
    path = tmp_path / "w.jsonl"
    journal = Journal(path)
    journal.append({"n": 0})
    journal.append({"n": 1})
    journal._file.close()  # the process dies: lock released, file kept
    with path.open("ab") as f:
        f.write(b'{"n": 2, "op": "ope')  # an append the crash cut short
    with caplog.at_level(logging.WARNING):
        again = Journal.take_over(path)
    assert again.pending == 2 and "torn" in caplog.text
    assert [e["n"] for _, e in again.entries()] == [0, 1]
    again.append({"n": 3})  # lands on a line of its own, not after the torn bytes
    seen: list[int] = []
    again.replay(lambda e: seen.append(e["n"]))
    assert seen == [0, 1, 3]
    again.close()


def test_an_unreadable_line_in_the_middle_is_skipped(tmp_path: Path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'{"n": 0}\nnot json\n{"n": 2}\n')
    journal = Journal.take_over(path)
    seen: list[int] = []
    journal.replay(lambda e: seen.append(e["n"]))
    assert seen == [0, 2] and journal.corrupt == 1
    journal.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from vigil.events.store.journal import Journal
    journal = Journal(Path(sys.argv[1]))
    n = 0
    while True:
        journal.append({"n": n, "pad": "x" * 200})
        print(n, flush=True)   # entry n is durable
        n += 1
    """
)


def test_a_killed_writer_leaves_every_acknowledged_entry(tmp_path: Path):
    path = tmp_path / "journal" / "dead.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        acknowledged = [int(process.stdout.readline()) for _ in range(200)]
        with pytest.raises(JournalBusy):
            Journal.take_over(path)  # its worker is alive
        assert list(orphaned_journals(path.parent)) == []
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    (journal,) = orphaned_journals(path.parent)  # the lock died with the process
    seen: list[int] = []
    journal.replay(lambda e: seen.append(e["n"]))
    assert seen == list(range(len(seen))) and len(seen) >= acknowledged[-1] + 1
    journal.close()
    assert not path.exists()


FULL_DISK = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    from vigil.events.store.journal import Journal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes past the limit fail with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    journal = Journal(Path(sys.argv[1]))
    accepted = [n for n in range(20) if journal.append({"n": n, "pad": "x" * 90})]
    lost_while_full = journal.lost
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))   # space again
    accepted += [n for n in (100, 101) if journal.append({"n": n})]
    print(json.dumps({"accepted": accepted, "lost": lost_while_full, "pending": journal.pending}))
    """
)


def test_a_full_disk_drops_changes_loudly_and_leaves_no_half_line(tmp_path: Path):
    path = tmp_path / "w.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["lost"] > 0 and "changes lost so far" in result.stderr
    assert 100 in report["accepted"] and report["pending"] == len(report["accepted"])
    journal = Journal.take_over(path)
    seen: list[int] = []
    journal.replay(lambda e: seen.append(e["n"]))
    assert seen == report["accepted"] and journal.corrupt == 0
    journal.close()


def test_an_unwritable_place_counts_drops_and_never_raises(tmp_path: Path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal folder should be")
    journal = Journal(blocker / "journal" / "w.jsonl")
    with caplog.at_level(logging.ERROR):
        assert journal.append({"n": 0}) is False
        assert journal.append({"n": 1}) is False
    assert journal.lost == 2 and journal.pending == 0
    assert "refused a change" in caplog.text
    journal.close()


# --- replay into a real store ---------------------------------------------------------------


def violation(**changes: object) -> Violation:
    fields: dict[str, object] = dict(
        camera="cam-3",
        rule="no_helmet",
        label="head_bare",
        subject="track:7",
        severity="high",
        start_pts=12.5,
        start_wall=1_760_000_000.25,
        end_pts=12.5,
        end_wall=1_760_000_000.25,
        peak_confidence=0.61,
        peak_pts=12.5,
        bbox=(10.0, 20.0, 110.0, 220.0),
        track_id=7,
    )
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def outage_changes() -> list[Change]:
    """What a live writer journals while the store is down: two events and a stream gap (each
    change holds a copy of the violation as it was, as the live writer's queue does)."""
    a, b = violation(), violation(subject="track:8", track_id=8)
    src = "rtsp://cam-3"
    changes = [Change.opened(replace(a), src), Change.opened(replace(b), src)]
    a.end_pts, a.end_wall, a.peak_confidence = 14.0, a.start_wall + 1.5, 0.8
    changes.append(Change.updated(replace(a), src))
    changes.append(Change.stream_gap("cam-3", 1_760_000_001.0, 1_760_000_003.0, "stalled"))
    a.timeline = [TimelinePoint(12.5, 0.61, a.bbox), TimelinePoint(14.0, 0.8, a.bbox)]
    evidence = Evidence(Path("/m/a.jpg"), Path("/m/a.mp4"), "ab" * 32, 10.0, 16.0)
    changes.append(Change.ended(replace(a), evidence, src))
    changes.append(Change.updated(replace(a), src))  # stale: after the end, ignored
    return changes


def counts(store: EventStore) -> tuple[int, int, int]:
    with store.engine.connect() as conn:
        return tuple(
            conn.scalar(select(func.count()).select_from(table))
            for table in (EventRow, TimelineRow, CameraGapRow)
        )


def test_replaying_twice_stores_each_change_once(url: str, tmp_path: Path):
    journal = Journal(tmp_path / "w.jsonl")
    changes = outage_changes()
    for change in changes:
        journal.append(change.to_json())
    shutil.copy(journal.path, tmp_path / "copy.jsonl")  # as if a crash came before truncation
    with EventStore(url) as store:
        written = []
        journal.replay(lambda e: written.append(store_change(store, Change.from_json(e))))
        assert written == [True, True, True, True, True, False]
        stored = counts(store)
        assert stored == (2, 2, 1)
        again = Journal.take_over(tmp_path / "copy.jsonl")
        rewritten = []
        again.replay(lambda e: rewritten.append(store_change(store, Change.from_json(e))))
        assert rewritten == [False] * len(changes)
        assert counts(store) == stored
        a = store.get_event(changes[0].violation.id)
        assert a.state is LifecycleState.ENDED and a.peak_confidence == 0.8
        assert a.clip_path == Path("/m/a.mp4") and a.clip_start_pts == 10.0
        assert [p.pts for p in store.timeline(a.id)] == [12.5, 14.0]
        b = store.get_event(changes[1].violation.id)
        assert b.state is LifecycleState.OPEN and b.source == "rtsp://cam-3"
        again.close()
    journal.close()


def test_an_end_whose_open_was_lost_still_stores_the_event(url: str):
    v = violation()
    with EventStore(url) as store:
        assert store_change(store, Change.ended(v, None, "file.mp4"))
        event = store.get_event(v.id)
        assert event.state is LifecycleState.ENDED and event.source == "file.mp4"
