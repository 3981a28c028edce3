"""The store's tables as SQLAlchemy 2.0 ORM models (internal: callers get records.py types).

Times: every time column is a float of seconds. ``*_pts`` are presentation times from the start
of the source (as on :class:`~vigil.events.violation.Violation`); ``*_wall``, ``created_at``,
``updated_at`` and ``at`` are Unix epoch seconds (UTC). Floats keep the Violation's values exact
and behave the same on SQLite and PostgreSQL.

Changing a model needs a new revision in ``migrations/versions`` (see ``store.alembic_config``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .records import LifecycleState
from .workflow import WorkflowStatus

# Deterministic constraint names, so later migrations can drop or alter them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit key.
RowId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: type[LifecycleState] | type[WorkflowStatus]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {float: Double(), list[float]: JSON()}


class EventRow(Base):
    """One violation, from the moment it opened, with its evidence and workflow status."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    track_id: Mapped[int | None]
    zone: Mapped[str | None] = mapped_column(String(128))
    start_pts: Mapped[float]
    end_pts: Mapped[float]
    start_wall: Mapped[float]
    end_wall: Mapped[float]
    peak_confidence: Mapped[float]
    peak_pts: Mapped[float]
    bbox: Mapped[list[float]]
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    snapshot_path: Mapped[str | None] = mapped_column(Text)
    clip_path: Mapped[str | None] = mapped_column(Text)
    clip_sha256: Mapped[str | None] = mapped_column(String(64))
    clip_start_pts: Mapped[float | None]
    clip_end_pts: Mapped[float | None]
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float]
    updated_at: Mapped[float]
    # The model card behind the label when the event opened (None for older events).
    model_card: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    model_threshold: Mapped[float | None]
    model_thresholds: Mapped[dict | None] = mapped_column(JSON())

    __table_args__ = (
        CheckConstraint(_in("state", LifecycleState), name="state"),
        CheckConstraint(_in("status", WorkflowStatus), name="status"),
        Index(None, "camera", "start_wall"),
        Index(None, "rule"),
        Index(None, "status"),
        Index(None, "start_wall", "id"),  # the API's newest-first keyset pages
    )


class TimelineRow(Base):
    """The score of one analysed frame of an event: what the console draws over the clip."""

    __tablename__ = "event_timeline"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    pts: Mapped[float]
    confidence: Mapped[float]
    bbox: Mapped[list[float]]

    __table_args__ = (Index(None, "event_id", "pts"),)


class AuditRow(Base):
    """One workflow transition of an event, by whom, when and why. Never updated or deleted."""

    __tablename__ = "event_audit"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    at: Mapped[float]
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "event_id"),)


class CameraHealthRow(Base):
    """The newest health of one camera, written by the worker that runs it (`vigil run`) and
    read by `vigil status` and the API. One row per camera, overwritten about once a second."""

    __tablename__ = "camera_health"

    camera: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(Text)  # credentials masked
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[float]
    fps_in: Mapped[float]
    fps_analysed: Mapped[float]
    last_frame_wall: Mapped[float | None]
    reconnects: Mapped[int] = mapped_column(RowId)
    skipped: Mapped[int] = mapped_column(RowId)
    last_error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(256))  # host:pid of the worker
    updated_at: Mapped[float]

    __table_args__ = (
        CheckConstraint(
            "state IN ('connecting', 'live', 'stalled', 'failed', 'stopped')", name="state"
        ),
    )


class CameraGapRow(Base):
    """A hole in a camera's stream: no frame from ``start_wall`` to ``end_wall`` (epoch s)."""

    __tablename__ = "camera_gaps"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(128))
    start_wall: Mapped[float]
    end_wall: Mapped[float]
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "camera", "start_wall"),)


class OutboxRow(Base):
    """One change to an event, written in the same transaction as the change (the
    transactional outbox, DESIGN.md Alerts). Its ``id`` orders changes for every reader: the
    SSE stream resumes from it (Last-Event-ID) and the dispatcher delivers in its order.

    ``payload`` is Frigate-shaped: ``{"type": ..., "before": {...} | None, "after": {...}}``.
    Never updated; old rows are pruned once every channel has had them.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    camera: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON())
    created_at: Mapped[float]

    __table_args__ = (
        CheckConstraint("type IN ('new', 'update', 'end', 'status')", name="type"),
        Index(None, "event_id"),
        Index(None, "created_at"),
    )


class UserRow(Base):
    """A person (or integration) who may use the API. ``cameras`` None: every camera."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(16))
    group_name: Mapped[str | None] = mapped_column(String(64))
    cameras: Mapped[list[str] | None] = mapped_column(JSON())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float]
    updated_at: Mapped[float]

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'operator', 'rectifier', 'verifier', 'viewer')", name="role"
        ),
    )


class ApiTokenRow(Base):
    """A bearer token for integrations: only the sha256 of its secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to tell apart
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float]
    expires_at: Mapped[float | None]
    revoked_at: Mapped[float | None]
    last_used_at: Mapped[float | None]

    __table_args__ = (Index(None, "user_id"),)
