"""The hazard loop's reads and writes over an :class:`EventStore` (same engine, same
migrations): assignments, auto-dispatch, overdue flags and escalations, photos, reports.

Every write that people or channels must hear of goes through
:class:`~vigil.events.store.store.EventWriter` in the same transaction as its outbox row.

>>> from vigil.events.store import EventStore
>>> LoopStore(EventStore("sqlite://")).undispatched(since=0.0)
[]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from vigil.events.store.models import EventRow, LoopRow, PhotoRow
from vigil.events.store.records import EventRecord
from vigil.events.store.store import EventStore, EventWriter, event_record
from vigil.events.store.workflow import AWAITING_FIX as AWAITING
from vigil.events.store.workflow import WorkflowStatus

from .config import DispatchRule, EscalationStep, first_rule

AUTO_DISPATCH = "auto-dispatch"  # the actor of the moves auto-dispatch makes
FINAL_STATUSES = (WorkflowStatus.CLOSED.value, WorkflowStatus.DISMISSED.value)
# Statuses in which an item still waits for its rectification: its due time counts.
AWAITING_FIX = tuple(sorted(s.value for s in AWAITING))


@dataclass(frozen=True, slots=True)
class LoopState:
    """An event's place in the hazard loop (all None/0 before anything happened)."""

    assignee: str | None = None
    due_at: float | None = None
    overdue_at: float | None = None
    escalation_step: int = 0
    reporter: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Photo:
    id: str
    event_id: str
    kind: str
    path: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    uploaded_by: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Overdue:
    """An item past its due time, with its severity (for its escalation ladder)."""

    event_id: str
    severity: str
    due_at: float
    overdue_at: float | None
    escalation_step: int


