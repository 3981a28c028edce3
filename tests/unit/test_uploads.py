"""The media upload queue with a fake object store: order, retries with backoff, drops, and
appends that never wait on a slow upload."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from vigil.events.objectstore import ObjectInfo, ObjectStoreSettings, StoreUnavailable
from vigil.events.retention import DiskFloor, enforce_retention
from vigil.events.segments import RecordSettings
from vigil.events.store import EventStore
from vigil.events.store.drops import drop_counts
from vigil.events.store.journal import Journal
from vigil.events.store.recordings import RecordingIndex, SegmentRecord
from vigil.events.uploads import MediaUploader
from vigil.streams.backoff import Backoff


class FakeStore:
    """Fails the first ``fail`` puts, then keeps every object in a dict."""

    def __init__(self, fail: int = 0) -> None:
        self.settings = ObjectStoreSettings("s3://bucket/p", read_timeout=1.0)
        self.fail = fail
        self.objects: dict[str, bytes] = {}
        self.attempts: list[str] = []

    def key_for(self, relative: str) -> str:
        return f"p/{relative}"

    def describe(self) -> str:
        return "fake"

    def ensure_bucket(self) -> None:
        pass

    def put_file(self, path: Path, key: str) -> ObjectInfo:
        data = path.read_bytes()
        self.attempts.append(path.name)
        if self.fail:
            self.fail -= 1
            raise StoreUnavailable("down")
        self.objects[key] = data
        return ObjectInfo(len(data), "etag")

    def head(self, key: str) -> ObjectInfo | None:
        data = self.objects.get(key)
        return None if data is None else ObjectInfo(len(data), "etag")

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def staged(data: Path, name: str) -> Path:
    path = data / "media" / "cam" / "2026-01-01" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(name.encode())
    return path


def uploader(store: FakeStore, data: Path) -> MediaUploader:
    backoff = Backoff(initial=0.01, cap=0.02, jitter=0.0)
    return MediaUploader(store, data, backoff=backoff, sweep_on_start=False)  # type: ignore[arg-type]


def wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_failed_uploads_are_retried_in_order_until_they_go(tmp_path: Path) -> None:
    store = FakeStore(fail=3)
    up = uploader(store, tmp_path)
    files = [staged(tmp_path, f"{i}.jpg") for i in range(4)]
    for path in files:
        assert up.enqueue(path)
    up.start()
    wait(lambda: up.uploaded == 4)
    up.close(1)
    # The head of the line is retried (three failures) before anything behind it goes.
    assert store.attempts == ["0.jpg"] * 4 + ["1.jpg", "2.jpg", "3.jpg"]
    assert up.failures == 3 and up.dropped == 0 and up.pending == 0
    assert list(store.objects) == [f"p/media/cam/2026-01-01/{i}.jpg" for i in range(4)]
    assert not any(p.exists() for p in files)  # verified, then the staged copy goes


def test_a_file_gone_before_its_upload_is_dropped_and_counted_and_the_rest_go(
    tmp_path: Path,
) -> None:
    store = FakeStore()
    up = uploader(store, tmp_path)
    gone, kept = staged(tmp_path, "gone.jpg"), staged(tmp_path, "kept.jpg")
    up.enqueue(gone)
    up.enqueue(kept)
    gone.unlink()
    up.start()
    wait(lambda: up.pending == 0 and up.uploaded == 1)
    up.close(1)
    assert up.dropped == 1 and list(store.objects) == ["p/media/cam/2026-01-01/kept.jpg"]


def test_local_copies_stay_while_local_retention_keeps_them(tmp_path: Path) -> None:
    store = FakeStore()
    up = MediaUploader(store, tmp_path, keep_local_seconds=3600, sweep_on_start=False)  # type: ignore[arg-type]
    path = staged(tmp_path, "a.mp4")
    up.enqueue(path)
    up.start()
    wait(lambda: up.uploaded == 1)
    up.close(1)
    assert path.exists() and store.objects


def test_appends_never_wait_for_a_slow_upload(tmp_path: Path) -> None:
    """The queue's journal is not held while an upload runs (Journal.drain): an append made
    while an upload hangs returns before the upload does."""
    store = FakeStore()
    entered, release = threading.Event(), threading.Event()
    put = store.put_file

    def hanging_put(path: Path, key: str) -> ObjectInfo:
        entered.set()
        release.wait(30)
        return put(path, key)

    store.put_file = hanging_put  # type: ignore[method-assign]
    up = uploader(store, tmp_path)
    up.enqueue(staged(tmp_path, "slow.mp4"))
    up.start()
    assert entered.wait(10)  # the upload hangs from here until released
    appender = threading.Thread(target=up.enqueue, args=(staged(tmp_path, "next.jpg"),))
    appender.start()
    appender.join(10)
    returned_while_uploading = not appender.is_alive() and not store.objects
    release.set()
    wait(lambda: up.uploaded == 2)
    up.close(1)
    assert returned_while_uploading


def test_drain_takes_entries_appended_meanwhile_and_empties_the_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "q.jsonl")
    journal.append({"n": 0})
    seen = []

    def apply(entry: dict) -> None:
        seen.append(entry["n"])
        if entry["n"] < 3:  # another thread appends while this one is being applied
            t = threading.Thread(target=journal.append, args=({"n": entry["n"] + 1},))
            t.start()
            t.join()

    assert journal.drain(apply) == 4
    assert seen == [0, 1, 2, 3] and journal.pending == 0
    assert journal.path.stat().st_size == 0
    journal.close()


def test_under_the_floor_uploaded_copies_go_first_then_the_oldest_staged_segment(
    tmp_path: Path,
) -> None:
    """Disk full with an object store: local copies the store holds are removed first (nothing
    lost), then the oldest segment still only on this disk (a counted drop); events' media
    are never deleted by retention."""
    store = FakeStore()
    events = EventStore(f"sqlite:///{tmp_path / 'v.db'}")
    index = RecordingIndex(events)
    data = tmp_path / "data"
    t0 = 1_800_000_000.0
    segments = []
    for i in range(4):
        relative = f"recordings/cam/2027-01-15/{i}.mp4"
        (data / relative).parent.mkdir(parents=True, exist_ok=True)
        (data / relative).write_bytes(bytes(1000))
        record = SegmentRecord(0, "cam", t0 + 60 * i, t0 + 60 * i + 60, relative, 1000, 9, (0,))
        segments.append(index.add_segment(record))
    for segment in segments[:2]:  # uploaded, kept locally by keep_local_hours
        store.objects[store.key_for(segment.path)] = bytes(1000)
    clip = data / "media" / "cam" / "2027-01-15" / "ab.mp4"  # an event's clip, not uploaded yet
    clip.parent.mkdir(parents=True)
    clip.write_bytes(bytes(1000))
    total = 10_000

    def usage(_path: Path) -> tuple[int, int]:
        used = sum(p.stat().st_size for p in data.rglob("*.mp4"))
        return total - used, total

    floor = DiskFloor(min_free_gb=7.5e-6)  # 7500 bytes: 5000 free now, three files must go
    policy = {"cam": RecordSettings(retain_days=30, keep_event_days=0)}
    report = enforce_retention(
        index, data, policy, floor, now=t0 + 600, free_bytes=usage, objects=store,  # type: ignore[arg-type]
        keep_local_hours=24,
    )  # fmt: skip
    assert (report.unstaged, report.deleted_disk, report.below_floor) == (2, 1, False)
    assert [s.path for s in index.segments("cam")] == [s.path for s in segments[:2]] + [
        segments[3].path
    ]
    assert not (data / segments[2].path).exists() and (data / segments[3].path).exists()
    assert clip.exists()
    assert drop_counts(events).segments_for_disk == 1
    events.dispose()
