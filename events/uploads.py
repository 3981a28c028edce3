"""The media upload queue: files of the data folder (snapshots, clips, photos, recording
segments) go to the object store on a thread of their own, so a slow or absent store never
stalls analysis or the evidence writer.

**Durable.** :meth:`MediaUploader.enqueue` appends the file's data-folder path to a journal on
the same disk as the file (:class:`~vigil.events.store.journal.Journal`: one fsynced JSON line,
replayed in order). The queue describes local files, so it lives beside them rather than in
PostgreSQL: it must work while the database is away, and another worker has no use for it. A
worker that dies leaves its journal behind; the next uploader on the data folder takes it over
(:func:`~vigil.events.store.journal.orphaned_journals`), and its first pass also enqueues any
finished file of the staging folders that no journal names (written by `vigil detect`, by a
recovery, by a crash between the write and the append).

**In order, with backoff.** Entries go up one at a time, oldest first. When the store fails
(down, slow past its timeout, an object that does not match the file) the same entry is tried
again after a capped, jittered backoff (:class:`~vigil.streams.backoff.Backoff`) until it goes.
A file that is gone or unreadable cannot be uploaded: it is dropped from the queue, logged and
counted (:attr:`MediaUploader.dropped`), and the queue goes on.

**Verified before deleted.** A local copy is removed only after the store holds an object of
the same size and MD5 (ETag; the size only for a file past 64 MiB, sent in parts), and only
when ``keep_local_seconds`` is 0; otherwise retention removes uploaded copies later
(:func:`sweep_uploaded`), and first of all when the disk is short.

Example::

    uploader = MediaUploader(ObjectStore(settings), Path("vigil-data"))
    uploader.start()
    uploader.enqueue(Path("vigil-data/media/gate-3/2026-01-02/ab12.mp4"))  # cheap: one append
    uploader.close(timeout=30)            # tries what waits for a while; the rest stays queued
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from vigil.events.evidence import PART_SUFFIX
from vigil.events.objectstore import ObjectStore, StoreUnavailable
from vigil.events.segments import RECORDINGS_DIR
from vigil.events.store.journal import Journal, orphaned_journals, worker_journal
from vigil.streams.backoff import Backoff

log = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"  # in the data folder: one journal per uploader process
STAGED_DIRS = ("media", RECORDINGS_DIR)  # the folders whose files go to the store
_LOG_EVERY_S = 10.0

try:  # in the default registry, so the API's /metrics of this process shows them
    from prometheus_client import Counter, Gauge

    UPLOADS = Counter("vigil_media_uploads", "Media upload attempts by result", ["result"])
    PENDING = Gauge("vigil_media_uploads_pending", "Media files waiting for the object store")
except ImportError:  # metrics are optional
    UPLOADS = PENDING = None


def _count(result: str) -> None:
    if UPLOADS is not None:
        UPLOADS.labels(result=result).inc()


def staged_files(data_dir: Path, older_than: float | None = None) -> Iterable[Path]:
    """Finished files of the staging folders, oldest first: never a temporary file (a hidden
    name or a ``.part``), which its writer still owns."""
    found = []
    for folder in STAGED_DIRS:
        root = Path(data_dir) / folder
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.name.startswith(".") or path.name.endswith(PART_SUFFIX):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            if not path.is_file() or (older_than is not None and stat.st_mtime > older_than):
                continue
            found.append((stat.st_mtime, path))
    return [p for _, p in sorted(found)]


class MediaUploader:
    """Uploads the data folder's media to ``store`` (see the module). Thread-safe enqueue."""

    def __init__(
        self,
        store: ObjectStore,
        data_dir: Path,
        *,
        keep_local_seconds: float = 0.0,
        backoff: Backoff | None = None,
        sweep_on_start: bool = True,
        on_drop: Callable[[str, str], object] | None = None,
    ) -> None:
        self.store = store
        self.on_drop = on_drop  # hears (path, reason) of each file lost before its upload
        self.data_dir = Path(data_dir)
        self.keep_local_seconds = keep_local_seconds
        self.backoff = backoff or Backoff(initial=0.5, cap=5.0)
        self.journal = worker_journal(self.data_dir, UPLOADS_DIR)
        self.sweep_on_start = sweep_on_start
        self.uploaded = 0  # files verified in the store
        self.uploaded_bytes = 0
        self.dropped = 0  # queued files that could not be uploaded (gone, unreadable)
        self.failures = 0  # failed attempts (each retried)
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="media-uploader", daemon=True)
        self._error_logged_at = float("-inf")
        self._orphans: list[Journal] = []
        self._bucket_ok = False
        self._deadline = float("inf")  # set by close: how long uploads may still be tried
        self._started = time.time()  # files newer than this are the writers' to enqueue

    # --- any thread ----------------------------------------------------------------------------

    def enqueue(self, path: Path) -> bool:
        """Queue ``path`` (a file in the data folder) for upload; False (logged) if the queue's
        disk refused it: the file then stays staged until the next start's sweep finds it."""
        relative = self._relative(path)
        if relative is None:
            log.warning("uploads: %s is outside the data folder; not uploaded", path)
            return False
        ok = self.journal.append({"path": relative})
        self._wake.set()
        return ok

    @property
    def pending(self) -> int:
        """Files waiting for the store."""
        return self.journal.pending + sum(j.pending for j in self._orphans)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Try to upload what waits for up to ``timeout`` seconds, then stop; what is left stays
        in the journal for the next uploader on this data folder."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout + self.store.settings.read_timeout + 5)
        if self.pending:
            log.warning(
                "uploads: %d files still wait for %s; the next start uploads them",
                self.pending,
                self.store.describe(),
            )
        for journal in (*self._orphans, self.journal):
            journal.close()

    # --- the uploader thread -------------------------------------------------------------------

    def _run(self) -> None:
        self._take_over()
        if self.sweep_on_start:
            self._sweep()
        while True:
            try:
                if PENDING is not None:
                    PENDING.set(self.pending)
                self.drain()
                self.backoff.reset()
                if self._stop.is_set():
                    return
                self._wake.wait(1.0)
                self._wake.clear()
            except StoreUnavailable as exc:
                self._failed(exc)
                delay = self.backoff.next_delay()
                if self._stop.is_set() and time.monotonic() + delay > self._deadline:
                    return
                self._wake.clear()
                if self._stop.wait(delay) and time.monotonic() > self._deadline:
                    return
            except Exception:  # a bug must not end the uploads of everything after it
                log.exception("uploads: pass failed")
                if self._stop.wait(1.0) and time.monotonic() > self._deadline:
                    return

    def drain(self) -> int:
        """Upload every queued file, in order; raises StoreUnavailable at the first the store
        does not take (it is first in line next time). Returns how many went."""
        if not self._bucket_ok:
            self.store.ensure_bucket()
            self._bucket_ok = True
        done = 0
        for journal in list(self._orphans):
            done += journal.drain(self._upload_entry)
            journal.close()
            self._orphans.remove(journal)
        return done + self.journal.drain(self._upload_entry)

    def _upload_entry(self, entry: dict) -> None:
        relative = entry.get("path")
        if not isinstance(relative, str):
            log.error("uploads: skipped an entry it cannot read: %r", entry)
            return
        self.upload(relative)

    def upload(self, relative: str) -> bool:
        """Upload one data-folder file (verified), then remove the local copy when due.
        False: the file is gone or unreadable (counted in :attr:`dropped`)."""
        path = self.data_dir / relative
        key = self.store.key_for(relative)
        try:
            info = self.store.put_file(path, key)
        except FileNotFoundError:
            if self.store.head(key) is not None:
                return True  # uploaded before a crash, which came before the journal moved on
            if relative.startswith(f"{RECORDINGS_DIR}/"):
                # Only retention deletes segments, and it counted the deletion itself.
                log.info("uploads: %s was deleted by retention before its upload", relative)
                return False
            self._drop(relative, "gone", "is gone before it was uploaded: lost")
            return False
        except (PermissionError, IsADirectoryError) as exc:
            self._drop(relative, "unreadable", f"cannot be read ({exc}): not uploaded")
            return False
        self.uploaded += 1
        self.uploaded_bytes += info.size
        _count("uploaded")
        if self.keep_local_seconds <= 0:
            _remove_if_unchanged(path, info.size)
        return True

    def _drop(self, relative: str, reason: str, why: str) -> None:
        self.dropped += 1
        _count("dropped")
        log.error("uploads: %s %s", relative, why)
        if self.on_drop is not None:
            try:
                self.on_drop(relative, reason)
            except Exception as exc:  # the database away: the log line above still says it
                log.warning("uploads: the drop of %s not counted in the store: %s", relative, exc)

    def _failed(self, exc: StoreUnavailable) -> None:
        self.failures += 1
        _count("failed")
        self.last_error = str(exc)
        now = time.monotonic()
        if now - self._error_logged_at >= _LOG_EVERY_S:
            self._error_logged_at = now
            log.warning(
                "uploads: object store %s unavailable (%s); %d files wait, tried again with "
                "backoff",
                self.store.describe(),
                exc,
                self.pending,
            )

    def _take_over(self) -> None:
        self._orphans = [j for j in orphaned_journals(self.data_dir / UPLOADS_DIR) if j.pending]

    def _sweep(self) -> None:
        """Queue every finished staged file that no journal names (see the module)."""
        named = {e.get("path") for j in (*self._orphans, self.journal) for _, e in j.entries()}
        count = 0
        for path in staged_files(self.data_dir, older_than=self._started):
            relative = self._relative(path)
            if relative is not None and relative not in named:
                count += self.enqueue(path)
        if count:
            log.info("uploads: %d staged files found without an upload queued", count)

    def _relative(self, path: Path) -> str | None:
        try:
            return (
                Path(os.path.abspath(path)).relative_to(os.path.abspath(self.data_dir)).as_posix()
            )
        except ValueError:
            return None


def _remove_if_unchanged(path: Path, size: int) -> None:
    """Remove the staged copy unless it changed since the upload (a snapshot rewritten while
    its event was open: that newer copy waits for its own upload)."""
    try:
        if path.stat().st_size == size:
            path.unlink()
    except OSError:
        pass


def sweep_uploaded(
    store: ObjectStore, data_dir: Path, older_than: float, limit_bytes: int | None = None
) -> tuple[int, int]:
    """Remove staged copies older than ``older_than`` (epoch) that the store holds, verified by
    size; stops once ``limit_bytes`` are freed. Returns (files, bytes) removed. A copy the store
    does not hold (not uploaded yet) is kept."""
    files = freed = 0
    for path in staged_files(data_dir, older_than=older_than):
        if limit_bytes is not None and freed >= limit_bytes:
            break
        relative = path.relative_to(data_dir).as_posix()
        try:
            size = path.stat().st_size
            info = store.head(store.key_for(relative))
        except (OSError, StoreUnavailable):
            continue
        if info is not None and info.size == size:
            path.unlink(missing_ok=True)
            files, freed = files + 1, freed + size
    return files, freed
