"""Live events: written when they open, updated while they last, closed with their clip.

:class:`LiveEvidenceWriter` owns one thread that does all the slow work of live events —
database writes, clips, snapshots, stream gaps — so the analysis only puts small messages on
a queue and never waits on a disk or a database (DESIGN.md, Processes).

- ``opened``: the event row is committed at once (alerts go out then), the snapshot of the
  peak so far is written, and the clip starts recording from the camera's pre-roll buffer.
- ``updated``: peak, box and end time are copied to the row, at most every
  ``update_interval`` seconds per event (and the snapshot again if the peak moved).
- ``ended``: the clip keeps recording until ``post_seconds`` after the end, then the snapshot
  (peak frame) is written and the row is closed with its evidence and timeline.

Each step commits on its own, so a crash loses at most the steps not yet taken; an event left
open by a killed worker is ended by the next one with what lies on disk
(:mod:`vigil.events.recovery`).

**Store outages.** A change the store cannot take (the database is down, restarting, locked)
goes to the worker's journal on disk (:mod:`vigil.events.store.journal`, fsynced), and so does
every later change until the journal is replayed, in order, once the store answers again
(tried every ``retry_initial`` seconds, backing off to ``retry_max``). Analysis and clips go on
meanwhile; the log and each camera's health say how many changes wait. Closing tries the
replay a last time; what still waits stays in the journal for the next `vigil run`.

Example::

    writer = LiveEvidenceWriter(store, Path("vigil-data"))
    writer.add_camera("gate-3", reader.ring, source="rtsp://…", pre_seconds=3, post_seconds=3)
    writer.start()
    writer.submit("gate-3", analysis.events)     # from the analysis thread
    writer.close()                               # finishes every clip, then returns
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.events.evidence import Evidence, EvidenceError, media_paths, write_snapshot
from vigil.events.recording import ClipRecording
from vigil.events.store.changes import Change, store_change
from vigil.events.store.journal import Journal, worker_journal
from vigil.events.store.store import EventStore
from vigil.events.violation import LifecycleEvent, Phase, Violation
from vigil.streams.health import CameraHealth
from vigil.streams.ring import RingBuffer
from vigil.streams.timing import StageTimer, timed

log = logging.getLogger(__name__)

_BACKLOG_LOG_EVERY_S = 10.0


@dataclass(slots=True)
class _Camera:
    ring: RingBuffer
    source: str
    pre_seconds: float
    post_seconds: float
    picture_fps: float
    health: CameraHealth | None = None
    done: bool = False  # the camera stopped: nothing more will reach its buffer


@dataclass(slots=True)
class _Open:
    """A violation the writer follows: its newest copy and its clip."""

    camera: str
    violation: Violation
    recording: ClipRecording | None
    ended_at: float | None = None  # monotonic time the end arrived
    snapshot_pts: float | None = None  # the peak the snapshot on disk shows


class LiveEvidenceWriter:
    """Stores live events and their evidence on a thread of its own (see the module)."""

    def __init__(
        self,
        store: EventStore,
        data_dir: Path,
        *,
        journal: Journal | None = None,
        update_interval: float = 2.0,
        max_clip_seconds: float = 300.0,
        post_timeout: float = 30.0,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
        close_retry_seconds: float = 10.0,
        timer: StageTimer | None = None,
        on_media: Callable[[Path], object] | None = None,
    ) -> None:
        self.store = store
        self.timer = timer  # `vigil bench`: evidence (snapshots, clips) and store timings
        self.on_media = on_media  # hears each finished snapshot and clip (the upload queue)
        self.data_dir = Path(data_dir)
        self.journal = journal if journal is not None else worker_journal(self.data_dir)
        self.update_interval = update_interval
        self.max_clip_seconds = max_clip_seconds
        # How long past its post-roll an ended event waits for a stalled camera's frames.
        self.post_timeout = post_timeout
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.close_retry_seconds = close_retry_seconds
        self._cameras: dict[str, _Camera] = {}
        self._open: dict[str, _Open] = {}
        self._last_update: dict[str, float] = {}
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="evidence-writer", daemon=True)
        self.raised_events = 0  # violations opened, as the analysis raised them
        self.written_events = 0  # ended events handed to the store (or its journal)
        self.journaled_changes = 0  # changes that went to the journal
        self._pending: Counter[str] = Counter()  # per camera, waiting in the journal
        self._lost: Counter[str] = Counter()  # per camera, refused by the journal's disk
        self._retry_at = 0.0
        self._retry_delay = retry_initial
        self._backlog_logged_at = float("-inf")

    def add_camera(
        self,
        camera: str,
        ring: RingBuffer,
        *,
        source: str,
        pre_seconds: float,
        post_seconds: float,
        picture_fps: float = 10.0,
        health: CameraHealth | None = None,
    ) -> None:
        """``health`` hears how many of the camera's changes wait in the journal."""
        self._cameras[camera] = _Camera(
            ring, source, pre_seconds, post_seconds, picture_fps, health
        )

    def start(self) -> None:
        self._thread.start()

    # --- called from other threads (cheap) -----------------------------------------------------

    def submit(self, camera: str, events: list[LifecycleEvent]) -> None:
        """Queue one analysed frame's lifecycle events. Violations are copied here, in the
        caller's thread, because the lifecycle keeps changing them."""
        now = time.monotonic()
        for event in events:
            v = event.violation
            if event.phase is Phase.UPDATED:
                if now - self._last_update.get(v.id, float("-inf")) < self.update_interval:
                    continue
                self._last_update[v.id] = now
            elif event.phase is Phase.ENDED:
                self._last_update.pop(v.id, None)
            self._queue.put((event.phase.value, camera, _copy(v)))

    def gap(self, camera: str, start_wall: float, end_wall: float, reason: str) -> None:
        """Record a hole in a camera's stream."""
        self._queue.put(("gap", camera, (start_wall, end_wall, reason)))

    def camera_done(self, camera: str) -> None:
        """The camera stopped: clips waiting for its frames finish with what they have."""
        self._queue.put(("done", camera, None))

    def after(self, callback) -> None:
        """Call ``callback()`` on the writer thread once everything queued before is handled
        (a camera :meth:`camera_done` before it has its clips finished and its events ended)."""
        self._queue.put(("call", "", callback))

    def close(self, timeout: float | None = 60.0) -> None:
        """Finish every clip with what the buffers hold, store everything, stop the thread."""
        self._queue.put(("close", "", None))
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("evidence writer did not finish within %s s", timeout)

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def pending_changes(self) -> int:
        """Changes waiting in the journal for the store."""
        return self.journal.pending

    @property
    def lost_changes(self) -> int:
        """Changes neither stored nor journaled (the journal's disk refused them)."""
        return self.journal.lost

    # --- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        closing = False
        while True:
            try:
                kind, camera, payload = self._queue.get(timeout=0.2)
            except queue.Empty:
                kind = ""
            try:
                if kind == "close":
                    closing = True
                elif kind:
                    self._handle(kind, camera, payload)
                self._pump(final=closing and self._queue.empty())
                self._replay_journal()
            except Exception:  # one bad event must not stop the evidence of all the others
                log.exception("evidence writer: %s on camera %s failed", kind or "pump", camera)
            if closing and self._queue.empty() and not self._open:
                self._last_replay()
                return

    def _handle(self, kind: str, camera: str, payload) -> None:
        if kind == "opened":
            self._opened(camera, payload)
        elif kind == "updated":
            self._updated(payload)
        elif kind == "ended":
            self._ended(payload)
        elif kind == "gap":
            self._store(Change.stream_gap(camera, *payload))
        elif kind == "done" and camera in self._cameras:
            self._cameras[camera].done = True
        elif kind == "call":
            payload()

    def _opened(self, camera: str, v: Violation) -> None:
        cam = self._cameras[camera]
        entry = _Open(camera, v, None)
        self._open[v.id] = entry
        self.raised_events += 1
        self._store(Change.opened(v, cam.source))
        log.info(
            "camera %s: %s opened (%s, %.2f) event %s",
            camera,
            v.rule,
            v.label,
            v.peak_confidence,
            v.id,
        )
        self._snapshot(entry)  # on disk from the start: a killed worker's event still has one
        _, clip_path = media_paths(self.data_dir, v)
        entry.recording = ClipRecording(
            cam.ring,
            clip_path,
            v.start_pts - cam.pre_seconds,
            max_seconds=self.max_clip_seconds,
            picture_fps=cam.picture_fps,
        )
        entry.recording.pump()

    def _updated(self, v: Violation) -> None:
        entry = self._open.get(v.id)
        if entry is None:
            return
        entry.violation = v
        self._store(Change.updated(v, self._cameras[entry.camera].source))
        self._snapshot(entry)

    def _ended(self, v: Violation) -> None:
        entry = self._open.get(v.id)
        if entry is None:
            return
        entry.violation = v
        entry.ended_at = time.monotonic()
        if entry.recording is not None:
            entry.recording.stop_at(v.end_pts + self._cameras[entry.camera].post_seconds)

    def _pump(self, final: bool) -> None:
        now = time.monotonic()
        for entry in list(self._open.values()):
            cam = self._cameras[entry.camera]
            if entry.recording is not None:
                with timed(self.timer, "evidence"):
                    entry.recording.pump()
            if entry.ended_at is None and not final:
                continue
            waited = now - (entry.ended_at or now)
            ready = entry.recording is None or entry.recording.complete
            if final or ready or cam.done or waited > cam.post_seconds + self.post_timeout:
                self._close(entry)

    def _close(self, entry: _Open) -> None:
        """Write the snapshot, finish the clip and end the event's row."""
        del self._open[entry.violation.id]
        v = entry.violation
        snapshot, _ = media_paths(self.data_dir, v)
        with timed(self.timer, "evidence"):
            clip = entry.recording.finish() if entry.recording is not None else None
        self._snapshot(entry)
        has_snapshot = snapshot.exists()
        error = entry.recording.error if entry.recording is not None else None
        evidence = Evidence(
            snapshot_path=snapshot if has_snapshot else None,
            clip_path=None if clip is None else clip.path,
            clip_sha256=None if clip is None else clip.sha256,
            clip_start_pts=None if clip is None else clip.start_pts,
            clip_end_pts=None if clip is None else clip.end_pts,
            note=_missing_note(has_snapshot, clip is not None, error),
        )
        self._store(Change.ended(v, evidence, self._cameras[entry.camera].source))
        self.written_events += 1
        if self.on_media is not None:
            for path in (evidence.snapshot_path, evidence.clip_path):
                if path is not None:
                    self.on_media(path)
        log.info(
            "camera %s: %s ended after %.1f s; clip %s",
            v.camera,
            v.rule,
            v.end_pts - v.start_pts,
            "none" if clip is None else f"{clip.end_pts - clip.start_pts:.1f} s",
        )

    def _snapshot(self, entry: _Open) -> None:
        """Write the snapshot of the peak so far, unless the one on disk shows it already."""
        v = entry.violation
        if v.peak_image is None or entry.snapshot_pts == v.peak_pts:
            return
        snapshot, _ = media_paths(self.data_dir, v)
        try:
            with timed(self.timer, "evidence"):
                write_snapshot(v.peak_image, v, snapshot)
            entry.snapshot_pts = v.peak_pts
        except (EvidenceError, OSError) as exc:
            log.warning("camera %s: snapshot of %s not written: %s", v.camera, v.id, exc)

    # --- the store, or the journal while the store is away -------------------------------------

    def _store(self, change: Change) -> None:
        """Write ``change`` to the store; to the journal if the store cannot take it, or if
        earlier changes still wait there (order is kept)."""
        if not self.journal.pending:
            try:
                with timed(self.timer, "store"):
                    store_change(self.store, change)
                return
            except Exception as exc:  # store_change raises only when the store is away
                log.warning(
                    "store unavailable (%s): event changes go to the journal %s until it is back",
                    _first_line(exc),
                    self.journal.path,
                )
                self._retry_at = time.monotonic() + self.retry_initial
                self._retry_delay = self.retry_initial
        if self.journal.append(change.to_json()):
            self.journaled_changes += 1
            self._pending[change.camera] += 1
        else:
            self._lost[change.camera] += 1
        self._report_backlog(change.camera)

    def _replay_journal(self, force: bool = False) -> None:
        """Replay the journal into the store when a retry is due; back off if it fails."""
        now = time.monotonic()
        if not self.journal.pending or (not force and now < self._retry_at):
            return
        try:
            done = self.journal.replay(self._replay_one)
        except Exception as exc:  # the store is still away
            self._retry_at = now + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self.retry_max)
            if now - self._backlog_logged_at >= _BACKLOG_LOG_EVERY_S:
                self._backlog_logged_at = now
                log.warning(
                    "%d event changes wait in the journal for the store (%s)",
                    self.journal.pending,
                    _first_line(exc),
                )
            for camera in list(self._cameras):
                self._report_backlog(camera)
            return
        log.info("store back: %d event changes replayed from the journal", done)
        self._pending.clear()
        for camera in list(self._cameras):
            self._report_backlog(camera)

    def _replay_one(self, entry: dict) -> None:
        try:
            change = Change.from_json(entry)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("journal %s: skipped a change it cannot read (%s)", self.journal.path, exc)
            return
        store_change(self.store, change)  # raises while the store is away
        self._pending[change.camera] -= 1
        self._report_backlog(change.camera)

    def _last_replay(self) -> None:
        """On close: try the journal for ``close_retry_seconds``; what is left stays there."""
        deadline = time.monotonic() + self.close_retry_seconds
        while self.journal.pending and time.monotonic() < deadline:
            self._replay_journal(force=True)
            if self.journal.pending:
                time.sleep(min(self.retry_initial, max(0.0, deadline - time.monotonic())))
        if self.journal.pending:
            log.error(
                "%d event changes still wait in %s: the next `vigil run` on this data folder "
                "stores them",
                self.journal.pending,
                self.journal.path,
            )
        if self.journal.lost:
            lost = self.journal.lost
            log.error("%d event changes were lost: the journal's disk refused them", lost)
        self.journal.close()

    def _report_backlog(self, camera: str) -> None:
        cam = self._cameras.get(camera)
        if cam is not None and cam.health is not None:
            cam.health.backlog(max(0, self._pending[camera]), self._lost[camera])


def _missing_note(has_snapshot: bool, has_clip: bool, error: str | None) -> str | None:
    """``clip missing: <why>``, or None when nothing is missing."""
    missing = [name for name, has in (("snapshot", has_snapshot), ("clip", has_clip)) if not has]
    if not missing:
        return None
    return " and ".join(missing) + " missing" + (f": {error}" if error else "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _copy(v: Violation) -> Violation:
    """A copy the writer can keep while the lifecycle goes on changing the original."""
    return dataclasses.replace(v, timeline=list(v.timeline))
