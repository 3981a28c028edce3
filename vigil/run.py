"""`vigil run`: watch every camera of a site until told to stop.

One process: a reader thread per camera (:mod:`vigil.streams.reader`), one inference service
shared by all cameras (:mod:`vigil.analysis`), one evidence writer (:mod:`vigil.events.live`)
and the supervisor (:mod:`vigil.streams.supervisor`) on the main thread, which also publishes
camera health to the store. Everything the user gave is checked before anything starts.

Cameras are leased (:mod:`vigil.events.store.leases`; DESIGN.md, Past one machine): several
workers with the same site file and database share its cameras, each running those it holds a
lease on, renewed every ``worker.heartbeat_s`` by the main loop. A camera starts when its lease
is taken and stops when it is handed over (beyond this worker's share) or taken by another
worker (this one was silent past the TTL); alone, a worker holds them all.

Taking a camera: what its previous worker left is recovered first (:mod:`vigil.events.recovery`):
dead workers' journals are replayed, the camera's events left open are ended with the snapshot
and clip found on disk, stale temporary media files are removed.

Shutdown (SIGINT/SIGTERM, or ``duration`` elapsed): the analysis stops, readers stop, every
open violation is ended, every clip is finished with what the pre-roll buffer holds, the event
rows are closed, each camera's health is stored as ``stopped``, then the leases are released
(the other workers take the cameras at once). A database outage does not
stop the run: event changes wait in a journal on disk meanwhile (:mod:`vigil.events.live`).

Example::

    runner = SiteRunner(load_site_config(Path("site.yaml")))
    runner.run(stop_event)               # returns after stop_event is set
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from vigil.analysis import AnalysedCamera, InferenceService
from vigil.config import CameraConfig, ConfigError, SiteConfig
from vigil.detector.cards import ModelCard
from vigil.detector.detector import set_inference_threads
from vigil.events.alerts import AlertsConfig, AlertStore, build_dispatcher
from vigil.events.continuous import ContinuousRecorder
from vigil.events.live import LiveEvidenceWriter
from vigil.events.loop.worker import LoopWorker
from vigil.events.objectstore import ObjectStore
from vigil.events.recovery import recover
from vigil.events.retention import DiskFloor, RetentionWorker
from vigil.events.rules import Rule, build_rules
from vigil.events.segments import recover_segments
from vigil.events.store.drops import record_drop
from vigil.events.store.leases import CameraLeases, WorkerInfo
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.store import EventStore
from vigil.events.store.zones import ZoneStore
from vigil.events.uploads import MediaUploader
from vigil.events.zones import Zone
from vigil.pipeline import CameraPipeline, camera_detectors, cards_for_rules, input_sizes
from vigil.streams.file import SourceError, probe_video
from vigil.streams.health import CameraHealth, CameraState, Listener
from vigil.streams.reader import CameraReader, sources_shown
from vigil.streams.supervisor import Supervisor
from vigil.streams.timing import StageTimer
from vigil.zone_watch import ZoneWatcher, saved_rules

log = logging.getLogger(__name__)

# Seconds of pre-roll kept beyond what the rules need, for the evidence writer to catch up.
RING_SLACK_S = 5.0
# The analysis loop not turning for this long is hung (a first model call on a busy CPU can take
# several seconds): the worker stops renewing its leases so that another takes its cameras.
HUNG_ANALYSIS_S = 60.0
# Hung this long, the worker exits with EXIT_HUNG for its service manager (the compose file's
# restart policy, systemd) to start it again: a worker that silently stops looking is worse.
HUNG_EXIT_S = 180.0
EXIT_HUNG = 3
# How often a worker deletes delivered event changes and old delivery log rows.
PRUNE_EVERY_S = 600.0


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
    media_uploaded: int = 0  # files verified in the object store
    media_pending: int = 0  # still staged at the end: uploaded by the next run
    media_dropped: int = 0  # queued files gone before their upload
    # Per camera: analyses due that the busy service could not run (``late``), and per model
    # the frames it was skipped on by the gate (``model:still``, ``model:rate``).
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)


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

    def __init__(
        self,
        site: SiteConfig,
        *,
        data_dir: Path | None = None,
        cards: dict[str, ModelCard] | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        self.site = site
        self.data_dir = Path(data_dir or site.storage.data_dir)
        self.timer = timer
        cameras = site.enabled_cameras
        if not cameras:
            raise ConfigError("no enabled camera in the site")
        cards = cards if cards is not None else site.models.cards()
        plans = []
        for camera in cameras:
            _check_source(camera)
            rules = build_rules(camera.rules)
            try:
                chosen = cards_for_rules(rules, cards)
            except ConfigError as exc:
                raise ConfigError(f"camera {camera.id}: {exc}") from None
            input_sizes(camera, cards)
            plans.append((camera, rules, chosen))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = site.storage.database_url
        self.store = EventStore(url) if url else EventStore.for_data_dir(self.data_dir)
        try:  # alerts go out from the outbox (DESIGN.md, Alerts); channels checked here
            self._alerts = build_dispatcher(self.store, site.alerts, self.data_dir)
        except ValueError as exc:
            raise ConfigError(f"alerts: {exc}") from None
        self._zones = ZoneStore(self.store)
        self._applied: dict[str, int] = {}  # camera -> saved zones revision it starts with
        plans = [self._with_saved_zones(plan, cards) for plan in plans]
        # Each model is loaded once, however many cameras use it.
        self._plans = [
            (c, r, camera_detectors(c.id, chosen, c.input_size)) for c, r, chosen in plans
        ]
        worker = site.worker
        self.leases = CameraLeases(
            self.store, WorkerInfo.this_process(worker.max_cameras), worker.lease_ttl_s
        )
        self.worker = self.leases.worker.id
        self._site_cameras = [c.id for c, _, _ in self._plans]
        self._cameras: list[AnalysedCamera] = []  # every camera run, for the summary
        self._running: dict[str, AnalysedCamera] = {}  # by id, those this worker runs now
        self._leaving: dict[str, _Leaving] = {}  # being stopped
        self._loop: LoopWorker | None = None
        self.uploader: MediaUploader | None = None
        self.upload_close_seconds = 30.0  # at shutdown, how long uploads may still be tried
        self.hung_exit_s = HUNG_EXIT_S
        # One inference thread uses this many cores; the rest decode and write evidence.
        set_inference_threads(site.inference.threads)

    def _with_saved_zones(self, plan, cards):
        """The camera's plan with the zones saved through the API in place of the site
        file's; the file's, with a warning, when they cannot be applied."""
        camera, rules, chosen = plan
        saved = self._zones.latest(camera.id)
        if saved is None:
            return plan
        try:
            saved_plan = build_rules(saved_rules(camera, saved))
            saved_cards = cards_for_rules(saved_plan, cards)
        except (ConfigError, ValueError) as exc:
            log.warning(
                "camera %s: saved zones (rev %d) not applied, the site file's are: %s",
                camera.id,
                saved.revision,
                exc,
            )
            return plan
        self._applied[camera.id] = saved.revision
        log.info("camera %s: saved zones (rev %d) in force", camera.id, saved.revision)
        return camera, saved_plan, saved_cards

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
        self._wakeup = wakeup = threading.Event()
        uploader = self._uploader()
        on_media = None if uploader is None else uploader.enqueue
        self._writer = writer = LiveEvidenceWriter(
            self.store, self.data_dir, timer=self.timer, on_media=on_media
        )
        self._recorder, retention = self._recording(on_media)
        self.uploader = uploader
        recorder = self._recorder
        self._service = service = InferenceService(
            [],
            on_events=lambda camera, events: writer.submit(camera.id, events),
            on_done=lambda camera: writer.camera_done(camera.id),
            max_batch=self.site.inference.max_batch,
            model_threads=self.site.inference.model_threads,
            wakeup=wakeup,
            on_analysis=None
            if recorder is None
            else lambda c, a: recorder.seen(c.id, a.frame.wall, a.detections),
            timer=self.timer,
            clips_open=lambda: writer.open_count > 0,
        )
        self._supervisor = supervisor = Supervisor(
            [], publish=lambda snapshots: self.store.put_camera_health(snapshots, self.worker)
        )
        configs = {c.id: c for c, _, _ in self._plans}
        on_rules = None
        if recorder is not None:  # what the models saw is placed in the new zones too

            def on_rules(camera: str, rules: list[Rule]) -> None:
                recorder.set_zones(camera, _zones_of(configs[camera], rules))

        # Cameras join and leave the watcher as their leases come and go.
        self._zone_watch = zones = ZoneWatcher(
            self._zones, [], configs, self.data_dir, on_rules=on_rules
        )
        if self._alerts is not None:
            self._alerts.start()
        loop = self._loop_worker()
        writer.start()
        for part in (recorder, retention, uploader):
            if part is not None:
                part.start()
        supervisor.start()
        service.start()
        zones.start()
        try:
            self._start_leases()
            next_prune = time.monotonic()
            while not stop.wait(0.5):
                self._exit_if_hung()
                self._lease_tick()
                if time.monotonic() >= next_prune:
                    self.prune_alert_history()
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                supervisor.tick()
                if duration is not None and time.monotonic() - began >= duration:
                    break
                if self._running and service.all_done and not self._leaving:
                    log.info("every camera's source has ended")
                    break
        finally:
            self._loop = loop
            zones.stop()
            cameras = [*self._running.values(), *(x.camera for x in self._leaving.values())]
            self._shutdown(service, supervisor, writer, cameras, recorder, retention)
            if uploader is not None:
                uploader.close(self.upload_close_seconds)
        return RunSummary(
            seconds=time.monotonic() - began,
            frames_analysed={c.id: c.analysed for c in self._cameras},
            events_written=writer.written_events,
            reader_restarts=supervisor.restarts,
            events_raised=writer.raised_events,
            changes_journaled=writer.journaled_changes,
            changes_pending=writer.pending_changes,
            changes_lost=writer.lost_changes,
            media_uploaded=0 if uploader is None else uploader.uploaded,
            media_pending=0 if uploader is None else uploader.pending,
            media_dropped=0 if uploader is None else uploader.dropped,
            skipped={c.id: skip_counts(c) for c in self._cameras},
        )

    def _exit_if_hung(self) -> None:
        """End the process when a model call has not returned for ``hung_exit_s``: nothing
        short of that frees a thread stuck in a runtime's native code."""
        stalled = time.monotonic() - self._service.beat
        if self._running and stalled > self.hung_exit_s:
            log.critical(
                "the analysis has not turned for %.0f s (a model call hangs): exiting with "
                "status %d for the service manager to start the worker again",
                stalled,
                EXIT_HUNG,
            )
            logging.shutdown()
            os._exit(EXIT_HUNG)

    def prune_alert_history(self, now: float | None = None) -> tuple[int, int]:
        """Delete the changes every channel has had and the delivery log past its keep
        (``alerts.keep_*_days``); returns (changes, deliveries) deleted. Any worker may:
        what goes is what no dispatcher reads again."""
        config = self.site.alerts or AlertsConfig()
        now = time.time() if now is None else now
        changes_before, deliveries_before = config.prune_horizons(now)
        try:
            pruned = AlertStore(self.store).prune(changes_before, deliveries_before)
        except SQLAlchemyError as exc:
            log.warning("alerts: pruning old changes failed: %s", _first_line(exc))
            return 0, 0
        if any(pruned):
            log.info("alerts: deleted %d old changes and %d old deliveries", *pruned)
        return pruned

    # --- camera leases (DESIGN.md, Past one machine) -------------------------------------------

    def _start_leases(self) -> None:
        """Register this worker, free the leases of crashed workers of this host, and take a
        first share of the cameras before the main loop starts."""
        self._next_beat = 0.0
        self._claim_after = 0.0
        self._beat_failed_at = float("-inf")
        try:
            self.leases.register()
            dead = self.leases.free_dead_on_this_host()
            if dead:
                log.warning("lease: freed the cameras of %d crashed workers: %s", len(dead), dead)
        except SQLAlchemyError as exc:
            log.warning("lease: store unavailable at start: %s", _first_line(exc))
        self._lease_tick()

    def _lease_tick(self) -> None:
        """Every ``heartbeat_s``: renew our leases, claim our share, start the cameras taken,
        stop those another worker took, hand over those beyond our share."""
        self._advance_leaving()
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self.site.worker.heartbeat_s
        if self._running and now - self._service.beat > HUNG_ANALYSIS_S:
            # The analysis hangs: let the leases expire so that another worker takes over.
            log.error(
                "lease: the analysis has not turned for %.0f s; not renewing",
                now - self._service.beat,
            )
            return
        try:
            if self._beat_failed_at > float("-inf"):
                self.leases.register()  # our row may have been cleaned up meanwhile
            held, target = self.leases.heartbeat(self._site_cameras, claim=now >= self._claim_after)
        except SQLAlchemyError as exc:
            # The others may be cut off too: once the store is back, give each holder one
            # TTL to renew before treating its leases as expired.
            self._claim_after = now + self.site.worker.lease_ttl_s
            if now - self._beat_failed_at > 30:
                log.warning("lease: heartbeat failed, cameras keep running: %s", _first_line(exc))
            self._beat_failed_at = now
            return
        self._beat_failed_at = float("-inf")
        expiry = self.leases.next_expiry
        if expiry is not None:  # a worker gone silent: its leases are claimable from then on
            self._next_beat = min(self._next_beat, now + max(0.1, expiry - time.time() + 0.05))
        running = set(self._running)
        lost = running - held
        if lost:
            log.warning("lease: cameras %s taken by another worker; stopping them", sorted(lost))
            self._stop_cameras(sorted(lost), release=False)
        taken = sorted(held - running - set(self._leaving))
        if taken:
            try:
                self._start_cameras(taken)
            except SQLAlchemyError as exc:  # still ours: tried again at the next beat
                log.warning("lease: cameras %s not started yet: %s", taken, _first_line(exc))
        kept = sorted(set(self._running) & held)
        if len(kept) > target:
            log.info("lease: handing over cameras %s (share %d)", kept[target:], target)
            self._stop_cameras(kept[target:], release=True)

    def _start_cameras(self, ids: list[str]) -> None:
        """Recover what the previous holder left of these cameras, then run them."""
        recovered = recover(self.store, self.data_dir, ids)
        if recovered.ended:
            log.warning(
                "ended %d events left open by a previous run (%d with a recovered clip)",
                recovered.ended,
                recovered.salvaged,
            )
        plans = [p for p in self._plans if p[0].id in ids]
        self._recover_segments([c.id for c, _, _ in plans])
        for plan in plans:
            camera = self._camera(plan, self._writer, self._wakeup)
            self._add_recording(plan, camera)
            self._cameras.append(camera)
            self._zone_watch.add(camera)
            self._running[camera.id] = camera
            self._service.add(camera)
            self._supervisor.add(camera.reader)
        log.info("lease: took cameras %s; running %s", ids, sorted(self._running))

    def _stop_cameras(self, ids: list[str], *, release: bool) -> None:
        """Start stopping these cameras (:meth:`_advance_leaving` goes on, between heartbeats):
        open violations end, clips finish, then, if ``release``, the leases go (the next
        holder's recovery must find nothing open)."""
        for camera_id in ids:
            camera = self._running.pop(camera_id)
            self._zone_watch.remove(camera_id)
            self._leaving[camera_id] = _Leaving(camera, release, self._service.remove(camera_id))

    def _advance_leaving(self) -> None:
        for camera_id, leaving in list(self._leaving.items()):
            if leaving.written is None and leaving.analysed.is_set():
                self._supervisor.remove([camera_id], timeout=0.0)  # ends on its own
                if self._recorder is not None:
                    self._recorder.remove_camera(camera_id)
                self._writer.camera_done(camera_id)
                leaving.camera.reader.health.stopped()
                leaving.written = threading.Event()
                self._writer.after(leaving.written.set)
            elif leaving.written is not None and leaving.written.is_set():
                del self._leaving[camera_id]
                if leaving.release:
                    self._release([camera_id])
                log.info("lease: gave up camera %s; running %s", camera_id, sorted(self._running))

    def _release(self, ids: list[str] | None = None) -> None:
        try:
            if ids is None:
                self.leases.unregister()
            else:
                self.leases.release(ids)
        except SQLAlchemyError as exc:  # they expire at their TTL instead
            log.warning("lease: could not release %s: %s", ids or "the leases", _first_line(exc))

    def _uploader(self) -> MediaUploader | None:
        """The upload queue of the site's media, when it has an object store."""
        settings = self.site.storage.object_store()
        if settings is None:
            return None
        keep = self.site.storage.keep_local_hours * 3600
        return MediaUploader(
            ObjectStore(settings),
            self.data_dir,
            keep_local_seconds=keep,
            on_drop=lambda path, reason: record_drop(self.store, path, reason),
        )

    def _recording(
        self, on_segment: Callable[[Path], object] | None = None
    ) -> tuple[ContinuousRecorder | None, RetentionWorker | None]:
        """The recorder and retention (cameras join as they are taken), when any camera of
        the site has ``record.enabled``; else None."""
        if not any(self.site.record_of(c).enabled for c, _, _ in self._plans):
            return None, None
        self._index = RecordingIndex(self.store)
        self._policies: dict = {}
        storage = self.site.storage
        floor = DiskFloor(storage.min_free_gb, storage.min_free_percent)
        recorder = ContinuousRecorder(self._index, self.data_dir, on_segment=on_segment)
        settings = storage.object_store()
        objects = None if settings is None else ObjectStore(settings)
        return recorder, RetentionWorker(
            self._index,
            self.data_dir,
            self._policies,
            floor,
            objects=objects,
            keep_local_hours=storage.keep_local_hours,
        )

    def _recover_segments(self, ids: list[str]) -> None:
        recorded = [c.id for c, _, _ in self._plans if c.id in ids and self._records(c)]
        if not recorded or self._recorder is None:
            return
        found = recover_segments(self._index, self.data_dir, recorded)
        if found.salvaged or found.indexed or found.swept:
            log.warning(
                "recordings of a previous run: %d unfinished segments salvaged, %d indexed, "
                "%d temporary files removed",
                found.salvaged,
                found.indexed,
                found.swept,
            )

    def _records(self, camera: CameraConfig) -> bool:
        return self.site.record_of(camera).enabled

    def _add_recording(self, plan, camera: AnalysedCamera) -> None:
        config, rules, _ = plan
        if self._recorder is None or not self.site.record_of(config).enabled:
            return
        reader = camera.reader
        settings = self.site.record_of(config).settings(reader.options.picture_fps)
        self._policies[camera.id] = settings
        self._recorder.add_camera(
            camera.id,
            reader.ring,
            settings,
            lambda t, reader=reader: reader.wall_origin + t,
            _zones_of(config, rules),
        )

    def _camera(self, plan, writer: LiveEvidenceWriter, wakeup: threading.Event) -> AnalysedCamera:
        camera, rules, detectors = plan
        spec = camera.spec
        evidence = self.site.evidence_of(camera)
        reconnect = self.site.reconnect_of(camera)
        confirm = max((r.params.confirmation_duration for r in rules), default=0.0)
        options = self.site.reader_options(
            camera, ring_seconds=evidence.pre_seconds + confirm + RING_SLACK_S
        )
        shown = sources_shown(spec, camera.detect_spec)
        health = CameraHealth(
            camera.id, name=camera.name, source=shown, fail_after=reconnect.fail_after
        )
        health.listeners.extend(self._listeners)
        reader = CameraReader(
            camera.id,
            spec,
            options,
            health,
            on_gap=writer.gap,
            wakeup=wakeup,
            detect=camera.detect_spec,  # decoded for detection; spec is then only recorded
        )
        reader.timer = self.timer
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
            camera.id,
            rules,
            detectors,
            fps=camera.fps,
            clock="wall" if spec.live else "pts",
            gating=self.site.gating_of(camera).settings(),
            timer=self.timer,
        )
        pipeline.zone_revision = self._applied.get(camera.id, 0)
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
        self._release()  # after the last evidence and health: the next holder finds them done
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


