"""Tables of continuous recording (issue 17): the segments on disk, what retention deleted,
and what the models saw on every analysed frame. Imported at the end of :mod:`.models` so they
share its metadata (and migrations)."""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, RowId


class SegmentRow(Base):
    """One recorded MP4 segment of a camera, indexed only once it is complete on disk.

    ``path`` is relative to the data folder; ``keyframes`` are seconds from ``start_wall``.
    """

    __tablename__ = "recording_segments"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(128))
    start_wall: Mapped[float]
    end_wall: Mapped[float]
    path: Mapped[str] = mapped_column(Text, unique=True)
    bytes: Mapped[int] = mapped_column(RowId)
    frames: Mapped[int] = mapped_column(Integer)
    keyframe_count: Mapped[int] = mapped_column(Integer)
    keyframes: Mapped[list[float]]
    codec: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "camera", "start_wall"), Index(None, "end_wall"))


class DeletionRow(Base):
    """One segment that retention deleted, and why. Never updated."""

    __tablename__ = "recording_deletions"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[float]
    camera: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    start_wall: Mapped[float]
    end_wall: Mapped[float]
    bytes: Mapped[int] = mapped_column(RowId)
    reason: Mapped[str] = mapped_column(String(32))  # "age" or "disk"

    __table_args__ = (Index(None, "at"),)


class SeenFrameRow(Base):
    """What the models saw on one analysed frame of a camera: ``detections`` is a JSON array
    of ``[label, confidence, x1, y1, x2, y2, track_id, [zones...]]`` (boxes in whole pixels);
    ``labels`` is ``",person,head_bare,"`` so a label filter is a LIKE on an indexed range."""

    __tablename__ = "seen_frames"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(128))
    wall: Mapped[float]
    labels: Mapped[str] = mapped_column(Text)
    detections: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index(None, "camera", "wall"),)


class MediaDropRow(Base):
    """One media file lost before it reached the object store, and why. Never updated."""

    __tablename__ = "media_drops"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    at: Mapped[float]
    camera: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # snapshot, clip, photo, segment
    reason: Mapped[str] = mapped_column(String(32))  # "gone" (deleted before its upload)

    __table_args__ = (Index(None, "at"),)
