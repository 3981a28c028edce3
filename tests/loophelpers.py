"""Hazard-loop test parts: extra users (rectifiers, a verifier) on a running API, a real JPEG
from a shared video, an event put in a given status."""

from __future__ import annotations

from pathlib import Path

import cv2
from apihelpers import PASSWORD, Running, first_frame
from sqlalchemy import delete, update

from vigil.events.store.models import EventRow, LoopRow

# name -> (role, group)
LOOP_USERS = {
    "fixer": ("rectifier", "maint"),
    "fixer2": ("rectifier", "maint"),
    "outsider": ("rectifier", "electrical"),
    "checker": ("verifier", None),
}


def add_loop_users(api: Running) -> None:
    for name, (role, group) in LOOP_USERS.items():
        api.accounts.add_user(name, PASSWORD, role, group=group)
        api.tokens[name] = api.accounts.create_token(name, "tests").secret


def jpeg_of(video: Path, quality: int = 90) -> bytes:
    """A real JPEG: the first frame of a shared video."""
    ok, data = cv2.imencode(".jpg", first_frame(video), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def put_in_status(api: Running, event_id: str, status: str, assignee: str | None) -> None:
    """Set an event's status and assignee straight in the database (test setup only)."""
    with api.store.engine.begin() as conn:
        conn.execute(update(EventRow).where(EventRow.id == event_id).values(status=status))
        conn.execute(delete(LoopRow).where(LoopRow.event_id == event_id))
        if assignee is not None:
            conn.execute(
                LoopRow.__table__.insert().values(
                    event_id=event_id,
                    assignee=assignee,
                    escalation_step=0,
                    dispatched=True,
                    updated_at=0.0,
                )
            )