@dataclass(slots=True)
class _Leaving:
    """A camera being stopped: first the analysis lets it go (its violations end), then its
    evidence is written; then its lease is released if ``release``."""

    camera: AnalysedCamera
    release: bool
    analysed: threading.Event
    written: threading.Event | None = None


def skip_counts(camera: AnalysedCamera) -> dict[str, int]:
    """Why a camera's frames or models were skipped: ``late`` (the service was busy), and
    ``MODEL:still`` / ``MODEL:rate`` (the gate, :mod:`vigil.gating`); and ``MODEL:regions``,
    the frames a model ran on motion regions only (gating ``crop``), where there were any."""
    counts = {"late": camera.reader.health.skipped}
    gate = camera.pipeline.gate
    if gate is not None:
        counts |= {f"{model}:{why}": n for (model, why), n in sorted(gate.skipped.items())}
        counts |= {f"{model}:regions": n for model, n in sorted(gate.cropped.items())}
    return counts


def _zones_of(camera: CameraConfig, rules: list[Rule]) -> list[Zone]:
    """The camera's named zones and those its rules use, once per name (a zone saved in the
    console wins over a file's zone of the same name)."""
    zones = {z.name: z for z in camera.zones}
    for rule in rules:
        for zone in rule.params.zones or ():
            zones[zone.name] = zone
    return list(zones.values())


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _log_state(camera: str, state: CameraState, error: str | None) -> None:
    level = logging.WARNING if state in (CameraState.FAILED, CameraState.STALLED) else logging.INFO
    log.log(level, "camera %s: %s%s", camera, state.value, f" ({error})" if error else "")
