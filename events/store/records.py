"""What the store hands to callers: plain frozen records, apart from the ORM models."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from vigil.events.violation import BBox, Violation

from .workflow import WorkflowStatus


class LifecycleState(StrEnum):
    """The machine-made lifecycle: a violation is open while it holds, then ended."""

    OPEN = "open"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event. Times are seconds: ``*_pts`` from the source's start, the rest epoch."""

    id: str
    camera: str
    rule: str
    label: str
    subject: str
    severity: str
    track_id: int | None
    zone: str | None
    start_pts: float
    end_pts: float
    start_wall: float
    end_wall: float
    peak_confidence: float
    peak_pts: float
    bbox: BBox
    state: LifecycleState
    status: WorkflowStatus
    snapshot_path: Path | None
    clip_path: Path | None
    clip_sha256: str | None
    clip_start_pts: float | None
    clip_end_pts: float | None
    source: str | None
    created_at: float
    updated_at: float
    evidence_note: str | None = None  # what evidence is missing or partial, and why
    model_card: str | None = None  # the card behind the label, when the event opened
    model_version: str | None = None  # its weights' digest
    model_threshold: float | None = None  # confidence a box of the label needed
    model_thresholds: dict[str, float] | None = None  # the card's per-label thresholds

    def as_violation(self) -> Violation:
        """The violation as the store knows it (no peak image, no timeline), for writers that
        must change a stored event, e.g. to end one a killed worker left open."""
        return Violation(
            camera=self.camera,
            rule=self.rule,
            label=self.label,
            subject=self.subject,
            severity=self.severity,
            start_pts=self.start_pts,
            start_wall=self.start_wall,
            end_pts=self.end_pts,
            end_wall=self.end_wall,
            peak_confidence=self.peak_confidence,
            peak_pts=self.peak_pts,
            bbox=self.bbox,
            track_id=self.track_id,
            zone=self.zone,
            ended=self.state is LifecycleState.ENDED,
            id=self.id,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: enums as strings, paths as strings, the bbox as a list."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One workflow transition of an event; ``at`` is epoch seconds."""

    event_id: str
    at: float
    from_status: WorkflowStatus
    to_status: WorkflowStatus
    actor: str
    note: str | None
    assignee: str | None = None  # "user:<name>" or "group:<name>" for an assignment
    due_at: float | None = None
    photos: tuple[str, ...] = ()  # photo ids the move carried (a rectification's "after")

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "at": self.at,
            "from_status": self.from_status.value,
            "to_status": self.to_status.value,
            "actor": self.actor,
            "note": self.note,
            "assignee": self.assignee,
            "due_at": self.due_at,
            "photos": list(self.photos),
        }


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A hole in a camera's stream: no frame between the two epoch times."""

    camera: str
    start_wall: float
    end_wall: float
    reason: str | None


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One event change as the outbox holds it: ``payload`` is
    ``{"type": new|update|end|status, "before": event | None, "after": event}`` (plus ``actor``
    and ``note`` for ``status``); ``id`` orders changes; ``created_at`` is epoch seconds."""

    id: int
    event_id: str
    type: str
    camera: str
    rule: str
    zone: str | None
    severity: str
    payload: dict[str, Any]
    created_at: float
