"""Camera health and stream gaps, for live workers (`vigil run`).

Revision ID: 0002
Revises: 0001
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATES = "'connecting', 'live', 'stalled', 'failed', 'stopped'"


def upgrade() -> None:
    op.create_table(
        "camera_health",
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_since", sa.Double(), nullable=False),
        sa.Column("fps_in", sa.Double(), nullable=False),
        sa.Column("fps_analysed", sa.Double(), nullable=False),
        sa.Column("last_frame_wall", sa.Double(), nullable=True),
        sa.Column("reconnects", _ROW_ID, nullable=False),
        sa.Column("skipped", _ROW_ID, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("camera", name="pk_camera_health"),
        sa.CheckConstraint(f"state IN ({_STATES})", name="ck_camera_health_state"),
    )
    op.create_table(
        "camera_gaps",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("start_wall", sa.Double(), nullable=False),
        sa.Column("end_wall", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_camera_gaps"),
    )
    op.create_index("ix_camera_gaps_camera_start_wall", "camera_gaps", ["camera", "start_wall"])


def downgrade() -> None:
    op.drop_index("ix_camera_gaps_camera_start_wall", table_name="camera_gaps")
    op.drop_table("camera_gaps")
    op.drop_table("camera_health")
