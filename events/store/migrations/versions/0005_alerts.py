"""Alerts: the dispatcher's lease, cursor and routed marks, the delivery log, push subscriptions.

Revision ID: 0005
Revises: 0004
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATUSES = "'pending', 'sending', 'sent', 'failed', 'dropped', 'skipped'"


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("acquired_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "alert_cursor",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", _ROW_ID, nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alert_cursor"),
    )
    op.create_table(
        "alert_routed",
        sa.Column("outbox_id", _ROW_ID, autoincrement=False, nullable=False),
        sa.Column("routed_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", name="pk_alert_routed"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", _ROW_ID, nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject_key", sa.String(400), nullable=False),
        sa.Column("change_at", sa.Double(), nullable=False),
        sa.Column("due_at", sa.Double(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("latency", sa.Double(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dispatcher", sa.String(256), nullable=True),
        sa.Column("done_targets", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="ck_deliveries_status"),
    )
    op.create_index(
        "ix_deliveries_outbox_id_channel_attempt",
        "deliveries",
        ["outbox_id", "channel", "attempt"],
        unique=True,
    )
    op.create_index(
        "ix_deliveries_channel_status_due_at", "deliveries", ["channel", "status", "due_at"]
    )
    op.create_index("ix_deliveries_channel_subject_key", "deliveries", ["channel", "subject_key"])
    op.create_index("ix_deliveries_event_id", "deliveries", ["event_id"])
    op.create_index("ix_deliveries_status", "deliveries", ["status"])
    op.create_table(
        "push_subscriptions",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("user_name", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("p256dh", sa.String(256), nullable=False),
        sa.Column("auth", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
    )
    op.create_index(
        "ix_push_subscriptions_endpoint", "push_subscriptions", ["endpoint"], unique=True
    )
    op.create_index("ix_push_subscriptions_user_name", "push_subscriptions", ["user_name"])


def downgrade() -> None:
    op.drop_table("push_subscriptions")
    op.drop_table("deliveries")
    op.drop_table("alert_routed")
    op.drop_table("alert_cursor")
    op.drop_table("leases")
