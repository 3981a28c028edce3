"""The shared inference service with fake readers and pipelines: rates, order, the end."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

from vigil.analysis import AnalysedCamera, InferenceService
from vigil.pipeline import Analysis
from vigil.streams.frame import Frame
from vigil.streams.health import CameraHealth
from vigil.streams.reader import LatestFrame


class FakeReader:
    def __init__(self, live: bool, frames: int = 0) -> None:
        self.spec = SimpleNamespace(live=live)
        self.health = CameraHealth("cam")
        self.slot = LatestFrame()
        self.queued = [self._frame(i) for i in range(frames)]
        self.finished = not live
        self.taken = 0

    @staticmethod
    def _frame(i: int) -> Frame:
        return Frame(np.zeros((4, 4, 3), np.uint8), pts=i / 10, wall=1e9 + i, camera="c", index=i)

    def take(self):
        self.taken += 1
        if self.spec.live:
            return self.slot.take()
        return self.queued.pop(0) if self.queued else None

    @property
    def exhausted(self) -> bool:
        return not self.spec.live and not self.queued


class FakePipeline:
    def __init__(self, seconds: float = 0.0) -> None:
        self.detectors = []
        self.frames: list[Frame] = []
        self.finished_at = None
        self.seconds = seconds

    def analyse(self, frame, raw=None):
        time.sleep(self.seconds)
        self.frames.append(frame)
        return Analysis(frame, None, [])

    def finish(self, pts, wall):
        self.finished_at = (pts, wall)
        return []


def serve_to_the_end(service: InferenceService, timeout: float = 10.0) -> None:
    """Run ``service`` until every (recorded) camera is done, or ``timeout`` seconds."""
    service.start()
    deadline = time.monotonic() + timeout
    while not service.all_done and time.monotonic() < deadline:
        time.sleep(0.05)
    service.stop()
    service.join(5)


def feed(reader: FakeReader, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():  # a 25 fps camera
        reader.slot.put(FakeReader._frame(i))
        i += 1
        time.sleep(0.04)


def test_live_cameras_are_analysed_at_their_rate_and_files_to_their_end():
    live = AnalysedCamera("live", FakeReader(live=True), FakePipeline(), fps=5)
    recorded = AnalysedCamera("file", FakeReader(live=False, frames=30), FakePipeline(), fps=2)
    done = []
    service = InferenceService([live, recorded], on_events=lambda *a: None, on_done=done.append)
    stop = threading.Event()
    threading.Thread(target=feed, args=(live.reader, stop), daemon=True).start()
    service.start()
    time.sleep(2.0)
    service.stop()
    service.join(5)
    stop.set()
    assert 8 <= live.analysed <= 12  # 5 per second for 2 s, never a burst
    assert recorded.analysed == 30 and recorded.done and done == [recorded]
    assert recorded.pipeline.finished_at == (2.9, 1e9 + 29)  # ended at its last frame
    service.finish_all()
    assert live.done and live.pipeline.finished_at is not None


def test_a_slow_model_shares_time_fairly_and_counts_skips():
    cameras = [
        AnalysedCamera(f"c{i}", FakeReader(live=True), FakePipeline(seconds=0.1), fps=5)
        for i in range(3)
    ]
    stop = threading.Event()
    for camera in cameras:
        threading.Thread(target=feed, args=(camera.reader, stop), daemon=True).start()
    service = InferenceService(cameras, on_events=lambda *a: None)
    service.start()
    time.sleep(3.0)
    service.stop()
    service.join(5)
    stop.set()
    counts = [c.analysed for c in cameras]
    # 0.1 s per frame: ~10 frames/s shared by three cameras that each want 5.
    assert max(counts) - min(counts) <= 2, counts
    assert sum(counts) >= 20
    assert all(c.reader.health.snapshot().skipped > 0 for c in cameras)


class SideBySidePipeline(FakePipeline):
    """Three models that note how many of them run at once; raw is what the service ran."""

    def __init__(self) -> None:
        super().__init__()
        self.detectors = [SimpleNamespace(name=n) for n in ("ppe", "fall", "fire")]
        self.running = 0
        self.most_at_once = 0
        self.raws: list = []
        self._lock = threading.Lock()

    def plan(self, frame):
        return self.detectors

    def run_model(self, detector, frame):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        return f"{detector.name}@{frame.index}"

    def analyse(self, frame, raw=None):
        self.raws.append(raw)
        return super().analyse(frame, raw)


def test_model_threads_run_a_frames_models_side_by_side():
    for threads, side_by_side in ((1, False), (3, True)):
        pipeline = SideBySidePipeline()
        camera = AnalysedCamera("c", FakeReader(live=False, frames=4), pipeline, fps=2)
        service = InferenceService([camera], on_events=lambda *a: None, model_threads=threads)
        service.start()
        deadline = time.monotonic() + 10
        while not camera.done and time.monotonic() < deadline:
            time.sleep(0.01)
        service.stop()
        service.join(5)
        assert camera.analysed == 4
        if side_by_side:
            assert pipeline.most_at_once >= 2
            assert pipeline.raws == [
                {"ppe": f"ppe@{i}", "fall": f"fall@{i}", "fire": f"fire@{i}"} for i in range(4)
            ]
        else:  # one thread: the pipeline runs its models itself
            assert pipeline.raws == [None] * 4 and pipeline.most_at_once == 0
