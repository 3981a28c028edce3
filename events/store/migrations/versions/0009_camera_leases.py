"""Camera leases and the workers that hold them (DESIGN.md, Past one machine).

Revision ID: 0009
Revises: 0008
Create Date: written by hand to match vigil.events.store.models
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("worker", sa.String(256), nullable=True),
        sa.Column("acquired_at", sa.Double(), nullable=True),
        sa.Column("heartbeat_at", sa.Double(), nullable=True),
        sa.Column("expires_at", sa.Double(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("camera", name="pk_camera_leases"),
    )
    op.create_index("ix_camera_leases_worker", "camera_leases", ["worker"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_camera_leases_worker", table_name="camera_leases")
    op.drop_table("camera_leases")
