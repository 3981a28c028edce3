"""Media dropped before they reached the object store (an upload whose staged file was gone).

Revision ID: 0010
Revises: 0009
Create Date: written by hand to match vigil.events.store.recording_models.MediaDropRow
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media_drops",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media_drops"),
    )
    op.create_index("ix_media_drops_at", "media_drops", ["at"])


def downgrade() -> None:
    op.drop_index("ix_media_drops_at", table_name="media_drops")
    op.drop_table("media_drops")
