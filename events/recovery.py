"""Start-up recovery of what a killed worker left behind (`vigil run` calls it first).

1. **Journals** of dead workers (``<data>/journal/*.jsonl`` whose lock is free): their event
   changes are replayed into the store, in order, idempotently (:mod:`.store.journal`).
2. **Open events** of the starting worker's cameras: each is ended with the evidence that
   lies on disk: the snapshot (written when the event opened, and again as its peak moved),
   the clip (finished but never stored, or salvaged from the fragmented recording
   ``.<id>.mp4.*.rec.part``, remuxed into a faststart MP4), and a note saying what was
   recovered and what is missing. The timeline of such an event is lost (it is stored at the
   end only).
3. **Stale temporary files** (``.*.part``) in those cameras' media folders are removed.

Example::

    report = recover(store, Path("vigil-data"), ["gate-3", "yard"])
    report.ended, report.salvaged, report.swept      # (1, 1, 1)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from vigil.events.evidence import (
    PART_SUFFIX,
    ClipInfo,
    Evidence,
    EvidenceError,
    camera_media_dir,
    event_media_paths,
    recordings_of,
    salvage_clip,
)
from vigil.events.store.changes import Change, is_transient, store_change
from vigil.events.store.journal import JOURNAL_DIR, orphaned_journals
from vigil.events.store.records import EventRecord
from vigil.events.store.store import EventStore

log = logging.getLogger(__name__)

ABANDONED = "ended at start-up: the worker running it stopped before it ended"


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    replayed: int  # changes stored from dead workers' journals
    journals_left: int  # journals that could not be replayed whole (the store went away)
    ended: int  # open events ended
    salvaged: int  # of those, clips recovered from disk
    swept: int  # stale temporary files removed


def recover(store: EventStore, data_dir: Path, cameras: list[str]) -> RecoveryReport:
    """Replay dead workers' journals, end the open events of ``cameras`` with the evidence on
    disk, and sweep their stale ``.part`` files (see the module)."""
    data_dir = Path(data_dir)
    replayed, left = replay_orphaned_journals(store, data_dir / JOURNAL_DIR)
    ended = salvaged = 0
    if left:  # a journal may still hold these events' ends: leave them for the next start
        log.warning("events left open by a previous run stay open until its journal is stored")
    else:
        for record in store.open_events(cameras):
            evidence = recover_evidence(data_dir, record)
            with store.unit_of_work() as writer:
                writer.ended(record.as_violation(), evidence)
            ended += 1
            salvaged += evidence.clip_path is not None
            log.warning("camera %s: event %s %s", record.camera, record.id, evidence.note)
    swept = sweep_parts(data_dir, cameras)
    return RecoveryReport(replayed, left, ended, salvaged, swept)


def replay_orphaned_journals(store: EventStore, directory: Path) -> tuple[int, int]:
    """Store the changes of every dead worker's journal; returns (changes replayed, journals
    that could not be finished because the store went away)."""
    replayed = left = 0
    for journal in orphaned_journals(directory):
        try:
            replayed += journal.replay(lambda entry: _store_entry(store, entry))
            log.info("journal %s of a previous run replayed", journal.path.name)
        except Exception as exc:  # the store went away (or the journal's disk failed)
            left += 1
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            level = logging.WARNING if is_transient(exc) else logging.ERROR
            log.log(level, "journal %s not replayed yet: %s", journal.path, why)
        finally:
            journal.close()  # removed once empty
    return replayed, left


def _store_entry(store: EventStore, entry: dict) -> None:
    try:
        change = Change.from_json(entry)
    except (KeyError, TypeError, ValueError) as exc:
        log.error("journal: skipped a change it cannot read (%s)", exc)
        return
    store_change(store, change)


def recover_evidence(data_dir: Path, record: EventRecord) -> Evidence:
    """The evidence of an abandoned event that lies on disk, with a note on what it is."""
    snapshot, clip_path = event_media_paths(data_dir, record.camera, record.id, record.start_wall)
    clip, clip_note = _recover_clip(clip_path)
    notes = [ABANDONED, clip_note]
    if not snapshot.exists():
        notes.append("snapshot missing: none was written")
    return Evidence(
        snapshot_path=snapshot if snapshot.exists() else None,
        clip_path=None if clip is None else clip.path,
        clip_sha256=None if clip is None else clip.sha256,
        clip_start_pts=None if clip is None else clip.start_pts,
        clip_end_pts=None if clip is None else clip.end_pts,
        note="; ".join(notes),
    )


def _recover_clip(clip_path: Path) -> tuple[ClipInfo | None, str]:
    """The clip from the finished file or else the newest readable recording, and a note."""
    reason = "no recording found"
    candidates = ([clip_path] if clip_path.exists() else []) + recordings_of(clip_path)
    for source in candidates:
        try:
            clip = salvage_clip(source, clip_path)
        except (EvidenceError, OSError) as exc:
            reason = str(exc).splitlines()[0]
            continue
        if source == clip_path:
            return clip, "clip finished before the stop"
        seconds = clip.end_pts - clip.start_pts
        return clip, f"clip salvaged from its unfinished recording ({seconds:.1f} s)"
    return None, f"clip missing: {reason}"


def sweep_parts(data_dir: Path, cameras: list[str]) -> int:
    """Remove the temporary files (``.*.part``) in these cameras' media folders; returns how
    many. Call it only while no writer of these cameras runs."""
    swept = 0
    for camera in cameras:
        folder = camera_media_dir(data_dir, camera)
        for part in folder.glob(f"*/.*{PART_SUFFIX}") if folder.is_dir() else []:
            try:
                part.unlink()
                swept += 1
            except OSError as exc:
                log.warning("stale %s not removed: %s", part, exc)
    if swept:
        log.info("removed %d stale temporary media files", swept)
    return swept
