"""Durability of live events: why evidence is missing, and each camera's journal backlog.

Revision ID: 0002_store
Revises: 0002
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_store"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("evidence_note", sa.Text(), nullable=True))
    with op.batch_alter_table("camera_health") as batch:
        batch.add_column(sa.Column("pending_changes", _ROW_ID, server_default="0", nullable=False))
        batch.add_column(sa.Column("lost_changes", _ROW_ID, server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("camera_health") as batch:
        batch.drop_column("lost_changes")
        batch.drop_column("pending_changes")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("evidence_note")
