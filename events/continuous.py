"""The worker's continuous recorder: one thread that writes every recorded camera's segments
(:class:`~vigil.events.segments.SegmentWriter`) and the log of what the models saw
(:mod:`vigil.events.seen`), so the readers and the analysis never wait on a disk or a
database. The analysis only copies a frame's boxes onto a queue (:meth:`seen`).

Example::

    recorder = ContinuousRecorder(RecordingIndex(store), Path("vigil-data"))
    recorder.add_camera("gate-3", reader.ring, RecordSettings(), lambda t: origin + t, zones)
    recorder.start()
    recorder.seen("gate-3", frame.wall, detections)     # from the analysis thread
    recorder.close()                                   # finishes and indexes every segment
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import supervision as sv

from vigil.events.seen import encode_frame, frame_detections
from vigil.events.segments import RecordSettings, SegmentWriter
from vigil.events.store.recordings import RecordingIndex
from vigil.events.zones import Zone
from vigil.streams.ring import RingBuffer

log = logging.getLogger(__name__)

MAX_SEEN_QUEUE = 20_000  # frames waiting for the database; past this the newest are dropped


class ContinuousRecorder:
    """Segments and frame log of every recorded camera, on one thread (see the module)."""

    def __init__(
        self,
        index: RecordingIndex,
        data_dir: Path,
        *,
        interval: float = 0.25,
        seen_flush_seconds: float = 2.0,
        on_segment: Callable[[Path], object] | None = None,
    ) -> None:
        self.index, self.data_dir = index, Path(data_dir)
        self.on_segment = on_segment  # hears each indexed segment (the upload queue)
        self.interval, self.seen_flush_seconds = interval, seen_flush_seconds
        self.writers: dict[str, SegmentWriter] = {}
        self._zones: dict[str, Sequence[Zone]] = {}
        self._seen: queue.Queue[tuple] = queue.Queue(MAX_SEEN_QUEUE)
        self._removed: queue.Queue[str] = queue.Queue()
        self._batch: list[tuple[str, float, str, str]] = []
        self._flushed_at = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self.cpu_seconds = 0.0  # CPU time of the recorder thread
        self.seen_dropped = 0
        self.seen_written = 0

    def add_camera(
        self,
        camera: str,
        ring: RingBuffer,
        settings: RecordSettings,
        wall_of: Callable[[float], float],
        zones: Sequence[Zone] = (),
    ) -> None:
        self.writers[camera] = SegmentWriter(
            camera, ring, self.data_dir, self.index, settings, wall_of, self.on_segment
        )
        self._zones[camera] = tuple(zones)

    def set_zones(self, camera: str, zones: Sequence[Zone]) -> None:
        """The zones the camera's detections are placed in from now on (zones saved in the
        console replace the site file's while the worker runs)."""
        self._zones[camera] = tuple(zones)

    def remove_camera(self, camera: str) -> None:
        """Stop recording a camera: its segment in progress ends with what its buffer holds
        (on the recorder thread, at its next step)."""
        self._removed.put(camera)

    def start(self) -> None:
        self._thread.start()

    def seen(self, camera: str, wall: float, detections: sv.Detections) -> None:
        """Queue one analysed frame's detections (cheap: copies the arrays)."""
        if camera not in self.writers:
            return
        labels = detections.data.get("label")
        item = (
            camera,
            wall,
            np.array(detections.xyxy, dtype=np.float32),
            None if detections.confidence is None else np.array(detections.confidence),
            np.array([] if labels is None else labels, dtype=object),
            None if detections.tracker_id is None else np.array(detections.tracker_id),
        )
        try:
            self._seen.put_nowait(item)
        except queue.Full:
            self.seen_dropped += 1

    def close(self, timeout: float | None = 60.0) -> None:
        """Finish every segment in progress, write the frame log, stop the thread."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("recorder did not finish within %s s", timeout)

    def _run(self) -> None:
        self._cpu_start = time.thread_time()
        while not self._stop.wait(self.interval):
            self._step(final=False)
        self._step(final=True)

    def _step(self, final: bool) -> None:
        while not self._removed.empty():
            gone = self.writers.pop(self._removed.get_nowait(), None)
            if gone is not None:
                try:
                    gone.close()
                except Exception:
                    log.exception("recorder: camera %s failed", gone.camera)
        for camera, writer in list(self.writers.items()):
            try:
                writer.close() if final else writer.pump()
            except Exception:  # one camera's disk trouble must not stop the others
                log.exception("recorder: camera %s failed", camera)
        self._drain_seen()
        if final or time.monotonic() - self._flushed_at >= self.seen_flush_seconds:
            self._flush_seen()
        self.cpu_seconds = time.thread_time() - self._cpu_start

    def _drain_seen(self) -> None:
        while True:
            try:
                camera, wall, xyxy, conf, labels, tracks = self._seen.get_nowait()
            except queue.Empty:
                return
            found = frame_detections(xyxy, conf, labels, tracks, self._zones.get(camera, ()))
            self._batch.append((camera, wall, *encode_frame(found)))

    def _flush_seen(self) -> None:
        self._flushed_at = time.monotonic()
        if not self._batch:
            return
        try:
            self.index.add_seen(self._batch)
        except Exception as exc:  # the store is away: keep the batch (bounded) and retry
            log.warning("recorder: frame log not stored yet: %s", str(exc).splitlines()[0])
            if len(self._batch) > MAX_SEEN_QUEUE:
                self.seen_dropped += len(self._batch) - MAX_SEEN_QUEUE
                del self._batch[: len(self._batch) - MAX_SEEN_QUEUE]
            return
        self.seen_written += len(self._batch)
        self._batch = []
