"""The inference service of a worker: one thread that runs the shared models for every camera.

Models are loaded once per process (:func:`vigil.pipeline.load_detectors`) and only this
thread calls them, so no model is ever used by two threads at once (ultralytics predictors are
not thread-safe). Each camera is analysed at its own rate: a live camera is *due* every
``1/fps`` seconds and then gets the newest frame its reader holds; a recorded file gets its next
sampled frame whenever the service has time. Cameras take turns (round robin), so a file read
as fast as possible cannot starve a live camera.

Frames are run one at a time by default. With ``max_batch > 1``, the frames due together that
have the same size are run through each model in one call. On the 2-core development CPU that
gained 8-13 % throughput for cameras of one size (``benchmarks/live_capacity.py
--same-footage --max-batch``), the helmet model alone ran slower batched, and frames of mixed
sizes gain nothing (a mixed batch is letterboxed to one square size:
``benchmarks/inference_batching.py``); so it is off unless configured, which also keeps each
frame's latency to its own models' time.

With ``model_threads > 1`` the models due on a frame run side by side on that many threads
(OpenVINO and PyTorch release the GIL while they compute), so one camera's three models use
more than one core; each model still runs on one frame at a time.

Example::

    service = InferenceService(cameras, on_analysis=handle, max_batch=1)
    service.start()
    ...
    service.stop(); service.join()
    leftover = service.finish_all()    # ends every open violation
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import supervision as sv

from vigil.detector.detector import Detector
from vigil.events.violation import LifecycleEvent
from vigil.pipeline import Analysis, CameraPipeline
from vigil.streams.frame import Frame
from vigil.streams.reader import CameraReader
from vigil.streams.timing import StageTimer, timed

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AnalysedCamera:
    """A camera as the service sees it: where its frames come from and what analyses them."""

    id: str
    reader: CameraReader
    pipeline: CameraPipeline
    fps: float
    next_due: float = 0.0  # monotonic time the next live frame is due
    last_frame: Frame | None = None
    analysed: int = 0
    done: bool = False  # a recorded source that was analysed to its end
    errors: int = field(default=0)
    last_analysed: float = 0.0  # monotonic time of the last analysis

    @property
    def live(self) -> bool:
        return self.reader.spec.live


AnalysisListener = Callable[[AnalysedCamera, list[LifecycleEvent]], None]
FrameListener = Callable[[AnalysedCamera, Analysis], None]


class InferenceService:
    """Runs every camera's frames through the shared models, then its tracker, rules and
    lifecycle (:class:`~vigil.pipeline.CameraPipeline`); hands the lifecycle events on.

    Args:
        cameras: the cameras of this worker.
        on_events: called (on the service thread) with each analysed frame's events; must
            not block (the evidence writer only queues them).
        on_done: called when a recorded source has been analysed to its end.
        max_batch: frames of the same size run through a model in one call.
        wakeup: set by readers when a frame is ready; the service sleeps on it.
        timer: collects stage timings (models in batches, analysis gaps), when given.
        clips_open: whether clips are being written now; the gaps between a live camera's
            analyses then also count as ``gap_while_clips``.
    """

    def __init__(
        self,
        cameras: list[AnalysedCamera],
        on_events: AnalysisListener,
        *,
        on_done: Callable[[AnalysedCamera], None] | None = None,
        max_batch: int = 1,
        wakeup: threading.Event | None = None,
        on_analysis: FrameListener | None = None,
        timer: StageTimer | None = None,
        clips_open: Callable[[], bool] | None = None,
        model_threads: int = 1,
    ) -> None:
        self.cameras = cameras
        self.timer = timer
        self.clips_open = clips_open
        self.on_analysis = on_analysis
        self.on_events = on_events
        self.on_done = on_done
        self.max_batch = max_batch
        self._models = (
            ThreadPoolExecutor(model_threads, thread_name_prefix="vigil-model")
            if model_threads > 1
            else None
        )
        self.wakeup = wakeup or threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._turn = 0
        self._removals: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self.beat = time.monotonic()  # the service loop's last turn: a hung model call stops it

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        if self._models is not None and not self._thread.is_alive():
            self._models.shutdown(wait=False)

    def add(self, camera: AnalysedCamera) -> None:
        """Analyse one more camera from now on (any thread)."""
        self.cameras = [*self.cameras, camera]  # replaced, never changed: the loop's copy holds
        self.wakeup.set()

    def remove(self, camera_id: str) -> threading.Event:
        """Stop analysing a camera: its open violations are ended (``on_events``) and
        ``on_done`` called, on the service thread between two frames. The event returned is
        set once that is done."""
        done = threading.Event()
        self._removals.put((camera_id, done))
        self.wakeup.set()
        if not self._thread.is_alive():
            self._apply_removals()
        return done

    @property
    def all_done(self) -> bool:
        return all(c.done for c in self.cameras)

    def finish_all(self) -> None:
        """End every open violation of every camera (after :meth:`stop` and :meth:`join`)."""
        self._apply_removals()
        for camera in self.cameras:
            if not camera.done:
                self._finish(camera)

    # --- the service thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self.beat = time.monotonic()
            self._apply_removals()
            now = time.monotonic()
            worked = False
            due = self._due(now)
            if self.max_batch > 1:
                taken = [(c, f) for c in due if (f := self._take(c, now)) is not None]
                self._analyse_batch(taken)
                worked = bool(taken)
            else:
                for camera in due:
                    if self._stop.is_set():
                        break
                    # Taken just before its turn, so the frame is as fresh as it can be.
                    frame = self._take(camera, time.monotonic())
                    if frame is not None:
                        self._analyse(camera, frame, None)
                        worked = True
            if not worked:
                self._retire_finished()
                self.wakeup.wait(self._sleep(now))
                self.wakeup.clear()

    def _apply_removals(self) -> None:
        while True:
            try:
                camera_id, done = self._removals.get_nowait()
            except queue.Empty:
                return
            gone = [c for c in self.cameras if c.id == camera_id]
            self.cameras = [c for c in self.cameras if c.id != camera_id]
            for camera in gone:
                if not camera.done:
                    self._finish(camera)
            done.set()

    def _due(self, now: float) -> list[AnalysedCamera]:
        n = len(self.cameras)
        self._turn = (self._turn + 1) % max(n, 1)
        order = self.cameras[self._turn :] + self.cameras[: self._turn]
        return [c for c in order if not c.done and (not c.live or now >= c.next_due)]

    def _take(self, camera: AnalysedCamera, now: float) -> Frame | None:
        frame = camera.reader.take()
        if frame is None and camera.live:
            # No frame yet (stalled, reconnecting): lateness counts from now, not from before.
            camera.next_due = max(camera.next_due, now) if camera.next_due else 0.0
        if frame is not None and camera.live:
            interval = 1.0 / camera.fps
            late = now - camera.next_due
            if camera.next_due and late >= interval:
                camera.reader.health.skip(int(late / interval))
            # Behind schedule (a slow model): analyse as soon as possible, never in a burst.
            camera.next_due = max(camera.next_due + interval, now)
        return frame

    def _sleep(self, now: float) -> float:
        # Cameras already due but without a frame wake the service through ``wakeup``.
        waits = [c.next_due - now for c in self.cameras if c.live and c.next_due > now]
        return min(max(min(waits, default=0.1), 0.005), 0.1)

    def _analyse(
        self, camera: AnalysedCamera, frame: Frame, raw: dict[str, sv.Detections] | None
    ) -> None:
        try:
            if raw is None and self._models is not None:
                raw = self._models_side_by_side(camera, frame)
            analysis: Analysis = camera.pipeline.analyse(frame, raw)
        except Exception:
            camera.errors += 1
            if camera.errors <= 3 or camera.errors % 100 == 0:
                log.exception("camera %s: analysis failed (%d times)", camera.id, camera.errors)
            return
        camera.last_frame = frame
        camera.analysed += 1
        if self.timer is not None and camera.live:
            now = time.monotonic()
            if camera.last_analysed:
                gap = now - camera.last_analysed
                self.timer.add("gap", gap)
                if self.clips_open is not None and self.clips_open():
                    self.timer.add("gap_while_clips", gap)
            camera.last_analysed = now
        camera.reader.health.analysed()
        if self.on_analysis is not None:
            self.on_analysis(camera, analysis)
        if analysis.events:
            self.on_events(camera, analysis.events)

    def _models_side_by_side(
        self, camera: AnalysedCamera, frame: Frame
    ) -> dict[str, sv.Detections] | None:
        """The frame's due models, run on the model threads; None when fewer than two are due
        (the pipeline runs that one itself)."""
        due = camera.pipeline.plan(frame)
        if len(due) < 2:
            return None

        def run(detector: Detector) -> sv.Detections:
            with timed(self.timer, f"model:{detector.name}"):
                return camera.pipeline.run_model(detector, frame)

        assert self._models is not None
        return dict(zip((d.name for d in due), self._models.map(run, due), strict=True))

    def _analyse_batch(self, taken: list[tuple[AnalysedCamera, Frame]]) -> None:
        """Each model once per group of same-sized frames (and the same input size: a camera
        may run a model at its own, ``input_size``), then each camera's pipeline."""
        raw: dict[str, dict[str, sv.Detections]] = {c.id: {} for c, _ in taken}
        due: dict[str, set[str]] = {}
        groups: dict[tuple, tuple[Detector, list[tuple[AnalysedCamera, Frame]]]] = {}
        for c, f in taken:
            due[c.id] = {d.name for d in c.pipeline.plan(f)}
            for d in c.pipeline.detectors:
                if d.name not in due[c.id]:
                    continue
                if c.pipeline.regions(d.name) is None:
                    key = (d.name, d.card.imgsz, f.shape)
                    groups.setdefault(key, (d, []))[1].append((c, f))
                    continue
                try:  # only parts of the frame moved: its crops, on their own
                    with timed(self.timer, f"model:{d.name}"):
                        raw[c.id][d.name] = c.pipeline.detect_regions(d, f)
                except Exception:
                    log.exception("model %s failed on the regions of %s", d.name, c.id)
        for detector, group in groups.values():
            for i in range(0, len(group), self.max_batch):
                chunk = group[i : i + self.max_batch]
                try:
                    with timed(self.timer, f"model:{detector.name}"):
                        results = detector.batch([f.image for _, f in chunk])
                except Exception:
                    log.exception("model %s failed on a batch of %d", detector.name, len(chunk))
                    continue
                for (c, _), result in zip(chunk, results, strict=True):
                    raw[c.id][detector.name] = result
        for camera, frame in taken:
            if len(raw[camera.id]) == len(due[camera.id]):
                self._analyse(camera, frame, raw[camera.id])

    def _retire_finished(self) -> None:
        for camera in self.cameras:
            if not camera.done and not camera.live and camera.reader.exhausted:
                self._finish(camera)

    def _finish(self, camera: AnalysedCamera) -> None:
        last = camera.last_frame
        pts, wall = (last.pts, last.wall) if last is not None else (0.0, time.time())
        events = camera.pipeline.finish(pts, wall)
        camera.done = True
        if events:
            self.on_events(camera, events)
        if self.on_done is not None:
            self.on_done(camera)
