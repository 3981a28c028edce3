"""Zones saved in the console, applied by a running `vigil run`; and each camera's newest frame
kept on disk for the console to draw zones on.

A :class:`ZoneWatcher` thread asks the store every ``poll_s`` seconds for the newest revision of
every camera's saved zones (one grouped query over a small table). When a camera of this worker
has a newer one, its rules are rebuilt from the site file's with the saved zones in place of
the file's (:meth:`~vigil.events.rules.params.RulesConfig.with_camera_zones`) and handed to the
camera's pipeline, which swaps them in on its next analysed frame and logs
``camera X: zones updated (rev N)``: within ``poll_s`` plus the time to the camera's next
analysed frame (measured 0.7-3.0 s from the PUT with 2 s polls: benchmarks/zone_pickup.py).

Example::

    watcher = ZoneWatcher(ZoneStore(store), cameras, configs, data_dir, applied={"gate-3": 2})
    watcher.start()
    ...
    watcher.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from vigil.analysis import AnalysedCamera
from vigil.config import CameraConfig, describe_validation_error
from vigil.events.evidence import EvidenceError, write_latest_frame
from vigil.events.rules import Rule, RulesConfig, build_rules
from vigil.events.store.zones import ZoneRevision, ZoneStore
from vigil.events.zones import CameraZones

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often the store is asked for new zones: a save applies within ~3 s
FRAME_EVERY_S = 5.0  # how often each camera's newest frame is written for the zones editor


def saved_rules(camera: CameraConfig, saved: ZoneRevision) -> RulesConfig:
    """The camera's rules with a saved revision's zones in place of the site file's.

    Raises ValueError (one line) when the stored zones no longer validate."""
    try:
        zones = CameraZones(zones=saved.zones).zones
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None
    return camera.rules.with_camera_zones(zones)


class ZoneWatcher:
    """The thread described in the module docstring.

    Args:
        zones: the store's saved zones.
        cameras: this worker's analysed cameras (more join with :meth:`add`).
        configs: their site configs, by camera id.
        data_dir: where the newest frames are kept (``media/<camera>/latest.jpg``).
        applied: the revision each camera started with (none: the site file's zones).
        on_rules: told each camera's new rules as they are handed to its pipeline.
    """

    def __init__(
        self,
        zones: ZoneStore,
        cameras: list[AnalysedCamera],
        configs: Mapping[str, CameraConfig],
        data_dir: Path,
        applied: Mapping[str, int] | None = None,
        *,
        poll_s: float = POLL_S,
        frame_every_s: float = FRAME_EVERY_S,
        on_rules: Callable[[str, list[Rule]], None] | None = None,
    ) -> None:
        self.zones = zones
        self.configs = configs
        self.data_dir = Path(data_dir)
        self.applied = dict(applied or {})
        self._lock = threading.Lock()  # cameras join and leave while the thread polls
        self.cameras: dict[str, AnalysedCamera] = {}
        for camera in cameras:
            self.add(camera)
        self.poll_s = poll_s
        self.frame_every_s = frame_every_s
        self.on_rules = on_rules
        self._written: dict[str, tuple[int, float]] = {}  # camera -> (id of frame, when)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zone-watch", daemon=True)
        self._store_down = False

    def add(self, camera: AnalysedCamera) -> None:
        """Watch a camera from now on; its pipeline's ``zone_revision`` is the revision its
        rules were built from."""
        with self._lock:
            self.cameras[camera.id] = camera
            known = self.applied.get(camera.id, 0)
            self.applied[camera.id] = getattr(camera.pipeline, "zone_revision", known)

    def remove(self, camera_id: str) -> None:
        """Stop watching a camera (another worker took it)."""
        with self._lock:
            self.cameras.pop(camera_id, None)
            self.applied.pop(camera_id, None)

    def start(self) -> ZoneWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self.keep_frames()
            self._stop.wait(self.poll_s)

    def poll(self) -> list[str]:
        """One look at the store: stage the newer zones of this worker's cameras. Returns the
        cameras staged. A store that cannot be reached is logged once and tried again."""
        try:
            revisions = self.zones.revisions()
            staged = []
            with self._lock:
                for camera, revision in revisions.items():
                    if camera in self.cameras and revision > self.applied.get(camera, 0):
                        self._stage(camera)
                        staged.append(camera)
        except SQLAlchemyError as exc:
            if not self._store_down:
                log.warning(
                    "zones: the store cannot be read (%s); trying again", type(exc).__name__
                )
            self._store_down = True
            return []
        self._store_down = False
        return staged

    def _stage(self, camera: str) -> None:
        saved = self.zones.latest(camera)
        if saved is None:
            return
        self.applied[camera] = saved.revision
        try:
            rules: list[Rule] = build_rules(saved_rules(self.configs[camera], saved))
        except ValueError as exc:
            log.error(
                "camera %s: saved zones (rev %d) not applied: %s", camera, saved.revision, exc
            )
            return
        self.cameras[camera].pipeline.stage_rules(rules, saved.revision)
        if self.on_rules is not None:
            self.on_rules(camera, rules)

    def keep_frames(self) -> None:
        """Write each camera's newest analysed frame, at most every ``frame_every_s``."""
        now = time.monotonic()
        with self._lock:
            cameras = list(self.cameras.values())
        for camera in cameras:
            frame = camera.last_frame
            if frame is None:
                continue
            last_id, last_at = self._written.get(camera.id, (0, -self.frame_every_s))
            if id(frame) == last_id or now - last_at < self.frame_every_s:
                continue
            try:
                write_latest_frame(frame.image, self.data_dir, camera.id)
            except (OSError, EvidenceError) as exc:
                log.warning("camera %s: newest frame not kept: %s", camera.id, exc)
            self._written[camera.id] = (id(frame), now)
