"""The store's side of continuous recording: the segment index, retention's deletions, and
the per-frame log of what the models saw. Works on an :class:`~.store.EventStore`'s engine.

Example::

    index = RecordingIndex(store)
    index.add_segment(SegmentRecord(0, "gate-3", t0, t0 + 60, "recordings/gate-3/…", …))
    index.segments("gate-3", t0, t0 + 3600)        # oldest first
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import sessionmaker

from .models import EventRow
from .recording_models import DeletionRow, SeenFrameRow, SegmentRow
from .store import EventStore
from .workflow import FINAL


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """One indexed segment; ``id`` is 0 until stored. ``keyframes``: seconds from the start."""

    id: int
    camera: str
    start_wall: float
    end_wall: float
    path: str
    bytes: int
    frames: int
    keyframes: tuple[float, ...]
    codec: str = "h264"
    width: int = 0
    height: int = 0

    @property
    def duration(self) -> float:
        return self.end_wall - self.start_wall


@dataclass(frozen=True, slots=True)
class DeletionRecord:
    at: float
    camera: str
    path: str
    start_wall: float
    end_wall: float
    bytes: int
    reason: str


@dataclass(frozen=True, slots=True)
class SeenFrame:
    """One analysed frame: ``detections`` as :class:`~.recording_models.SeenFrameRow` says."""

    camera: str
    wall: float
    detections: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Span:
    """A time span (epoch seconds), ``[start, end)``."""

    start: float
    end: float


class RecordingIndex:
    """Reads and writes the recording tables of ``store`` (see the module)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._sessions = sessionmaker(store.engine, expire_on_commit=False)

    # --- segments -----------------------------------------------------------------------------

    def add_segment(self, segment: SegmentRecord) -> SegmentRecord:
        """Index a complete segment; returns it with its id. Indexing a path twice is a no-op."""
        with self._sessions.begin() as session:
            row = session.scalar(select(SegmentRow).where(SegmentRow.path == segment.path))
            if row is None:
                row = SegmentRow(**_segment_values(segment))
                session.add(row)
                session.flush()
            return _segment(row)

    def segments(
        self,
        camera: str | None = None,
        start: float | None = None,
        end: float | None = None,
        *,
        limit: int | None = None,
    ) -> list[SegmentRecord]:
        """Segments overlapping ``[start, end)`` (either open), oldest first."""
        query = select(SegmentRow).order_by(SegmentRow.start_wall, SegmentRow.id)
        if camera is not None:
            query = query.where(SegmentRow.camera == camera)
        if start is not None:
            query = query.where(SegmentRow.end_wall > start)
        if end is not None:
            query = query.where(SegmentRow.start_wall < end)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [_segment(row) for row in session.scalars(query)]

    def segment(self, segment_id: int) -> SegmentRecord | None:
        with self._sessions() as session:
            row = session.get(SegmentRow, segment_id)
            return None if row is None else _segment(row)

    def indexed_paths(self, camera: str) -> set[str]:
        with self._sessions() as session:
            return set(session.scalars(select(SegmentRow.path).where(SegmentRow.camera == camera)))

    def remove_segment(self, segment: SegmentRecord, reason: str, at: float) -> None:
        """Drop a segment from the index and log its deletion, in one transaction."""
        with self._sessions.begin() as session:
            session.execute(delete(SegmentRow).where(SegmentRow.id == segment.id))
            session.add(
                DeletionRow(
                    at=at,
                    camera=segment.camera,
                    path=segment.path,
                    start_wall=segment.start_wall,
                    end_wall=segment.end_wall,
                    bytes=segment.bytes,
                    reason=reason,
                )
            )

    def deletions(self, camera: str | None = None) -> list[DeletionRecord]:
        query = select(DeletionRow).order_by(DeletionRow.id)
        if camera is not None:
            query = query.where(DeletionRow.camera == camera)
        with self._sessions() as session:
            return [
                DeletionRecord(r.at, r.camera, r.path, r.start_wall, r.end_wall, r.bytes, r.reason)
                for r in session.scalars(query)
            ]

    def kept_spans(self, camera: str, keep_since: float, margin: float = 0.0) -> list[Span]:
        """Spans of ``camera`` whose media must stay: events still open in the workflow (an
        open hazard, whatever its age) and events that started at or after ``keep_since``;
        each widened by ``margin`` seconds on both sides."""
        open_statuses = [s.value for s in FINAL]
        query = select(EventRow.start_wall, EventRow.end_wall).where(
            EventRow.camera == camera,
            or_(EventRow.status.not_in(open_statuses), EventRow.start_wall >= keep_since),
        )
        with self._sessions() as session:
            return [Span(s - margin, e + margin) for s, e in session.execute(query)]

    # --- what the models saw ------------------------------------------------------------------

    def add_seen(self, frames: Sequence[tuple[str, float, str, str]]) -> None:
        """Insert ``(camera, wall, labels, detections_json)`` rows in one transaction."""
        if not frames:
            return
        rows = [{"camera": c, "wall": w, "labels": lab, "detections": d} for c, w, lab, d in frames]
        with self._sessions.begin() as session:
            session.execute(insert(SeenFrameRow), rows)

    def seen(
        self, camera: str, start: float, end: float, label: str | None = None
    ) -> Iterable[tuple[float, str]]:
        """``(wall, detections_json)`` of ``camera``'s frames in ``[start, end)``, in time
        order; only frames showing ``label`` when given."""
        query = (
            select(SeenFrameRow.wall, SeenFrameRow.detections)
            .where(
                SeenFrameRow.camera == camera,
                SeenFrameRow.wall >= start,
                SeenFrameRow.wall < end,
            )
            .order_by(SeenFrameRow.wall)
        )
        if label is not None:
            query = query.where(SeenFrameRow.labels.contains(f",{label},", autoescape=True))
        with self._sessions() as session:
            return [(wall, blob) for wall, blob in session.execute(query)]

    def prune_seen(self, camera: str, before: float) -> int:
        """Delete ``camera``'s frame log older than ``before``; returns how many rows."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(SeenFrameRow).where(
                    SeenFrameRow.camera == camera, SeenFrameRow.wall < before
                )
            )
            return result.rowcount or 0

    def seen_count(self, camera: str) -> int:
        with self._sessions() as session:
            query = (
                select(func.count()).select_from(SeenFrameRow).where(SeenFrameRow.camera == camera)
            )
            return int(session.scalar(query) or 0)


def _segment_values(s: SegmentRecord) -> dict:
    return {
        "camera": s.camera,
        "start_wall": s.start_wall,
        "end_wall": s.end_wall,
        "path": s.path,
        "bytes": s.bytes,
        "frames": s.frames,
        "keyframe_count": len(s.keyframes),
        "keyframes": [round(k, 4) for k in s.keyframes],
        "codec": s.codec,
        "width": s.width,
        "height": s.height,
    }


def _segment(row: SegmentRow) -> SegmentRecord:
    return SegmentRecord(
        id=row.id,
        camera=row.camera,
        start_wall=row.start_wall,
        end_wall=row.end_wall,
        path=row.path,
        bytes=row.bytes,
        frames=row.frames,
        keyframes=tuple(row.keyframes or ()),
        codec=row.codec,
        width=row.width,
        height=row.height,
    )
