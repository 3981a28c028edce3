"""The people-made workflow of an event (DESIGN.md, Events): who may move it where.

``new → acknowledged → assigned → rectified → verified → closed``, and ``dismissed`` (a false
alarm, with a reason) from any state that is not yet closed or dismissed. A failed verification
sends a rectified event back to ``assigned``, with the reason.

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
# Not yet rectified (nor dismissed): an assignment's due time counts.
AWAITING_FIX: frozenset[WorkflowStatus] = frozenset(
    {WorkflowStatus.NEW, WorkflowStatus.ACKNOWLEDGED, WorkflowStatus.ASSIGNED}
)
# The first move to each of these is kept as a milestone (event_loop.<status>_at).
MILESTONES: frozenset[WorkflowStatus] = frozenset(
    {
        WorkflowStatus.ACKNOWLEDGED,
        WorkflowStatus.ASSIGNED,
        WorkflowStatus.RECTIFIED,
        WorkflowStatus.CLOSED,
    }
)


# A failed verification: the rectification did not hold, back to the assignee.
_BACK: dict[WorkflowStatus, WorkflowStatus] = {WorkflowStatus.RECTIFIED: WorkflowStatus.ASSIGNED}


def allowed_transitions(status: WorkflowStatus | str) -> frozenset[WorkflowStatus]:
    """The statuses an event in ``status`` may move to next.

    >>> sorted(s.value for s in allowed_transitions("rectified"))
    ['assigned', 'dismissed', 'verified']
    """
    status = WorkflowStatus(status)
    if status in FINAL:
        return frozenset()
    back = {_BACK[status]} if status in _BACK else set()
    return frozenset({_FORWARD[status], WorkflowStatus.DISMISSED, *back})


def needs_reason(from_status: WorkflowStatus | str, to_status: WorkflowStatus | str) -> bool:
    """Whether the move needs a reason in its note: a dismissal, or a failed verification.

    >>> needs_reason("rectified", "assigned"), needs_reason("acknowledged", "assigned")
    (True, False)
    """
    source, target = WorkflowStatus(from_status), WorkflowStatus(to_status)
    return target is WorkflowStatus.DISMISSED or _BACK.get(source) is target


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
    if needs_reason(source, target) and not (note and note.strip()):
        what = "dismissing an event" if target is WorkflowStatus.DISMISSED else "failing a check"
        raise InvalidTransition(f"{what} needs a reason in the note")
