"""Export jobs: ranges of recordings written to MP4 files in the background, one at a time.

The API queues a job (``POST /exports``) and polls it; the file appears under
``<data_dir>/exports/<id>.mp4`` once the job is done (written atomically by
:func:`~vigil.events.replay.export_range`). Jobs live in memory, the newest ``keep``: a job
forgotten takes its file with it, and files older than ``keep_seconds`` are removed when
ExportJobs is made (the API makes it on its first recordings request) and on each new job (a
restart forgets every job, so nobody could download them any more; a crash may leave parts),
so the folder does not grow without end on a box nobody tends.

Example::

    jobs = ExportJobs(index, Path("vigil-data"))
    job = jobs.submit("gate-3", t0, t1, exact=False, owner="alice")
    jobs.get(job.id).state            # "queued", "running", "done" or "failed"
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vigil.events.replay import ExportResult, export_range
from vigil.events.store.recordings import RecordingIndex

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
KEEP_SECONDS = 24 * 3600.0  # how long an export's file stays downloadable


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: str
    camera: str
    start: float
    end: float
    exact: bool
    owner: str
    created_at: float
    state: str = "queued"  # queued, running, done, failed
    error: str | None = None
    result: ExportResult | None = None

    @property
    def path(self) -> Path | None:
        return None if self.result is None else self.result.path


class ExportJobs:
    """Runs export jobs on one background thread (see the module)."""

    def __init__(
        self,
        index: RecordingIndex,
        data_dir: Path,
        *,
        keep: int = 200,
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        self.index, self.data_dir, self.keep = index, Path(data_dir), keep
        self.keep_seconds = keep_seconds
        self.folder = self.data_dir / EXPORTS_DIR
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        self.sweep()

    def submit(
        self, camera: str, start: float, end: float, *, exact: bool, owner: str
    ) -> ExportJob:
        self.sweep()
        job = ExportJob(uuid.uuid4().hex, camera, start, end, exact, owner, time.time())
        with self._lock:
            self._jobs[job.id] = job
            forgotten = [
                self._jobs.pop(old)
                for old in list(self._jobs)[: max(0, len(self._jobs) - self.keep)]
            ]
        for old in forgotten:
            if old.path is not None:
                old.path.unlink(missing_ok=True)
        self._pool.submit(self._run, job.id)
        return job

    def sweep(self, now: float | None = None) -> int:
        """Remove the files in the exports folder older than ``keep_seconds``: how many."""
        cutoff = (time.time() if now is None else now) - self.keep_seconds
        removed = 0
        for path in self.folder.iterdir() if self.folder.is_dir() else ():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # removed meanwhile (a job forgotten, another sweep)
                continue
        if removed:
            log.info(
                "exports: removed %d file(s) older than %.0f h", removed, self.keep_seconds / 3600
            )
        return removed

    def get(self, job_id: str) -> ExportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float = 60.0) -> ExportJob | None:
        """The job once it is done or failed (or as it is after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None or job.state in ("done", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.05)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _update(self, job_id: str, **changes) -> ExportJob:
        with self._lock:
            job = dataclasses.replace(self._jobs[job_id], **changes)
            self._jobs[job_id] = job
            return job

    def _run(self, job_id: str) -> None:
        job = self._update(job_id, state="running")
        out = self.folder / f"{job.id}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = export_range(
                self.index, self.data_dir, job.camera, job.start, job.end, out, exact=job.exact
            )
        except Exception as exc:  # a bad range, a missing file: the job says why
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("export %s failed: %s", job.id, reason)
            self._update(job_id, state="failed", error=reason)
            return
        self._update(job_id, state="done", result=result)
