"""Live events: written when they open, updated while they last, closed with their clip.

:class:`LiveEvidenceWriter` owns one thread that does all the slow work of live events —
database writes, clips, snapshots, stream gaps — so the analysis only puts small messages on
a queue and never waits on a disk or a database (DESIGN.md, Processes).

- ``opened``: the event row is committed at once (alerts go out then) and the clip starts
  recording from the camera's pre-roll buffer.
- ``updated``: peak, box and end time are copied to the row, at most every
  ``update_interval`` seconds per event.
- ``ended``: the clip keeps recording until ``post_seconds`` after the end, then the snapshot
  (peak frame) is written and the row is closed with its evidence and timeline.

Each step commits on its own, so a crash loses at most the steps not yet taken; an event left
open by a killed worker is ended by the next one (``EventStore.end_abandoned``).

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
from dataclasses import dataclass
from pathlib import Path

from vigil.events.evidence import Evidence, EvidenceError, media_paths, write_snapshot
from vigil.events.recording import ClipRecording
from vigil.events.store.store import EventStore
from vigil.events.violation import LifecycleEvent, Phase, Violation
from vigil.streams.ring import RingBuffer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Camera:
    ring: RingBuffer
    source: str
    pre_seconds: float
    post_seconds: float
    picture_fps: float
    done: bool = False  # the camera stopped: nothing more will reach its buffer


@dataclass(slots=True)
class _Open:
    """A violation the writer follows: its newest copy and its clip."""

    camera: str
    violation: Violation
    recording: ClipRecording | None
    ended_at: float | None = None  # monotonic time the end arrived
    written: bool = True  # its row exists (False when the open could not be stored)


class LiveEvidenceWriter:
    """Stores live events and their evidence on a thread of its own (see the module)."""

    def __init__(
        self,
        store: EventStore,
        data_dir: Path,
        *,
        update_interval: float = 2.0,
        max_clip_seconds: float = 300.0,
        post_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.update_interval = update_interval
        self.max_clip_seconds = max_clip_seconds
        # How long past its post-roll an ended event waits for a stalled camera's frames.
        self.post_timeout = post_timeout
        self._cameras: dict[str, _Camera] = {}
        self._open: dict[str, _Open] = {}
        self._last_update: dict[str, float] = {}
        self._queue: queue.Queue[tuple] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="evidence-writer", daemon=True)
        self.written_events = 0  # ended events stored, for logs and tests

    def add_camera(
        self,
        camera: str,
        ring: RingBuffer,
        *,
        source: str,
        pre_seconds: float,
        post_seconds: float,
        picture_fps: float = 10.0,
    ) -> None:
        self._cameras[camera] = _Camera(ring, source, pre_seconds, post_seconds, picture_fps)

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

    def close(self, timeout: float | None = 60.0) -> None:
        """Finish every clip with what the buffers hold, store everything, stop the thread."""
        self._queue.put(("close", "", None))
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("evidence writer did not finish within %s s", timeout)

    @property
    def open_count(self) -> int:
        return len(self._open)

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
            except Exception:  # one bad event must not stop the evidence of all the others
                log.exception("evidence writer: %s on camera %s failed", kind or "pump", camera)
            if closing and self._queue.empty() and not self._open:
                return

    def _handle(self, kind: str, camera: str, payload) -> None:
        if kind == "opened":
            self._opened(camera, payload)
        elif kind == "updated":
            self._updated(payload)
        elif kind == "ended":
            self._ended(payload)
        elif kind == "gap":
            start, end, reason = payload
            self.store.add_gap(camera, start, end, reason)
        elif kind == "done" and camera in self._cameras:
            self._cameras[camera].done = True

    def _opened(self, camera: str, v: Violation) -> None:
        cam = self._cameras[camera]
        entry = _Open(camera, v, None)
        self._open[v.id] = entry
        try:
            with self.store.unit_of_work() as writer:
                writer.opened(v, source=cam.source)
        except Exception:
            entry.written = False
            log.exception("camera %s: event %s could not be stored when it opened", camera, v.id)
        log.info("camera %s: %s opened (%s, %.2f)", camera, v.rule, v.label, v.peak_confidence)
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
        if entry.written:
            with self.store.unit_of_work() as writer:
                writer.updated(v)

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
        clip = entry.recording.finish() if entry.recording is not None else None
        try:
            if v.peak_image is not None:
                write_snapshot(v.peak_image, v, snapshot)
        except (EvidenceError, OSError) as exc:
            log.warning("camera %s: snapshot of %s not written: %s", v.camera, v.id, exc)
        evidence = Evidence(
            snapshot_path=snapshot,
            clip_path=None if clip is None else clip.path,
            clip_sha256=None if clip is None else clip.sha256,
            clip_start_pts=None if clip is None else clip.start_pts,
            clip_end_pts=None if clip is None else clip.end_pts,
        )
        with self.store.unit_of_work() as writer:
            if not entry.written:
                writer.opened(v, source=self._cameras[entry.camera].source)
            writer.ended(v, evidence)
        self.written_events += 1
        log.info(
            "camera %s: %s ended after %.1f s; clip %s",
            v.camera,
            v.rule,
            v.end_pts - v.start_pts,
            "none" if clip is None else f"{clip.end_pts - clip.start_pts:.1f} s",
        )


def _copy(v: Violation) -> Violation:
    """A copy the writer can keep while the lifecycle goes on changing the original."""
    return dataclasses.replace(v, timeline=list(v.timeline))
