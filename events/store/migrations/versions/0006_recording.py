"""Continuous recording: segments, retention's deletions, what the models saw per frame.

Revision ID: 0006
Revises: 0005
Create Date: written by hand to match vigil.events.store.recording_models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recording_segments",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("start_wall", sa.Double(), nullable=False),
        sa.Column("end_wall", sa.Double(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("bytes", _ROW_ID, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("keyframe_count", sa.Integer(), nullable=False),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recording_segments"),
        sa.UniqueConstraint("path", name="uq_recording_segments_path"),
    )
    op.create_index(
        "ix_recording_segments_camera_start_wall", "recording_segments", ["camera", "start_wall"]
    )
    op.create_index("ix_recording_segments_end_wall", "recording_segments", ["end_wall"])
    op.create_table(
        "recording_deletions",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("start_wall", sa.Double(), nullable=False),
        sa.Column("end_wall", sa.Double(), nullable=False),
        sa.Column("bytes", _ROW_ID, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recording_deletions"),
    )
    op.create_index("ix_recording_deletions_at", "recording_deletions", ["at"])
    op.create_table(
        "seen_frames",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("wall", sa.Double(), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("detections", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_seen_frames"),
    )
    op.create_index("ix_seen_frames_camera_wall", "seen_frames", ["camera", "wall"])


def downgrade() -> None:
    op.drop_index("ix_seen_frames_camera_wall", table_name="seen_frames")
    op.drop_table("seen_frames")
    op.drop_index("ix_recording_deletions_at", table_name="recording_deletions")
    op.drop_table("recording_deletions")
    op.drop_index("ix_recording_segments_end_wall", table_name="recording_segments")
    op.drop_index("ix_recording_segments_camera_start_wall", table_name="recording_segments")
    op.drop_table("recording_segments")
