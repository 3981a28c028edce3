"""What the media path dropped, counted in the store so health and metrics see every worker's
drops: recording segments deleted to keep the disk's floor (``recording_deletions`` with
reason ``disk``), staged files gone before their upload (``media_drops``), and events whose
snapshot or clip could not be written (their ``evidence_note``).

>>> media_kind("media/gate-3/2026-01-02/ab12.mp4"), media_kind("media/photos/ab/abab.jpg")
('clip', 'photo')
>>> media_kind("recordings/gate-3/2026-01-02/120000.mp4"), media_kind("media/c/d/x.jpg")
('segment', 'snapshot')
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import func, insert, select

from .models import EventRow
from .recording_models import DeletionRow, MediaDropRow
from .store import EventStore


def media_kind(relative: str) -> str:
    """snapshot, clip, photo or segment, from a data-folder path."""
    parts = PurePosixPath(relative).parts
    if parts[:1] == ("recordings",):
        return "segment"
    if parts[:2] == ("media", "photos"):
        return "photo"
    return "clip" if relative.endswith(".mp4") else "snapshot"


@dataclass(frozen=True, slots=True)
class DropCounts:
    segments_for_disk: int  # recording segments deleted to keep the disk's free-space floor
    uploads_lost: int  # staged media gone before they reached the object store
    events_missing_evidence: int  # events stored without a snapshot or clip (and why)

    def as_dict(self) -> dict[str, int]:
        return {
            "segments_dropped_for_disk": self.segments_for_disk,
            "uploads_lost": self.uploads_lost,
            "events_missing_evidence": self.events_missing_evidence,
        }


def record_drop(store: EventStore, relative: str, reason: str, at: float | None = None) -> None:
    """Count one staged file lost before its upload (raises when the store is away)."""
    parts = PurePosixPath(relative).parts
    kind = media_kind(relative)
    camera = parts[1] if len(parts) > 1 and kind != "photo" else ""
    values = {"camera": camera, "path": relative, "kind": kind, "reason": reason}
    with store.engine.begin() as conn:
        conn.execute(insert(MediaDropRow).values(at=time.time() if at is None else at, **values))


def drop_counts(store: EventStore) -> DropCounts:
    with store.engine.connect() as conn:
        disk = conn.execute(
            select(func.count()).select_from(DeletionRow).where(DeletionRow.reason == "disk")
        ).scalar_one()
        lost = conn.execute(select(func.count()).select_from(MediaDropRow)).scalar_one()
        missing = conn.execute(
            select(func.count()).select_from(EventRow).where(EventRow.evidence_note.is_not(None))
        ).scalar_one()
    return DropCounts(disk, lost, missing)
