"""The event store: violations, their score timelines and workflow audit, in SQL.

SQLite is the embedded default, PostgreSQL the production store; both are driven through the
same SQLAlchemy models and the same Alembic migrations (``migrations/``, located by path, so no
``alembic.ini`` is needed).

Example::

    store = EventStore.for_data_dir(Path("vigil-data"))     # migrates to the newest schema
    with store.unit_of_work() as w:                        # one transaction
        w.opened(violation, source="rtsp://cam-3/stream")
    with store.unit_of_work() as w:
        w.ended(violation, evidence)
    store.list_events(camera="cam-3")

New revisions (developers)::

    from alembic import command
    command.revision(alembic_config("sqlite:///vigil-data/vigil.db"), "add x", autogenerate=True)
"""

from __future__ import annotations

import dataclasses
import fcntl
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from vigil.events.violation import TimelinePoint, Violation
from vigil.streams.health import CameraState, HealthSnapshot

from .models import (
    AuditRow,
    CameraGapRow,
    CameraHealthRow,
    EventRow,
    LoopRow,
    OutboxRow,
    TimelineRow,
)
from .records import AuditRecord, EventRecord, GapRecord, LifecycleState, OutboxRecord
from .workflow import AWAITING_FIX, MILESTONES, WorkflowStatus, check_transition

if TYPE_CHECKING:
    from vigil.events.evidence import Evidence

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x76_69_67_69_6C  # "vigil": the advisory lock that serialises migrations
PG_CONNECT_TIMEOUT_S = 3
MANUAL_REPORT = "manual_report"  # the rule of a hazard reported by hand


class EventNotFound(LookupError):
    """No event with that id in the store."""


