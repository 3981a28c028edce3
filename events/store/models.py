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
    # What evidence is missing or partial, and why (e.g. a clip salvaged after a crash).
    evidence_note: Mapped[str | None] = mapped_column(Text)
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
        Index(None, "status", "created_at"),  # the loop worker's queue of new events
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
    # The hazard loop's details of the move: whom it was assigned to ("user:ann",
    # "group:maintenance"), its due time (epoch s), and the photos it carried (ids).
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[float | None]
    photos: Mapped[list[str] | None] = mapped_column(JSON())

    __table_args__ = (Index(None, "event_id"), Index(None, "to_status", "event_id", "at"))


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
    # The worker's event changes for this camera that wait in its journal for the database,
    # and those it could not even journal (lost).
    pending_changes: Mapped[int] = mapped_column(RowId, server_default="0")
    lost_changes: Mapped[int] = mapped_column(RowId, server_default="0")

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


# --- alerts (vigil.events.alerts) ---------------------------------------------------------

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dropped", "skipped")


class LeaseRow(Base):
    """A named lease: only ``holder`` may do the job until ``expires_at`` (epoch s). Taken and
    renewed by compare-and-set UPDATEs; the alert dispatcher holds the lease ``alerts``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[float]
    acquired_at: Mapped[float]


class CameraLeaseRow(Base):
    """Which worker runs a camera (DESIGN.md, Past one machine): ``worker`` holds it until
    ``expires_at`` (epoch s), renewed by its heartbeat; NULL or expired: free to claim
    (:mod:`vigil.events.store.leases`)."""

    __tablename__ = "camera_leases"

    camera: Mapped[str] = mapped_column(String(128), primary_key=True)
    worker: Mapped[str | None] = mapped_column(String(256))
    acquired_at: Mapped[float | None]
    heartbeat_at: Mapped[float | None]
    expires_at: Mapped[float] = mapped_column(server_default="0")

    __table_args__ = (Index(None, "worker"),)


class WorkerRow(Base):
    """A `vigil run` worker of the site, while it lives: who it is, how many cameras it takes
    (``capacity``, NULL: no limit) and its last heartbeat. Removed when it stops cleanly."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int]
    capacity: Mapped[int | None]
    started_at: Mapped[float]
    heartbeat_at: Mapped[float]


class AlertCursorRow(Base):
    """How far the dispatcher has routed the outbox: every row with ``id <= position`` is
    routed (or was never committed). Rows above it are routed when ``alert_routed`` says so."""

    __tablename__ = "alert_cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(RowId)
    updated_at: Mapped[float]


class AlertRoutedRow(Base):
    """An outbox row above the cursor that the dispatcher has routed (written in the same
    transaction as its deliveries); deleted once the cursor passes it."""

    __tablename__ = "alert_routed"

    outbox_id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=False)
    routed_at: Mapped[float]


class DeliveryRow(Base):
    """One attempt to deliver one change (outbox row) on one channel: the delivery log.

    ``pending`` (queued, may start at ``due_at``) → ``sending`` (committed before the attempt)
    → ``sent`` | ``failed`` (a next attempt row follows) | ``dropped`` (no more attempts).
    ``skipped`` rows record a change the channel subscribes to but did not get, and why.
    No foreign key to the outbox: the log outlives pruned outbox rows.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(RowId)
    event_id: Mapped[str] = mapped_column(String(32))
    change: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(400))
    change_at: Mapped[float]  # the outbox row's created_at
    due_at: Mapped[float]
    started_at: Mapped[float | None]
    finished_at: Mapped[float | None]
    latency: Mapped[float | None]  # change_at → finished_at, seconds
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    dispatcher: Mapped[str | None] = mapped_column(String(256))
    done_targets: Mapped[list[str] | None] = mapped_column(JSON())
    created_at: Mapped[float]

    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(map(repr, DELIVERY_STATUSES))})", name="status"),
        Index(None, "outbox_id", "channel", "attempt", unique=True),
        Index(None, "channel", "status", "due_at"),
        Index(None, "channel", "subject_key"),
        Index(None, "event_id"),
        Index(None, "status"),
    )


class PushSubscriptionRow(Base):
    """A browser's Web Push subscription (PushSubscription.toJSON()) for one user."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(128))
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(256))
    auth: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float]

    __table_args__ = (Index(None, "endpoint", unique=True), Index(None, "user_name"))


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


# --- the hazard loop (vigil.events.loop) ----------------------------------------------------


class LoopRow(Base):
    """The hazard loop's state of one event (DESIGN.md, Events): whom it is assigned to and by
    when, whether it is overdue and how far it has been escalated, whether auto-dispatch has
    looked at it, and, for a hazard reported by hand, who reported it and what they saw.

    ``assignee`` is ``user:<name>`` or ``group:<name>``. ``overdue_at`` is when the checker
    found it past ``due_at`` (a flag, not a state); ``escalation_step`` counts the escalation
    steps already notified. ``awaiting_fix``: the event is new, acknowledged or assigned (its
    due time counts). ``*_at``: the first move to acknowledged, assigned, rectified and closed
    (epoch s), kept beside the audit so the loop's stats need no pass over it.
    """

    __tablename__ = "event_loop"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    assignee: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[float | None]
    overdue_at: Mapped[float | None]
    escalation_step: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    dispatched: Mapped[bool] = mapped_column(Boolean, server_default="0", default=False)
    reporter: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[float]
    awaiting_fix: Mapped[bool] = mapped_column(Boolean, server_default="1", default=True)
    acknowledged_at: Mapped[float | None]
    assigned_at: Mapped[float | None]
    rectified_at: Mapped[float | None]
    closed_at: Mapped[float | None]

    __table_args__ = (
        Index(None, "awaiting_fix", "escalation_step", "due_at"),
        Index(None, "assignee"),
    )


class PhotoRow(Base):
    """A photo uploaded to the hazard loop: the "after" of a rectification, or the photo of a
    hazard reported by hand. Stored under ``media/photos/`` by id, never by a client's name."""

    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(RowId)
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float]

    __table_args__ = (
        CheckConstraint("kind IN ('after', 'report')", name="kind"),
        Index(None, "event_id"),
    )


# --- zones edited in the console (vigil.events.store.zones) ------------------------------------


class CameraZonesRow(Base):
    """One saved revision of a camera's zones: the newest is in force, the older ones are its
    history (who changed what, when). Never updated or deleted. ``zones`` is a list of
    ``{"name", "kind", "polygon"}``; revisions count from 1 per camera."""

    __tablename__ = "camera_zones"

    camera: Mapped[str] = mapped_column(String(128), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    zones: Mapped[list] = mapped_column(JSON())
    saved_at: Mapped[float]
    saved_by: Mapped[str] = mapped_column(String(128))


from . import recording_models  # noqa: E402,F401  (continuous recording's tables, same metadata)
