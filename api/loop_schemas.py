"""Request and response bodies of the hazard loop: moves, photos, hazards, loop stats."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.events.loop.config import Assignee, LoopPolicy
from vigil.events.loop.store import AWAITING_FIX, LoopState, Photo
from vigil.events.store import AuditRecord, EventRecord, WorkflowStatus

from .schemas import EventOut, KeyCount, StatsOut, at


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class MoveIn(BaseModel):
    """One workflow move. What each target needs: ``dismissed`` a reason in ``note``;
    ``assigned`` (from acknowledged) an ``assignee``; ``assigned`` from rectified (a failed
    verification) a reason in ``note``; ``rectified`` at least one "after" photo id."""

    model_config = ConfigDict(extra="forbid")

    to: WorkflowStatus = Field(description="the status to move the event to")
    note: str | None = Field(None, max_length=4000, description="why; required where noted")
    assignee: Assignee | None = Field(
        None, description="for a move to assigned: {user: NAME} or {group: NAME}"
    )
    due: datetime | None = Field(
        None, description="for a move to assigned: when the rectification is due (ISO 8601)"
    )
    photo_ids: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="for a move to rectified: ids of 'after' photos uploaded to this event",
    )


class PhotoOut(_Out):
    id: str = Field(description="the photo's id")
    event_id: str = Field(description="the event (or reported hazard) it belongs to")
    kind: Literal["after", "report"] = Field(
        description="after: a rectification's evidence; report: a hand-reported hazard's photo"
    )
    url: str = Field(description="where to GET the JPEG")
    width: int = Field(description="pixels across")
    height: int = Field(description="pixels down")
    size: int = Field(description="bytes of the stored JPEG")
    sha256: str = Field(description="sha256 of the stored JPEG, hex")
    uploaded_by: str = Field(description="the user who uploaded it")
    created_at: datetime = Field(description="when it was uploaded")

    @classmethod
    def of(cls, p: Photo, base: str) -> PhotoOut:
        return cls(
            id=p.id,
            event_id=p.event_id,
            kind=p.kind,  # type: ignore[arg-type]
            url=f"{base}/photos/{p.id}",
            width=p.width,
            height=p.height,
            size=p.size,
            sha256=p.sha256,
            uploaded_by=p.uploaded_by,
            created_at=at(p.created_at),
        )


class MoveOut(_Out):
    """One audited move, with the hazard loop's details."""

    at: datetime = Field(description="when the move was made")
    from_status: str = Field(description="workflow status before")
    to_status: str = Field(description="workflow status after")
    actor: str = Field(description="who made it (auto-dispatch for the dispatch rules)")
    note: str | None = Field(description="why (a dismissal's or failed check's reason)")
    assignee: str | None = Field(description="user:NAME or group:NAME, for an assignment")
    due: datetime | None = Field(description="the due time set by an assignment")
    photo_ids: list[str] = Field(description="photos the move carried")

    @classmethod
    def of(cls, a: AuditRecord) -> MoveOut:
        return cls(
            at=at(a.at),
            from_status=a.from_status.value,
            to_status=a.to_status.value,
            actor=a.actor,
            note=a.note,
            assignee=a.assignee,
            due=at(a.due_at),
            photo_ids=list(a.photos),
        )


class WorkflowOut(_Out):
    """An event in the hazard loop: where it stands, what may happen next, its before and
    after photos, every move so far."""

    event: EventOut = Field(description="the event itself")
    status: str = Field(description="its workflow status")
    allowed: list[str] = Field(description="statuses it may move to next (for some role)")
    assignee: str | None = Field(description="user:NAME or group:NAME")
    due: datetime | None = Field(description="when the rectification is due")
    overdue: bool = Field(description="past its due time and not yet rectified (a flag)")
    overdue_since: datetime | None = Field(description="when the checker flagged it")
    escalation_step: int = Field(description="escalation steps notified so far")
    reporter: str | None = Field(description="who reported it, for a hazard reported by hand")
    description: str | None = Field(description="what the reporter saw")
    before_url: str | None = Field(description="the event's snapshot (or the report's photo)")
    after: list[PhotoOut] = Field(description="the rectification's photos")
    moves: list[MoveOut] = Field(description="every move so far, oldest first")

    @classmethod
    def of(
        cls,
        e: EventRecord,
        loop: LoopState,
        photos: list[Photo],
        audit: list[AuditRecord],
        allowed: list[str],
        base: str,
    ) -> WorkflowOut:
        report = next((p for p in photos if p.kind == "report"), None)
        before = f"{base}/photos/{report.id}" if report else None
        if before is None and e.snapshot_path:
            before = f"{base}/events/{e.id}/snapshot"
        return cls(
            event=EventOut.of(e, base),
            status=e.status.value,
            allowed=allowed,
            assignee=loop.assignee,
            due=at(loop.due_at),
            overdue=loop.overdue_at is not None and e.status.value in AWAITING_FIX,
            overdue_since=at(loop.overdue_at),
            escalation_step=loop.escalation_step,
            reporter=loop.reporter,
            description=loop.description,
            before_url=before,
            after=[PhotoOut.of(p, base) for p in photos if p.kind == "after"],
            moves=[MoveOut.of(a) for a in audit],
        )


