"""The people-made workflow of an event (DESIGN.md, Events): who may move it where.

``new → acknowledged → assigned → rectified → verified → closed``, and ``dismissed`` (a false
alarm, with a reason) from any state that is not yet closed or dismissed.

>>> check_transition("new", "acknowledged")
>>> check_transition("closed", "new")
Traceback (most recent call last):
...
vigil.events.store.workflow.InvalidTransition: cannot move an event from 'closed' to 'new'
"""

from __future__ import annotations

from enum import StrEnum


class WorkflowStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"
    DISMISSED = "dismissed"


class InvalidTransition(ValueError):
    """A workflow move that the hazard loop does not allow."""


_FORWARD: dict[WorkflowStatus, WorkflowStatus] = {
    WorkflowStatus.NEW: WorkflowStatus.ACKNOWLEDGED,
    WorkflowStatus.ACKNOWLEDGED: WorkflowStatus.ASSIGNED,
    WorkflowStatus.ASSIGNED: WorkflowStatus.RECTIFIED,
    WorkflowStatus.RECTIFIED: WorkflowStatus.VERIFIED,
    WorkflowStatus.VERIFIED: WorkflowStatus.CLOSED,
}

FINAL: frozenset[WorkflowStatus] = frozenset({WorkflowStatus.CLOSED, WorkflowStatus.DISMISSED})


def allowed_transitions(status: WorkflowStatus | str) -> frozenset[WorkflowStatus]:
    """The statuses an event in ``status`` may move to next."""
    status = WorkflowStatus(status)
    if status in FINAL:
        return frozenset()
    return frozenset({_FORWARD[status], WorkflowStatus.DISMISSED})


def check_transition(
    from_status: WorkflowStatus | str, to_status: WorkflowStatus | str, note: str | None = None
) -> None:
    """Raise :class:`InvalidTransition` unless ``from_status → to_status`` is allowed.

    A dismissal needs a reason in ``note``.
    """
    try:
        source, target = WorkflowStatus(from_status), WorkflowStatus(to_status)
    except ValueError as exc:
        raise InvalidTransition(f"unknown workflow status: {exc}") from None
    if target not in allowed_transitions(source):
        raise InvalidTransition(f"cannot move an event from {source.value!r} to {target.value!r}")
    if target is WorkflowStatus.DISMISSED and not (note and note.strip()):
        raise InvalidTransition("dismissing an event needs a reason in the note")
