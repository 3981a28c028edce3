"""Zones edited in the console: each saved revision of a camera's zones, with who saved it.

Revision ID: 0008
Revises: 0007
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_zones",
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.Double(), nullable=False),
        sa.Column("saved_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("camera", "revision", name="pk_camera_zones"),
    )


def downgrade() -> None:
    op.drop_table("camera_zones")
