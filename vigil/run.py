"""`vigil run`: watch every camera of a site until told to stop.

One process: a reader thread per camera (:mod:`vigil.streams.reader`), one inference service
shared by all cameras (:mod:`vigil.analysis`), one evidence writer (:mod:`vigil.events.live`)
and the supervisor (:mod:`vigil.streams.supervisor`) on the main thread, which also publishes
camera health to the store. Everything the user gave is checked before anything starts.

Start-up: what a killed worker left is recovered first (:mod:`vigil.events.recovery`): dead
workers' journals are replayed, events left open are ended with the snapshot and clip found on
disk, stale temporary media files are removed.

Shutdown (SIGINT/SIGTERM, or ``duration`` elapsed): the analysis stops, readers stop, every
open violation is ended, every clip is finished with what the pre-roll buffer holds, the event
rows are closed, and each camera's health is stored as ``stopped``. A database outage does not
stop the run: event changes wait in a journal on disk meanwhile (:mod:`vigil.events.live`).

Example::

    runner = SiteRunner(load_site_config(Path("site.yaml")))
    runner.run(stop_event)               # returns after stop_event is set
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vigil.analysis import AnalysedCamera, InferenceService
from vigil.config import CameraConfig, ConfigError, SiteConfig
from vigil.detector.detector import set_inference_threads
from vigil.events.alerts import build_dispatcher
from vigil.events.continuous import ContinuousRecorder
from vigil.events.live import LiveEvidenceWriter
from vigil.events.loop.worker import LoopWorker
from vigil.events.recovery import recover
from vigil.events.retention import DiskFloor, RetentionWorker
from vigil.events.rules import build_rules
from vigil.events.segments import recover_segments
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.store import EventStore
from vigil.events.zones import Zone
from vigil.pipeline import CameraPipeline, cards_for_rules, load_detectors
from vigil.streams.file import SourceError, probe_video
from vigil.streams.health import CameraHealth, CameraState, Listener
from vigil.streams.reader import CameraReader
from vigil.streams.supervisor import Supervisor

log = logging.getLogger(__name__)

# Seconds of pre-roll kept beyond what the rules need, for the evidence writer to catch up.
RING_SLACK_S = 5.0


@dataclass(frozen=True, slots=True)
class RunSummary:
    seconds: float
    frames_analysed: dict[str, int]
    events_written: int
    reader_restarts: int
    events_raised: int = 0  # violations the analysis opened
    changes_journaled: int = 0  # event changes that waited in the journal (store outages)
    changes_pending: int = 0  # still waiting at the end: stored by the next run
    changes_lost: int = 0  # refused by the journal's disk too


def _check_source(camera: CameraConfig) -> None:
    """Recorded sources are checked whole before the run starts, as `vigil detect` does."""
    if camera.spec.kind == "file":
        try:
            probe_video(Path(camera.spec.url))
        except SourceError as exc:
            raise SourceError(f"camera {camera.id}: {exc}") from None


class SiteRunner:
    """A site checked and its models loaded, ready to run (see the module docstring).

    Raises ConfigError, CardError or SourceError (one line each) for anything wrong in the
    site file, and SQLAlchemy errors when the database cannot be reached.
    """

    def __init__(self, site: SiteConfig, *, data_dir: Path | None = None) -> None:
        self.site = site
        self.data_dir = Path(data_dir or site.storage.data_dir)
        cameras = site.enabled_cameras
        if not cameras:
            raise ConfigError("no enabled camera in the site")
        cards = site.models.cards()
        plans = []
        for camera in cameras:
            _check_source(camera)
            rules = build_rules(camera.rules)
            try:
                chosen = cards_for_rules(rules, cards)
            except ConfigError as exc:
                raise ConfigError(f"camera {camera.id}: {exc}") from None
            plans.append((camera, rules, chosen))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = site.storage.database_url
        self.store = EventStore(url) if url else EventStore.for_data_dir(self.data_dir)
        try:  # alerts go out from the outbox (DESIGN.md, Alerts); channels checked here
            self._alerts = build_dispatcher(self.store, site.alerts, self.data_dir)
        except ValueError as exc:
            raise ConfigError(f"alerts: {exc}") from None
        # Each model is loaded once, however many cameras use it.
        self._plans = [(c, r, load_detectors(chosen)) for c, r, chosen in plans]
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._cameras: list[AnalysedCamera] = []
        self._loop: LoopWorker | None = None
        # One inference thread uses this many cores; the rest decode and write evidence.
        set_inference_threads(site.inference.threads)

    def analysed_counts(self) -> dict[str, int]:
        """Frames analysed so far per camera (while :meth:`run` runs)."""
        return {c.id: c.analysed for c in self._cameras}

    def run(
        self,
        stop: threading.Event,
        duration: float | None = None,
        listeners: list[Listener] | None = None,
    ) -> RunSummary:
        """Run until ``stop`` is set, ``duration`` seconds passed, or every camera is a recorded
        source read to its end. Shuts down cleanly in all three cases. ``listeners`` hear
        every camera's state changes (besides the log)."""
        began = time.monotonic()
        self._listeners = [_log_state, *(listeners or [])]
        recovered = recover(self.store, self.data_dir, [c.id for c, _, _ in self._plans])
        if recovered.ended:
            log.warning(
                "ended %d events left open by a previous run (%d with a recovered clip)",
                recovered.ended,
                recovered.salvaged,
            )
        wakeup = threading.Event()
        writer = LiveEvidenceWriter(self.store, self.data_dir)
        cameras = [self._camera(plan, writer, wakeup) for plan in self._plans]
        self._cameras = cameras
        recorder, retention = self._recording(cameras)
        service = InferenceService(
            cameras,
            on_events=lambda camera, events: writer.submit(camera.id, events),
            on_done=lambda camera: writer.camera_done(camera.id),
            max_batch=self.site.inference.max_batch,
            wakeup=wakeup,
            on_analysis=None
            if recorder is None
            else lambda c, a: recorder.seen(c.id, a.frame.wall, a.detections),
        )
        supervisor = Supervisor(
            [c.reader for c in cameras],
            publish=lambda snapshots: self.store.put_camera_health(snapshots, self.worker),
        )
        if self._alerts is not None:
            self._alerts.start()
        loop = self._loop_worker()
        writer.start()
        for part in (recorder, retention):
            if part is not None:
                part.start()
        supervisor.start()
        service.start()
        log.info("watching %d cameras", len(cameras))
        try:
            while not stop.wait(0.5):
                supervisor.tick()
                if duration is not None and time.monotonic() - began >= duration:
                    break
                if service.all_done:
                    log.info("every camera's source has ended")
                    break
        finally:
            self._loop = loop
            self._shutdown(service, supervisor, writer, cameras, recorder, retention)
        return RunSummary(
            seconds=time.monotonic() - began,
            frames_analysed={c.id: c.analysed for c in cameras},
            events_written=writer.written_events,
            reader_restarts=supervisor.restarts,
            events_raised=writer.raised_events,
            changes_journaled=writer.journaled_changes,
            changes_pending=writer.pending_changes,
            changes_lost=writer.lost_changes,
        )

    def _recording(
        self, cameras: list[AnalysedCamera]
    ) -> tuple[ContinuousRecorder | None, RetentionWorker | None]:
        """The recorder and retention of the cameras with ``record.enabled`` (none: None)."""
        configs = {c.id: c for c, _, _ in self._plans}
        recorded = [c for c in cameras if self.site.record_of(configs[c.id]).enabled]
        if not recorded:
            return None, None
        index = RecordingIndex(self.store)
        found = recover_segments(index, self.data_dir, [c.id for c in recorded])
        if found.salvaged or found.indexed or found.swept:
            log.warning(
                "recordings of a previous run: %d unfinished segments salvaged, %d indexed, "
                "%d temporary files removed",
                found.salvaged,
                found.indexed,
                found.swept,
            )
        recorder = ContinuousRecorder(index, self.data_dir)
        policies = {}
        for camera in recorded:
            config = configs[camera.id]
            settings = self.site.record_of(config).settings(camera.reader.options.picture_fps)
            policies[camera.id] = settings
            reader = camera.reader
            recorder.add_camera(
                camera.id,
                reader.ring,
                settings,
                lambda t, reader=reader: reader.wall_origin + t,
                _zones_of(config),
            )
        storage = self.site.storage
        floor = DiskFloor(storage.min_free_gb, storage.min_free_percent)
        return recorder, RetentionWorker(index, self.data_dir, policies, floor)

    def _camera(self, plan, writer: LiveEvidenceWriter, wakeup: threading.Event) -> AnalysedCamera:
        camera, rules, detectors = plan
        spec = camera.spec
        evidence = self.site.evidence_of(camera)
        reconnect = self.site.reconnect_of(camera)
        confirm = max((r.params.confirmation_duration for r in rules), default=0.0)
        options = self.site.reader_options(
            camera, ring_seconds=evidence.pre_seconds + confirm + RING_SLACK_S
        )
        health = CameraHealth(
            camera.id, name=camera.name, source=spec.display, fail_after=reconnect.fail_after
        )
        health.listeners.extend(self._listeners)
        reader = CameraReader(camera.id, spec, options, health, on_gap=writer.gap, wakeup=wakeup)
        writer.add_camera(
            camera.id,
            reader.ring,
            source=spec.display,
            pre_seconds=evidence.pre_seconds,
            post_seconds=evidence.post_seconds,
            picture_fps=options.picture_fps,
            health=health,
        )
        pipeline = CameraPipeline(
            camera.id, rules, detectors, fps=camera.fps, clock="wall" if spec.live else "pts"
        )
        return AnalysedCamera(camera.id, reader, pipeline, camera.fps)

    def _shutdown(
        self,
        service: InferenceService,
        supervisor: Supervisor,
        writer: LiveEvidenceWriter,
        cameras: list[AnalysedCamera],
        recorder: ContinuousRecorder | None = None,
        retention: RetentionWorker | None = None,
    ) -> None:
        log.info("stopping: ending open violations and finishing clips")
        service.stop()
        service.join(timeout=120)  # a model call in progress finishes first
        supervisor.stop()
        if recorder is not None:
            recorder.close()  # the segments in progress end with what the buffers hold
            log.info("recorder: %.2f s of CPU", recorder.cpu_seconds)
        if retention is not None:
            retention.stop()
        service.finish_all()
        for camera in cameras:
            writer.camera_done(camera.id)
        writer.close()
        for camera in cameras:
            camera.reader.health.stopped()
        supervisor.tick(force=True)
        if self._loop is not None:
            time.sleep(self._loop.poll_interval * 2)  # the events just ended get dispatched
            self._loop.stop()
        if self._alerts is not None:
            self._alerts.stop(drain=3.0)  # the last changes go out; the rest on the next start
        self.store.dispose()

    def _loop_worker(self) -> LoopWorker | None:
        """Auto-dispatch and the overdue checker (DESIGN.md, Events), when the site has any."""
        if not self.site.dispatch and not self.site.escalation:
            return None
        wake = self._alerts.wake if self._alerts is not None else None
        return LoopWorker(
            self.store, self.site.dispatch, self.site.escalation, on_change=wake
        ).start()


def _zones_of(camera: CameraConfig) -> list[Zone]:
    """The camera's named zones and those its rules define, once per name."""
    zones = {z.name: z for z in camera.zones}
    for params in camera.rules.enabled().values():
        for zone in getattr(params, "zones", None) or ():
            zones.setdefault(zone.name, zone)
    return list(zones.values())


def _log_state(camera: str, state: CameraState, error: str | None) -> None:
    level = logging.WARNING if state in (CameraState.FAILED, CameraState.STALLED) else logging.INFO
    log.log(level, "camera %s: %s%s", camera, state.value, f" ({error})" if error else "")
