"""Initial schema: events, event_timeline, event_audit.

Revision ID: 0001
Revises:
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATES = "'open', 'ended'"
_STATUSES = "'new', 'acknowledged', 'assigned', 'rectified', 'verified', 'closed', 'dismissed'"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(128), nullable=True),
        sa.Column("start_pts", sa.Double(), nullable=False),
        sa.Column("end_pts", sa.Double(), nullable=False),
        sa.Column("start_wall", sa.Double(), nullable=False),
        sa.Column("end_wall", sa.Double(), nullable=False),
        sa.Column("peak_confidence", sa.Double(), nullable=False),
        sa.Column("peak_pts", sa.Double(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snapshot_path", sa.Text(), nullable=True),
        sa.Column("clip_path", sa.Text(), nullable=True),
        sa.Column("clip_sha256", sa.String(64), nullable=True),
        sa.Column("clip_start_pts", sa.Double(), nullable=True),
        sa.Column("clip_end_pts", sa.Double(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.CheckConstraint(f"state IN ({_STATES})", name="ck_events_state"),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="ck_events_status"),
    )
    op.create_index("ix_events_camera_start_wall", "events", ["camera", "start_wall"])
    op.create_index("ix_events_rule", "events", ["rule"])
    op.create_index("ix_events_status", "events", ["status"])

    op.create_table(
        "event_timeline",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("pts", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("bbox", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_timeline"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_event_timeline_event_id_events",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_event_timeline_event_id_pts", "event_timeline", ["event_id", "pts"])

    op.create_table(
        "event_audit",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_audit"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_event_audit_event_id_events"),
    )
    op.create_index("ix_event_audit_event_id", "event_audit", ["event_id"])


def downgrade() -> None:
    op.drop_table("event_audit")
    op.drop_table("event_timeline")
    op.drop_index("ix_events_status", table_name="events")
    op.drop_index("ix_events_rule", table_name="events")
    op.drop_index("ix_events_camera_start_wall", table_name="events")
    op.drop_table("events")
