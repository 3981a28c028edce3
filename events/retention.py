"""Retention of continuous recordings: old segments go, and the disk keeps a floor of free
space, never at the cost of the media an open hazard or a kept event needs.

:func:`enforce_retention` makes one pass (`vigil run` runs it about every minute on a
:class:`RetentionWorker` thread; tests call it directly):

1. Segments that ended more than ``retain_days`` ago are deleted (reason ``age``).
2. While free space on the recordings' disk is under the floor (``min_free_bytes`` or
   ``min_free_percent`` of the disk, the larger), the oldest remaining segments of any camera
   are deleted (reason ``disk``).

Never deleted: segments overlapping an event that is still open in the workflow (an open
hazard: status neither closed nor dismissed, whatever its age), or an event that started less
than ``keep_event_days`` ago. Each deletion is a log line and a row of
``recording_deletions``. The frame log (what the models saw) is kept as long as
``retain_days``. Event clips (``media/``) are not touched: they are kept for their own period.

Example::

    policies = {"gate-3": RecordSettings(retain_days=7, keep_event_days=30)}
    report = enforce_retention(index, Path("vigil-data"), policies, DiskFloor(min_free_gb=20))
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vigil.events.objectstore import ObjectStore, StoreUnavailable
from vigil.events.segments import RECORDINGS_DIR, RecordSettings
from vigil.events.store.recordings import RecordingIndex, SegmentRecord, Span
from vigil.events.uploads import sweep_uploaded

log = logging.getLogger(__name__)

DAY = 86_400.0
EVENT_MARGIN_S = 10.0  # media kept around an event: its pre-roll and post-roll


@dataclass(frozen=True, slots=True)
class DiskFloor:
    """Free space to keep on the recordings' disk; the larger of the two when both are set."""

    min_free_gb: float | None = None
    min_free_percent: float | None = None

    def bytes_for(self, total: int) -> int:
        """The floor in bytes on a disk of ``total`` bytes.

        >>> DiskFloor(min_free_gb=1, min_free_percent=10).bytes_for(100 * 10**9)
        10000000000
        """
        floor = 0.0
        if self.min_free_gb is not None:
            floor = max(floor, self.min_free_gb * 1e9)
        if self.min_free_percent is not None:
            floor = max(floor, total * self.min_free_percent / 100)
        return int(floor)


@dataclass(frozen=True, slots=True)
class RetentionReport:
    deleted_age: int
    deleted_disk: int
    freed_bytes: int
    kept_for_events: int  # segments that would have gone but an event needs them
    free_bytes: int
    floor_bytes: int
    frames_pruned: int
    unstaged: int = 0  # local copies removed because the object store holds them

    @property
    def below_floor(self) -> bool:
        return self.free_bytes < self.floor_bytes