class LoopStore:
    """See the module docstring."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._sessions = sessionmaker(store.engine, expire_on_commit=False)

    @contextmanager
    def _writing(self) -> Iterator[tuple[Session, EventWriter]]:
        with self._sessions.begin() as s:
            yield s, EventWriter(s)

    # --- reads ------------------------------------------------------------------------------

    def state(self, event_id: str) -> LoopState:
        with self._sessions() as s:
            row = s.get(LoopRow, event_id)
        return LoopState() if row is None else _state(row)

    def photos(self, event_id: str) -> list[Photo]:
        query = select(PhotoRow).where(PhotoRow.event_id == event_id).order_by(PhotoRow.created_at)
        with self._sessions() as s:
            return [_photo(r) for r in s.scalars(query)]

    def photo(self, photo_id: str) -> Photo | None:
        with self._sessions() as s:
            row = s.get(PhotoRow, photo_id)
            return None if row is None else _photo(row)

    def undispatched(self, since: float, limit: int = 100) -> list[EventRecord]:
        """Events still ``new`` that auto-dispatch has not looked at, opened after ``since``."""
        looked = exists().where(LoopRow.event_id == EventRow.id, LoopRow.dispatched.is_(True))
        query = (
            select(EventRow)
            .where(EventRow.status == WorkflowStatus.NEW.value, EventRow.created_at >= since)
            .where(~looked)
            .order_by(EventRow.created_at)
            .limit(limit)
        )
        with self._sessions() as s:
            return [event_record(r) for r in s.scalars(query)]

    def overdue(self, now: float, steps: int = 0, limit: int = 500) -> list[Overdue]:
        """Items awaiting their fix past their due time that are not flagged yet or have
        escalation steps left (fewer than ``steps`` notified), oldest due first. Items done
        with are not read again: the checker's poll stays small however long the history."""
        query = (
            select(LoopRow, EventRow.severity)
            .join(EventRow, EventRow.id == LoopRow.event_id)
            .where(LoopRow.awaiting_fix.is_(True), LoopRow.due_at < now)
            # Unflagged items have notified no step: with a ladder, "steps left" covers both.
            .where(LoopRow.escalation_step < steps if steps else LoopRow.overdue_at.is_(None))
            .order_by(LoopRow.due_at)
            .limit(limit)
        )
        with self._sessions() as s:
            return [
                Overdue(r.event_id, severity, r.due_at, r.overdue_at, r.escalation_step)
                for r, severity in s.execute(query)
            ]

    def assignments(
        self,
        assignees: Sequence[str] | None = None,
        overdue_only: bool = False,
        cameras: Sequence[str] | None = None,
        limit: int = 200,
    ) -> list[tuple[EventRecord, LoopState]]:
        """Open items with an assignee (of ``assignees``, when given), soonest due first."""
        query = (
            select(EventRow, LoopRow)
            .join(LoopRow, LoopRow.event_id == EventRow.id)
            .where(LoopRow.assignee.is_not(None), EventRow.status.not_in(FINAL_STATUSES))
            .order_by(LoopRow.due_at.is_(None), LoopRow.due_at, EventRow.id)
            .limit(limit)
        )
        if assignees is not None:
            query = query.where(LoopRow.assignee.in_(list(assignees)))
        if overdue_only:
            query = query.where(LoopRow.overdue_at.is_not(None), LoopRow.awaiting_fix.is_(True))
        if cameras is not None:
            query = query.where(EventRow.camera.in_(list(cameras)))
        with self._sessions() as s:
            return [(event_record(e), _state(r)) for e, r in s.execute(query)]

    # --- writes -----------------------------------------------------------------------------

    def dispatch(self, event: EventRecord, rules: Sequence[DispatchRule], now: float) -> str | None:
        """Apply the first matching rule to a ``new`` event: acknowledged, then assigned (actor
        ``auto-dispatch``) with the rule's due time, the assignment addressed to the assignee.
        The event is marked looked-at either way. Returns the assignee, or None."""
        rule = first_rule(list(rules), event.camera, event.zone, event.rule, event.severity)
        with self._writing() as (s, w):
            claimed = self._mark_dispatched(s, event.id, now)
            if not claimed or rule is None:
                return None
            current = s.scalar(select(EventRow.status).where(EventRow.id == event.id))
            if current != WorkflowStatus.NEW.value:  # a person got there first
                return None
            target = rule.assign.target
            due = rule.due_seconds(event.severity)
            w.record_transition(event.id, "new", "acknowledged", AUTO_DISPATCH, "dispatch rule")
            w.record_transition(
                event.id,
                "acknowledged",
                "assigned",
                AUTO_DISPATCH,
                "dispatch rule",
                assignee=target,
                due_at=None if due is None else now + due,
                notify=[target],
            )
            return target

    @staticmethod
    def _mark_dispatched(s: Session, event_id: str, now: float) -> bool:
        """Compare-and-set: True for the one writer that marks the event looked-at."""
        if s.get(LoopRow, event_id) is None:
            s.add(LoopRow(event_id=event_id, dispatched=True, escalation_step=0, updated_at=now))
            s.flush()
            return True
        result = s.execute(
            update(LoopRow)
            .where(LoopRow.event_id == event_id, LoopRow.dispatched.is_(False))
            .values(dispatched=True, updated_at=now)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def flag_and_escalate(
        self, item: Overdue, ladder: Sequence[EscalationStep], now: float
    ) -> list[str]:
        """Flag the item overdue (once) and notify each escalation step now reached that was
        not notified yet, in one transaction. Returns the targets notified."""
        reached = [
            (i, step)
            for i, step in enumerate(ladder)
            if i >= item.escalation_step and item.due_at + step.after <= now
        ]
        if item.overdue_at is not None and not reached:
            return []
        with self._writing() as (s, w):
            # Compare-and-set on the step: two checkers never notify the same step twice.
            result = s.execute(
                update(LoopRow)
                .where(
                    LoopRow.event_id == item.event_id,
                    LoopRow.escalation_step == item.escalation_step,
                    LoopRow.due_at == item.due_at,
                )
                .values(
                    overdue_at=item.overdue_at or now,
                    escalation_step=item.escalation_step + len(reached),
                    updated_at=now,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return []
            for i, step in reached:
                w.notified(
                    item.event_id,
                    [step.notify.target],
                    escalation={"step": i + 1, "target": step.notify.target, "due_at": item.due_at},
                )
            return [step.notify.target for _, step in reached]

    def report(
        self,
        id: str,
        camera: str,
        zone: str | None,
        severity: str,
        reporter: str,
        description: str,
        photo: Photo,
    ) -> None:
        """A hazard reported by hand, with its photo (already on disk), in one transaction."""
        with self._writing() as (s, w):
            w.reported(id, camera, zone, severity, reporter, photo.created_at, photo.path)
            s.add(
                LoopRow(
                    event_id=id,
                    reporter=reporter,
                    description=description,
                    escalation_step=0,
                    dispatched=False,
                    updated_at=photo.created_at,
                )
            )
            s.add(PhotoRow(**_photo_fields(photo)))

    def add_photo(self, photo: Photo) -> None:
        with self._sessions.begin() as s:
            s.add(PhotoRow(**_photo_fields(photo)))


def _state(row: LoopRow) -> LoopState:
    return LoopState(
        row.assignee,
        row.due_at,
        row.overdue_at,
        row.escalation_step,
        row.reporter,
        row.description,
    )


def _photo_fields(p: Photo) -> dict[str, object]:
    return {f: getattr(p, f) for f in Photo.__dataclass_fields__}


def _photo(r: PhotoRow) -> Photo:
    return Photo(**{f: getattr(r, f) for f in Photo.__dataclass_fields__})