class HazardOut(_Out):
    """A hazard reported by hand: an event of rule manual_report in the same loop."""

    id: str = Field(description="its event id (moves: /events/{id}/moves)")
    camera: str = Field(description="the camera, or area:NAME, it was reported at")
    zone: str | None = Field(description="the area, when one was named")
    severity: str = Field(description="low, medium, high or critical")
    status: str = Field(description="its workflow status")
    reporter: str | None = Field(description="who reported it")
    description: str | None = Field(description="what the reporter saw")
    photo_url: str | None = Field(description="the reporter's photo (the 'before')")
    reported_at: datetime = Field(description="when it was reported")

    @classmethod
    def of(cls, e: EventRecord, loop: LoopState, photo_id: str | None, base: str) -> HazardOut:
        return cls(
            id=e.id,
            camera=e.camera,
            zone=e.zone,
            severity=e.severity,
            status=e.status.value,
            reporter=loop.reporter,
            description=loop.description,
            photo_url=f"{base}/photos/{photo_id}" if photo_id else None,
            reported_at=at(e.start_wall),
        )


class LoopStatsOut(StatsOut):
    """The hazard loop's figures over events that started in the range, beside the counts."""

    by_status: list[KeyCount] = Field(description="events per workflow status")
    rectified: int = Field(description="events rectified (first rectification) with a due time")
    rectified_on_time: int = Field(description="of those, rectified at or before their due time")
    on_time_rate: float | None = Field(description="rectified_on_time / rectified")
    mean_seconds_to_acknowledge: float | None = Field(description="start → first acknowledged")
    mean_seconds_to_assign: float | None = Field(description="start → first assigned")
    mean_seconds_to_close: float | None = Field(description="start → closed")
    overdue_now: int = Field(description="items past their due time, not yet rectified")
    repeat_areas: list[KeyCount] = Field(
        description="zones (or cameras, for events without a zone) with 2 or more events"
    )


class AssignmentOut(_Out):
    """An open item and whom it is assigned to."""

    event_id: str = Field(description="the event (or reported hazard)")
    camera: str = Field(description="its camera (or area:NAME)")
    rule: str = Field(description="its rule (manual_report for a hazard reported by hand)")
    severity: str = Field(description="low, medium, high or critical")
    status: str = Field(description="its workflow status")
    assignee: str = Field(description="user:NAME or group:NAME")
    due: datetime | None = Field(description="when the rectification is due")
    overdue: bool = Field(description="past its due time and not yet rectified")

    @classmethod
    def of(cls, e: EventRecord, loop: LoopState) -> AssignmentOut:
        return cls(
            event_id=e.id,
            camera=e.camera,
            rule=e.rule,
            severity=e.severity,
            status=e.status.value,
            assignee=loop.assignee or "",
            due=at(loop.due_at),
            overdue=loop.overdue_at is not None and e.status.value in AWAITING_FIX,
        )


class GroupOut(_Out):
    """A group of users: what an event can be assigned to besides one user."""

    name: str = Field(description="the group's name (users' `group`)")
    members: list[str] = Field(description="the enabled users in it, by name")


class DispatchRuleOut(_Out):
    """One auto-dispatch rule: events that match go to ``assignee``, due by severity."""

    cameras: list[str] | None = Field(description="cameras it takes (null: any)")
    zones: list[str] | None = Field(description="zones it takes (null: any)")
    rules: list[str] | None = Field(description="rules it takes (null: any)")
    severities: list[str] | None = Field(description="severities it takes (null: any)")
    assignee: str = Field(description="user:NAME or group:NAME")
    due_seconds: dict[str, float] = Field(description="time to rectify, per severity")


class EscalationStepOut(_Out):
    """Who is notified once an item of ``severity`` has been overdue for ``after_seconds``."""

    severity: str = Field(description="the items' severity")
    after_seconds: float = Field(description="how long past due")
    notify: str = Field(description="user:NAME, group:NAME or channel:NAME")


class PolicyOut(_Out):
    """The site's hazard-loop policy (its `dispatch:` and `escalation:`), first match wins."""

    dispatch: list[DispatchRuleOut] = Field(description="auto-dispatch rules, in order")
    escalation: list[EscalationStepOut] = Field(description="escalation steps, per severity")

    @classmethod
    def of(cls, policy: LoopPolicy | None) -> PolicyOut:
        policy = policy or LoopPolicy()
        return cls(
            dispatch=[
                DispatchRuleOut(
                    cameras=r.match.cameras,
                    zones=r.match.zones,
                    rules=r.match.rules,
                    severities=r.match.severities,
                    assignee=r.assign.target,
                    due_seconds=r.due,
                )
                for r in policy.dispatch
            ],
            escalation=[
                EscalationStepOut(severity=severity, after_seconds=s.after, notify=s.notify.target)
                for severity, steps in policy.escalation.items()
                for s in steps
            ],
        )
