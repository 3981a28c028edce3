"""A local append-only journal: changes the store could not write, kept on disk until it can.

One JSON object a line; :meth:`Journal.append` returns once the line is fsynced, so a change
it accepted survives a crash of the process or of the machine. :meth:`Journal.replay` hands the
entries to a function in the order they came, stops at the first one that fails (to be tried
again later, from that entry on), and empties the file once every entry went through.

A crash in the middle of an append leaves a torn last line; it is cut off when the journal is
opened, and a line that cannot be parsed is skipped with a warning, so the rest still counts.
A worker holds an exclusive ``flock`` on its journal while it lives: the journals whose lock
can be taken (:func:`orphaned_journals`) belong to workers that died, for the next one to replay.

When the disk refuses a line (full, read-only, gone), :meth:`Journal.append` logs an error,
counts it in :attr:`Journal.lost` and returns False: it never raises, so the analysis that
produced the change goes on.

Example::

    journal = Journal(Path("vigil-data/journal/host-123.jsonl"))
    journal.append({"op": "opened", "id": "ab12"})    # on disk when it returns True
    journal.pending                                   # 1
    journal.replay(lambda entry: store_it(entry))     # in order; raises what store_it raised
    journal.pending                                   # 0, and the file is empty again
    journal.close()                                   # removes the file if empty

>>> import tempfile
>>> j = Journal(Path(tempfile.mkdtemp()) / "j.jsonl")
>>> j.append({"n": 1}), j.append({"n": 2}), j.pending
(True, True, 2)
>>> seen = []
>>> j.replay(seen.append), seen, j.pending
(2, [{'n': 1}, {'n': 2}], 0)
>>> j.close()
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Entry = dict[str, Any]
SUFFIX = ".jsonl"
JOURNAL_DIR = "journal"  # in a data folder: one journal per worker process
_LOG_EVERY_S = 10.0  # a failing disk is reported at once, then at most this often


class JournalBusy(OSError):
    """Another live process holds this journal."""


class Journal:
    """One worker's journal at ``path`` (see the module). Thread-safe.

    The file is created, and locked, at the first append: a worker whose store never fails
    leaves no file behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lost = 0  # entries the disk refused
        self.corrupt = 0  # lines skipped on replay because they could not be parsed
        self._file: Any = None
        self._offset = 0  # bytes already replayed
        self._pending = 0
        self._lock = threading.RLock()
        self._last_error_log = float("-inf")

    @classmethod
    def take_over(cls, path: Path) -> Journal:
        """Open an existing journal left by a dead worker; :class:`JournalBusy` if its owner
        still lives."""
        journal = cls(path)
        journal._open(create=False)
        return journal

    @property
    def pending(self) -> int:
        """Entries waiting for :meth:`replay`."""
        return self._pending

    def append(self, entry: Entry) -> bool:
        """Write one entry and fsync it; False (logged, counted in :attr:`lost`) if the disk
        refused it."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            size = None
            try:
                self._open(create=True)
                fd = self._file.fileno()
                size = os.lseek(fd, 0, os.SEEK_END)
                _write_all(fd, line)
                os.fsync(fd)
            except OSError as exc:
                self._refused(exc, size)
                return False
            self._pending += 1
            return True

    def entries(self) -> Iterator[tuple[int, Entry]]:
        """``(end offset, entry)`` of each entry not yet replayed, in order."""
        with self._lock:
            if self._file is None:
                return
            self._file.seek(self._offset)
            data = self._file.read()
        position = self._offset
        for raw in data.splitlines(keepends=True):
            position += len(raw)
            if not raw.endswith(b"\n"):
                break  # torn by a crash (cut off when opened; defensive)
            try:
                entry = json.loads(raw)
            except ValueError:
                self.corrupt += 1
                log.warning("journal %s: skipped an unreadable line (byte %d)", self.path, position)
                continue
            yield position, entry

    def replay(self, apply: Callable[[Entry], object]) -> int:
        """Hand each waiting entry to ``apply``, in order; returns how many went through.

        If ``apply`` raises, the entry stays first in line and the exception propagates: the
        next replay starts with it. After the last entry the file is emptied (fsynced).
        ``apply`` must be idempotent: after a crash, entries it took before may come again.
        """
        done = 0
        with self._lock:
            for end, entry in self.entries():
                apply(entry)
                self._offset = end
                self._pending = max(0, self._pending - 1)
                done += 1
            self._pending = 0
            if self._file is not None and os.fstat(self._file.fileno()).st_size:
                self._truncate()
        return done

    def drain(self, apply: Callable[[Entry], object]) -> int:
        """:meth:`replay` without holding the journal while ``apply`` runs, so appends from
        other threads never wait on a slow ``apply`` (an upload). Only one thread may drain.

        Entries appended meanwhile are taken in the same pass; the file is emptied only when
        nothing new arrived after the last entry taken.
        """
        done = 0
        while True:
            batch = list(self.entries())
            if not batch:
                break
            for end, entry in batch:
                apply(entry)  # raises: the entry stays first in line
                with self._lock:
                    self._offset = end
                    self._pending = max(0, self._pending - 1)
                done += 1
        with self._lock:
            if self._file is not None and os.fstat(self._file.fileno()).st_size <= self._offset:
                self._pending = 0
                if self._offset:
                    self._truncate()
        return done

    def close(self) -> None:
        """Release the journal; the file is removed when nothing waits in it."""
        with self._lock:
            if self._file is None:
                return
            if self._pending == 0:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            self._file.close()  # releases the lock
            self._file = None

    # --- internals -----------------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        if self._file is not None:
            return
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            busy = "journal held by a live worker"
            raise JournalBusy(errno.EWOULDBLOCK, busy, str(self.path)) from None
        self._file = os.fdopen(fd, "r+b", buffering=0)
        if create:
            _fsync_dir(self.path.parent)  # the new file's name survives a power cut
        self._pending = self._cut_torn_tail().count(b"\n")

    def _cut_torn_tail(self) -> bytes:
        """Drop a last line without its newline (an append that a crash interrupted); returns
        what remains."""
        self._file.seek(0)
        data = self._file.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            torn = len(data) - end
            log.warning("journal %s: dropped a torn last line (%d bytes)", self.path, torn)
            self._file.truncate(end)
            os.fsync(self._file.fileno())
        return data[:end]

    def _truncate(self) -> None:
        self._file.truncate(0)
        self._file.seek(0)
        os.fsync(self._file.fileno())
        self._offset = 0

    def _refused(self, exc: BaseException, size: int | None) -> None:
        self.lost += 1
        if self._file is not None and size is not None:
            with contextlib.suppress(OSError):  # no half line left for the next append to follow
                self._file.truncate(size)
        now = time.monotonic()
        if now - self._last_error_log >= _LOG_EVERY_S:
            self._last_error_log = now
            log.error(
                "journal %s refused a change (%s): %d changes lost so far; "
                "they are neither in the database nor on disk",
                self.path,
                exc,
                self.lost,
            )


def worker_journal(data_dir: Path, folder: str = JOURNAL_DIR) -> Journal:
    """A new journal for this process: ``<data_dir>/<folder>/<host>-<pid>-<start>.jsonl``."""
    name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
    return Journal(Path(data_dir) / folder / name)


def orphaned_journals(directory: Path) -> Iterator[Journal]:
    """The journals in ``directory`` whose workers died (their lock is free), each taken over."""
    if not Path(directory).is_dir():
        return
    for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
        try:
            yield Journal.take_over(path)
        except JournalBusy:
            continue  # a live worker's
        except OSError as exc:
            log.error("journal %s cannot be read: %s", path, exc)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a write may stop short of a full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
