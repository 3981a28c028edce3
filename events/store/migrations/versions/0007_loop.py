"""The hazard loop: assignment, due time, overdue and escalation per event; photos; the
assignee, due time and photos of each audited move.

Revision ID: 0007
Revises: 0006
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("event_audit") as batch:
        batch.add_column(sa.Column("assignee", sa.String(200), nullable=True))
        batch.add_column(sa.Column("due_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("photos", sa.JSON(), nullable=True))
    op.create_index(
        "ix_event_audit_to_status_event_id_at", "event_audit", ["to_status", "event_id", "at"]
    )
    op.create_index("ix_events_status_created_at", "events", ["status", "created_at"])
    op.create_table(
        "event_loop",
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("due_at", sa.Double(), nullable=True),
        sa.Column("overdue_at", sa.Double(), nullable=True),
        sa.Column("escalation_step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("dispatched", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("reporter", sa.String(64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("awaiting_fix", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("acknowledged_at", sa.Double(), nullable=True),
        sa.Column("assigned_at", sa.Double(), nullable=True),
        sa.Column("rectified_at", sa.Double(), nullable=True),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_event_loop_event_id_events"),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_loop"),
    )
    op.create_index(
        "ix_event_loop_awaiting_fix_escalation_step_due_at",
        "event_loop",
        ["awaiting_fix", "escalation_step", "due_at"],
    )
    op.create_index("ix_event_loop_assignee", "event_loop", ["assignee"])
    op.create_table(
        "photos",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", _ROW_ID, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.CheckConstraint("kind IN ('after', 'report')", name="ck_photos_kind"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_photos_event_id_events"),
        sa.PrimaryKeyConstraint("id", name="pk_photos"),
    )
    op.create_index("ix_photos_event_id", "photos", ["event_id"])


def downgrade() -> None:
    op.drop_table("photos")
    op.drop_table("event_loop")
    op.drop_index("ix_events_status_created_at", "events")
    op.drop_index("ix_event_audit_to_status_event_id_at", "event_audit")
    with op.batch_alter_table("event_audit") as batch:
        batch.drop_column("photos")
        batch.drop_column("due_at")
        batch.drop_column("assignee")