def enforce_retention(
    index: RecordingIndex,
    data_dir: Path,
    policies: Mapping[str, RecordSettings],
    floor: DiskFloor | None = None,
    *,
    now: float | None = None,
    free_bytes: Callable[[Path], tuple[int, int]] | None = None,
    objects: ObjectStore | None = None,
    keep_local_hours: float = 0.0,
) -> RetentionReport:
    """One retention pass (see the module) over the cameras in ``policies`` (each with its
    settings): the cameras whose segments lie on this data folder's disk. Other workers'
    cameras in a shared index are theirs to keep. ``free_bytes(path) -> (free, total)``
    defaults to :func:`shutil.disk_usage`.

    With an object store (``objects``), a segment that goes for its age goes from the store
    too; local copies already uploaded are removed after ``keep_local_hours``, and before
    anything else while the disk is under its floor (they cost nothing to lose); under the
    floor only segments still staged on this disk are deleted (an uploaded one frees nothing
    here)."""
    data_dir = Path(data_dir)
    now = time.time() if now is None else now
    usage = free_bytes or _disk_usage
    root = data_dir / RECORDINGS_DIR
    root.mkdir(parents=True, exist_ok=True)
    settings = dict(policies)
    kept = {
        c: index.kept_spans(c, now - s.keep_event_days * DAY, EVENT_MARGIN_S)
        for c, s in settings.items()
    }
    deleted_age = deleted_disk = freed = held = pruned = 0
    for camera, s in settings.items():
        horizon = now - s.retain_days * DAY
        for segment in index.segments(camera, end=horizon):
            if segment.end_wall > horizon:
                continue
            if _needed(segment, kept[camera]):
                held += 1
                continue
            gone = _delete(index, data_dir, segment, "age", now, objects)
            if gone is not None:
                freed += gone
                deleted_age += 1
        pruned += index.prune_seen(camera, horizon)
    unstaged = 0
    if objects is not None and keep_local_hours > 0:
        unstaged += sweep_uploaded(objects, data_dir, now - keep_local_hours * 3600)[0]
    free, total = usage(root)
    floor_bytes = floor.bytes_for(total) if floor is not None else 0
    if free < floor_bytes and objects is not None:
        unstaged += sweep_uploaded(objects, data_dir, now, floor_bytes - free)[0]
        free, total = usage(root)
    if free < floor_bytes:
        for segment in index.segments():  # oldest first, every camera of this disk
            if free >= floor_bytes:
                break
            if segment.camera not in settings:
                continue
            if objects is not None and not (data_dir / segment.path).exists():
                continue  # in the object store: deleting it frees nothing here
            if _needed(segment, kept.get(segment.camera, [])):
                held += 1
                continue
            gone = _delete(index, data_dir, segment, "disk", now)
            if gone is not None:
                freed += gone
                deleted_disk += 1
            free, total = usage(root)
        if free < floor_bytes:
            log.error(
                "recordings: %.1f MB free, under the floor of %.1f MB, and what is left is "
                "needed by open hazards or kept events",
                free / 1e6,
                floor_bytes / 1e6,
            )
    return RetentionReport(
        deleted_age, deleted_disk, freed, held, free, floor_bytes, pruned, unstaged
    )


def _needed(segment: SegmentRecord, spans: list[Span]) -> bool:
    return any(s.start < segment.end_wall and segment.start_wall < s.end for s in spans)


def _delete(
    index: RecordingIndex,
    data_dir: Path,
    segment: SegmentRecord,
    reason: str,
    now: float,
    objects: ObjectStore | None = None,
) -> int | None:
    """Delete the file (and its object), then its index row (a crash between leaves a row whose
    file is gone, which the next pass removes, never a file nobody knows). None: not deleted
    (tried again next pass)."""
    path = data_dir / segment.path
    try:
        if objects is not None:
            objects.delete(objects.key_for(segment.path))
        path.unlink(missing_ok=True)
    except (OSError, StoreUnavailable) as exc:
        log.warning("recordings: %s not deleted: %s", segment.path, exc)
        return None
    index.remove_segment(segment, reason, now)
    log.info(
        "recordings: deleted %s (%s, %.0f s, %.1f MB): %s",
        segment.path,
        segment.camera,
        segment.duration,
        segment.bytes / 1e6,
        "older than retain_days" if reason == "age" else "disk under its free-space floor",
    )
    return segment.bytes


def _disk_usage(path: Path) -> tuple[int, int]:
    usage = shutil.disk_usage(path)
    return usage.free, usage.total


class RetentionWorker:
    """Runs :func:`enforce_retention` every ``interval`` seconds on a thread of its own."""

    def __init__(
        self,
        index: RecordingIndex,
        data_dir: Path,
        policies: Mapping[str, RecordSettings],
        floor: DiskFloor | None,
        interval: float = 60.0,
        *,
        objects: ObjectStore | None = None,
        keep_local_hours: float = 0.0,
    ) -> None:
        self.index, self.data_dir, self.policies, self.floor = index, data_dir, policies, floor
        self.objects, self.keep_local_hours = objects, keep_local_hours
        self.interval = interval
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                enforce_retention(
                    self.index,
                    self.data_dir,
                    self.policies,
                    self.floor,
                    objects=self.objects,
                    keep_local_hours=self.keep_local_hours,
                )
                self.passes += 1
            except Exception:  # the store away, a disk error: try again next time
                log.exception("recordings: retention pass failed")
            if self._stop.wait(self.interval):
                return