class StaleStatus(ValueError):
    """The event's workflow status is no longer the one the caller moved it from."""


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration for the store's migrations, built in code (no ini file).

    Pass ``connection`` to run migrations on it (inside the caller's transaction), or ``url``
    for Alembic to connect itself (offline SQL, ``command.revision``).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser escaping
    cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
    # WAL lets the API read while the pipeline writes; a no-op for in-memory databases.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _connect_args(url: str) -> dict[str, Any]:
    """A connect timeout for PostgreSQL (unless the URL sets one): a server that does not
    answer makes writes fail in seconds, to the journal, instead of hanging the writer."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        return {"connect_args": {"connect_timeout": PG_CONNECT_TIMEOUT_S}}
    return {}


def _sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine; None for in-memory databases and other dialects."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename
        if "mode=memory" in database:
            return None
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if need be) for the block."""
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _sqlite_file_lock(engine: Engine) -> AbstractContextManager[None]:
    """The migration lock of a SQLite file (``vigil.db.lock``); nothing for other databases."""
    database = _sqlite_file(engine)
    if database is None or not database.parent.is_dir():  # SQLite itself says what is wrong
        return nullcontext()
    return _file_lock(database.with_name(database.name + ".lock"))


class EventStore:
    """Events in a SQL database given by a SQLAlchemy URL.

    The constructor brings the schema to the newest revision (``migrate()``, idempotent) unless
    ``auto_migrate=False``, for deployments where migrations are run once, apart from workers.

    >>> store = EventStore("sqlite://")
    >>> store.list_events()
    []
    >>> store.dispose()
    """

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        # pre_ping: a connection that a database restart cut is replaced, not handed out.
        self.engine: Engine = create_engine(url, pool_pre_ping=True, **_connect_args(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if auto_migrate:
            self.migrate()

    @classmethod
    def for_data_dir(cls, data_dir: Path, *, auto_migrate: bool = True) -> EventStore:
        """The embedded store: SQLite at ``data_dir/vigil.db``, creating the folder."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{data_dir.resolve() / 'vigil.db'}", auto_migrate=auto_migrate)

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (``alembic upgrade head``), in one
        transaction where the database allows transactional DDL.

        Processes starting together against one database migrate one at a time: PostgreSQL
        through an advisory lock, a SQLite file through ``flock`` on ``<file>.lock`` beside it
        (SQLite runs DDL outside any lock of its own, so two processes would both create the
        tables).
        """
        with _sqlite_file_lock(self.engine), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            command.upgrade(alembic_config(connection=connection), "head")

    @contextmanager
    def unit_of_work(self) -> Iterator[EventWriter]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield EventWriter(session)

    def list_events(
        self, camera: str | None = None, rule: str | None = None, *, limit: int | None = None
    ) -> list[EventRecord]:
        """Events, newest start first, optionally of one camera and/or one rule."""
        query = select(EventRow).order_by(EventRow.start_wall.desc(), EventRow.id)
        if camera is not None:
            query = query.where(EventRow.camera == camera)
        if rule is not None:
            query = query.where(EventRow.rule == rule)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def get_event(self, id: str) -> EventRecord | None:
        with self._sessions() as session:
            row = session.get(EventRow, id)
            return None if row is None else _record(row)

    def timeline(self, event_id: str) -> list[TimelinePoint]:
        """The event's score timeline in pts order (empty until the event has ended)."""
        query = (
            select(TimelineRow)
            .where(TimelineRow.event_id == event_id)
            .order_by(TimelineRow.pts, TimelineRow.id)
        )
        with self._sessions() as session:
            return [
                TimelinePoint(pts=r.pts, confidence=r.confidence, bbox=_bbox(r.bbox))
                for r in session.scalars(query)
            ]

    def audit(self, event_id: str) -> list[AuditRecord]:
        """The event's workflow transitions, oldest first."""
        query = select(AuditRow).where(AuditRow.event_id == event_id).order_by(AuditRow.id)
        with self._sessions() as session:
            return [
                AuditRecord(
                    event_id=r.event_id,
                    at=r.at,
                    from_status=WorkflowStatus(r.from_status),
                    to_status=WorkflowStatus(r.to_status),
                    actor=r.actor,
                    note=r.note,
                    assignee=r.assignee,
                    due_at=r.due_at,
                    photos=tuple(r.photos or ()),
                )
                for r in session.scalars(query)
            ]

    def outbox_since(self, after_id: int = 0, limit: int = 100) -> list[OutboxRecord]:
        """Event changes with an outbox id above ``after_id``, oldest first (SSE resumes here
        with Last-Event-ID; the alert dispatcher delivers in this order)."""
        query = select(OutboxRow).where(OutboxRow.id > after_id).order_by(OutboxRow.id).limit(limit)
        with self._sessions() as session:
            return [
                OutboxRecord(
                    id=r.id,
                    event_id=r.event_id,
                    type=r.type,
                    camera=r.camera,
                    rule=r.rule,
                    zone=r.zone,
                    severity=r.severity,
                    payload=r.payload,
                    created_at=r.created_at,
                )
                for r in session.scalars(query)
            ]

    # --- live cameras ---------------------------------------------------------------------

    def put_camera_health(self, snapshots: Iterable[HealthSnapshot], worker: str) -> None:
        """Insert or overwrite each camera's health row, in one transaction."""
        with self._sessions.begin() as session:
            for h in snapshots:
                session.merge(
                    CameraHealthRow(
                        camera=h.camera,
                        name=h.name,
                        source=h.source,
                        state=h.state.value,
                        state_since=h.state_since,
                        fps_in=h.fps_in,
                        fps_analysed=h.fps_analysed,
                        last_frame_wall=h.last_frame_wall,
                        reconnects=h.reconnects,
                        skipped=h.skipped,
                        last_error=h.last_error,
                        worker=worker,
                        updated_at=h.updated_at,
                        pending_changes=h.pending_changes,
                        lost_changes=h.lost_changes,
                    )
                )

    def camera_health(self) -> list[HealthSnapshot]:
        """Every camera's newest stored health, by camera id."""
        with self._sessions() as session:
            rows = session.scalars(select(CameraHealthRow).order_by(CameraHealthRow.camera))
            return [
                HealthSnapshot(
                    camera=r.camera,
                    name=r.name,
                    source=r.source,
                    state=CameraState(r.state),
                    state_since=r.state_since,
                    fps_in=r.fps_in,
                    fps_analysed=r.fps_analysed,
                    last_frame_wall=r.last_frame_wall,
                    reconnects=r.reconnects,
                    skipped=r.skipped,
                    last_error=r.last_error,
                    updated_at=r.updated_at,
                    worker=r.worker,
                    pending_changes=r.pending_changes,
                    lost_changes=r.lost_changes,
                )
                for r in rows
            ]

    def add_gap(self, camera: str, start_wall: float, end_wall: float, reason: str | None) -> None:
        """Record a hole in a camera's stream."""
        with self.unit_of_work() as writer:
            writer.gap(camera, start_wall, end_wall, reason)

    def gaps(self, camera: str | None = None) -> list[GapRecord]:
        """Recorded holes in streams, oldest first, optionally of one camera."""
        query = select(CameraGapRow).order_by(CameraGapRow.start_wall, CameraGapRow.id)
        if camera is not None:
            query = query.where(CameraGapRow.camera == camera)
        with self._sessions() as session:
            return [
                GapRecord(r.camera, r.start_wall, r.end_wall, r.reason)
                for r in session.scalars(query)
            ]

    def open_events(self, cameras: Iterable[str]) -> list[EventRecord]:
        """The events of these cameras still open, oldest start first."""
        query = (
            select(EventRow)
            .where(EventRow.camera.in_(list(cameras)), EventRow.state == LifecycleState.OPEN.value)
            .order_by(EventRow.start_wall, EventRow.id)
        )
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def end_abandoned(self, cameras: Iterable[str], note: str | None = None) -> int:
        """End the events of these cameras that a worker left open (it was killed before it
        could end them), through :meth:`EventWriter.ended`; returns how many. Their evidence
        is whatever was stored (``vigil.events.recovery`` recovers what lies on disk)."""
        from vigil.events.evidence import Evidence  # evidence needs av and cv2: import late

        records = self.open_events(cameras)
        missing = Evidence(None, None, None, None, None, note) if note else None
        for record in records:
            with self.unit_of_work() as writer:
                writer.ended(record.as_violation(), missing)
        return len(records)

    def dispose(self) -> None:
        """Close the store's pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


class EventWriter:
    """Writes within one unit of work; get one from :meth:`EventStore.unit_of_work`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def opened(self, v: Violation, *, source: str | None = None) -> None:
        """Insert the event: lifecycle ``open``, workflow ``new``. ``source``: file or URL."""
        now = time.time()
        self._session.add(
            EventRow(
                id=v.id,
                camera=v.camera,
                rule=v.rule,
                label=v.label,
                subject=v.subject,
                severity=v.severity,
                track_id=v.track_id,
                zone=v.zone,
                start_pts=v.start_pts,
                end_pts=v.end_pts,
                start_wall=v.start_wall,
                end_wall=v.end_wall,
                peak_confidence=v.peak_confidence,
                peak_pts=v.peak_pts,
                bbox=[float(x) for x in v.bbox],
                state=LifecycleState.OPEN.value,
                status=WorkflowStatus.NEW.value,
                source=source,
                created_at=now,
                updated_at=now,
                model_card=None if v.model is None else v.model.name,
                model_version=None if v.model is None else v.model.version,
                model_threshold=None if v.model is None else v.model.threshold,
                model_thresholds=None if v.model is None else dict(v.model.thresholds),
            )
        )
        self._session.flush()  # a duplicate id fails here, at the call that caused it
        self._outbox("new", None, self._row(v.id))

    def reported(
        self,
        id: str,
        camera: str,
        zone: str | None,
        severity: str,
        reporter: str,
        at: float,
        snapshot: str | None = None,
    ) -> None:
        """Insert a hazard reported by hand (rule ``manual_report``, already ended: nothing
        more will be seen of it), workflow ``new``, and its outbox ``new`` row."""
        self._session.add(
            EventRow(
                id=id,
                camera=camera,
                rule=MANUAL_REPORT,
                label="hazard",
                subject=f"reporter:{reporter}",
                severity=severity,
                track_id=None,
                zone=zone,
                start_pts=0.0,
                end_pts=0.0,
                start_wall=at,
                end_wall=at,
                peak_confidence=1.0,
                peak_pts=0.0,
                bbox=[0.0, 0.0, 0.0, 0.0],
                state=LifecycleState.ENDED.value,
                status=WorkflowStatus.NEW.value,
                source=f"report:{reporter}",
                snapshot_path=snapshot,
                created_at=at,
                updated_at=at,
            )
        )
        self._session.flush()
        self._outbox("new", None, self._row(id))

    def updated(self, v: Violation) -> None:
        """Copy the violation's peak, bbox and end times onto its event."""
        row = self._row(v.id)
        before = _record(row)
        self._copy_progress(row, v)
        self._session.flush()
        self._outbox("update", before, row)

    def ended(self, v: Violation, evidence: Evidence | None) -> None:
        """Mark the event ended, attach its evidence and store its score timeline.

        The timeline replaces any stored before, so repeating ``ended`` is harmless.
        """
        row = self._row(v.id)
        before = _record(row)
        self._copy_progress(row, v)
        row.state = LifecycleState.ENDED.value
        if evidence is not None:
            snapshot, clip = evidence.snapshot_path, evidence.clip_path
            row.snapshot_path = None if snapshot is None else str(snapshot)
            row.clip_path = None if clip is None else str(clip)
            row.clip_sha256 = evidence.clip_sha256
            row.clip_start_pts = evidence.clip_start_pts
            row.clip_end_pts = evidence.clip_end_pts
            row.evidence_note = evidence.note
        self._session.execute(delete(TimelineRow).where(TimelineRow.event_id == v.id))
        if v.timeline:
            self._session.execute(
                insert(TimelineRow),
                [
                    {
                        "event_id": v.id,
                        "pts": p.pts,
                        "confidence": p.confidence,
                        "bbox": [float(x) for x in p.bbox],
                    }
                    for p in v.timeline
                ],
            )
        self._session.flush()
        self._outbox("end", before, row)

    def progress(self, event_id: str) -> tuple[LifecycleState, float] | None:
        """The stored lifecycle state and end time (epoch) of an event; None if there is none.

        What a replayed change checks first, so that replaying it twice writes it once.
        """
        row = self._session.get(EventRow, event_id)
        return None if row is None else (LifecycleState(row.state), row.end_wall)

    def gap(self, camera: str, start_wall: float, end_wall: float, reason: str | None) -> bool:
        """Record a hole in a camera's stream, unless that one is stored; True if written."""
        known = self._session.scalar(
            select(CameraGapRow.id).where(
                CameraGapRow.camera == camera, CameraGapRow.start_wall == start_wall
            )
        )
        if known is not None:
            return False
        self._session.add(
            CameraGapRow(camera=camera, start_wall=start_wall, end_wall=end_wall, reason=reason)
        )
        self._session.flush()
        return True

    def record_transition(
        self,
        event_id: str,
        from_status: WorkflowStatus | str,
        to_status: WorkflowStatus | str,
        actor: str,
        note: str | None = None,
        *,
        assignee: str | None = None,
        due_at: float | None = None,
        photos: Iterable[str] = (),
        notify: Iterable[str] = (),
    ) -> None:
        """Move the event's workflow status and write the audit row.

        A move to ``assigned`` with an ``assignee`` (``user:<name>`` or ``group:<name>``) and
        ``due_at`` sets the event's hazard-loop assignment (clearing its overdue flag);
        ``photos`` are the ids the move carries; ``notify`` names whom the outbox row is
        addressed to (alert channels with an ``assignees`` filter get only theirs).

        Raises :class:`~vigil.events.store.workflow.InvalidTransition` for a move the workflow
        forbids, :class:`EventNotFound` for an unknown id, and :class:`StaleStatus` when the event
        is no longer in ``from_status`` (someone else moved it first).
        """
        check_transition(from_status, to_status, note)
        source, target = WorkflowStatus(from_status), WorkflowStatus(to_status)
        now = time.time()
        # Compare-and-set: two reviewers acting on the same event cannot both win.
        result = self._session.execute(
            update(EventRow)
            .where(EventRow.id == event_id, EventRow.status == source.value)
            .values(status=target.value, updated_at=now)
        )
        row = self._row(event_id)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleStatus(
                f"event {event_id} is {row.status!r}, not {source.value!r}; reload and retry"
            )
        self._session.add(
            AuditRow(
                event_id=event_id,
                at=now,
                from_status=source.value,
                to_status=target.value,
                actor=actor,
                note=note,
                assignee=assignee,
                due_at=due_at,
                photos=list(photos) or None,
            )
        )
        self._track(event_id, target, assignee, due_at, now)
        self._session.flush()
        self._session.refresh(row)
        before = dataclasses.replace(_record(row), status=source)
        extra: dict[str, Any] = {"actor": actor, "note": note}
        if assignee is not None:
            extra |= {"assignee": assignee, "due_at": due_at}
        if photos:
            extra["photos"] = list(photos)
        if notify:
            extra["notify"] = sorted(set(notify))
        self._outbox("status", before, row, **extra)

    def notified(self, event_id: str, notify: Iterable[str], **extra: Any) -> None:
        """An outbox ``status`` row for the event that moves nothing: a message addressed to
        ``notify`` (an escalation), delivered like any other change."""
        row = self._row(event_id)
        record = _record(row)
        self._outbox("status", record, row, notify=sorted(set(notify)), **extra)

    def _track(
        self,
        event_id: str,
        target: WorkflowStatus,
        assignee: str | None,
        due_at: float | None,
        now: float,
    ) -> None:
        """The event's hazard-loop row after a move: assignment, whether it awaits its fix,
        the first time it reached a milestone."""
        loop = self._session.get(LoopRow, event_id)
        if loop is None:
            loop = LoopRow(event_id=event_id, escalation_step=0, dispatched=False)
            self._session.add(loop)
        loop.updated_at = now
        loop.awaiting_fix = target in AWAITING_FIX
        if target in MILESTONES and getattr(loop, f"{target.value}_at") is None:
            setattr(loop, f"{target.value}_at", now)
        if assignee is not None:
            loop.assignee, loop.due_at = assignee, due_at
            loop.overdue_at, loop.escalation_step = None, 0

    def _outbox(self, kind: str, before: EventRecord | None, row: EventRow, **extra: Any) -> None:
        """The outbox row of this change, in this same transaction (DESIGN.md, Alerts)."""
        payload = {
            "type": kind,
            "before": None if before is None else before.to_dict(),
            "after": _record(row).to_dict(),
            **extra,
        }
        self._session.add(
            OutboxRow(
                event_id=row.id,
                type=kind,
                camera=row.camera,
                rule=row.rule,
                zone=row.zone,
                severity=row.severity,
                payload=payload,
                created_at=time.time(),
            )
        )
        self._session.flush()

    def _row(self, event_id: str) -> EventRow:
        row = self._session.get(EventRow, event_id)
        if row is None:
            raise EventNotFound(f"no event with id {event_id!r}")
        return row

    @staticmethod
    def _copy_progress(row: EventRow, v: Violation) -> None:
        row.peak_confidence = v.peak_confidence
        row.peak_pts = v.peak_pts
        row.bbox = [float(x) for x in v.bbox]
        row.end_pts = v.end_pts
        row.end_wall = v.end_wall
        row.updated_at = time.time()


def _bbox(values: list[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = values
    return (float(x1), float(y1), float(x2), float(y2))


def _record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        camera=row.camera,
        rule=row.rule,
        label=row.label,
        subject=row.subject,
        severity=row.severity,
        track_id=row.track_id,
        zone=row.zone,
        start_pts=row.start_pts,
        end_pts=row.end_pts,
        start_wall=row.start_wall,
        end_wall=row.end_wall,
        peak_confidence=row.peak_confidence,
        peak_pts=row.peak_pts,
        bbox=_bbox(row.bbox),
        state=LifecycleState(row.state),
        status=WorkflowStatus(row.status),
        snapshot_path=None if row.snapshot_path is None else Path(row.snapshot_path),
        clip_path=None if row.clip_path is None else Path(row.clip_path),
        clip_sha256=row.clip_sha256,
        clip_start_pts=row.clip_start_pts,
        clip_end_pts=row.clip_end_pts,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        evidence_note=row.evidence_note,
        model_card=row.model_card,
        model_version=row.model_version,
        model_threshold=row.model_threshold,
        model_thresholds=row.model_thresholds,
    )


def event_record(row: EventRow) -> EventRecord:
    """The caller-facing record of an event row, for read models that query the table
    themselves (the API's filtered pages)."""
    return _record(row)
