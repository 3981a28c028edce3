"""What the API reads and writes: pydantic models, apart from the store's rows and records.
Every field is described, so the OpenAPI schema documents itself. Times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from vigil.events.store.records import AuditRecord, EventRecord
from vigil.events.violation import TimelinePoint
from vigil.streams.health import HealthSnapshot

from .accounts import (
    CAMERA_ID_PATTERN,
    GROUP_PATTERN,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USER_NAME_PATTERN,
    TokenInfo,
    User,
)
from .security import Role

CameraId = Annotated[str, StringConstraints(pattern=CAMERA_ID_PATTERN)]
UserName = Annotated[str, StringConstraints(pattern=USER_NAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
GroupName = Annotated[str, StringConstraints(pattern=GROUP_PATTERN)]
TokenName = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,64}$")]
BBoxOut = Annotated[
    list[float], Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in pixels")
]


def at(epoch: float | None) -> datetime | None:
    """Epoch seconds as an aware UTC datetime (None stays None)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Out):
    detail: str = Field(description="what was wrong, in one line")


# --- users, sessions, tokens ---------------------------------------------------------------


class UserOut(_Out):
    name: str = Field(description="the user's unique name (login)")
    role: Role = Field(description="admin, operator, rectifier, verifier or viewer")
    group: str | None = Field(description="the team the user belongs to, for assignments")
    cameras: list[str] | None = Field(
        description="the only cameras the user may see; null: every camera"
    )
    disabled: bool = Field(description="a disabled user can neither sign in nor use tokens")
    created_at: datetime = Field(description="when the user was added")
    updated_at: datetime = Field(description="when the user was last changed")

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            name=u.name,
            role=u.role,
            group=u.group,
            cameras=None if u.cameras is None else list(u.cameras),
            disabled=u.disabled,
            created_at=at(u.created_at),
            updated_at=at(u.updated_at),
        )


class UserCreate(_In):
    name: UserName = Field(description="1-64 letters, digits, '.', '_', '@', '-'")
    password: Password = Field(description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")
    role: Role = Field(description="admin, operator, rectifier, verifier or viewer")
    group: GroupName | None = Field(None, description="team, for assignments")
    cameras: list[CameraId] | None = Field(
        None, max_length=1000, description="limit the user to these cameras; null: every camera"
    )


class UserUpdate(_In):
    """Only the fields sent are changed; ``null`` clears ``group`` and ``cameras``."""

    role: Role | None = Field(None, description="new role")
    group: GroupName | None = Field(None, description="new team; null for none")
    cameras: list[CameraId] | None = Field(
        None, max_length=1000, description="new camera limit; null: every camera"
    )
    disabled: bool | None = Field(None, description="true to disable, false to enable")
    password: Password | None = Field(None, description="a new password")

    @model_validator(mode="after")
    def _no_null_where_it_means_nothing(self) -> UserUpdate:
        for name in ("role", "disabled", "password"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class LoginRequest(_In):
    name: str = Field(pattern=r"^[^\x00-\x1f\x7f]{1,64}$", description="user name")
    password: str = Field(max_length=PASSWORD_MAX, description="password")


class Me(_Out):
    user: UserOut = Field(description="who is signed in")
    auth: Literal["session", "token"] = Field(
        description="session: a browser cookie (writes need the X-CSRF-Token header); "
        "token: a bearer token"
    )


class LoginResponse(_Out):
    user: UserOut = Field(description="who signed in")
    csrf_token: str = Field(
        description="send it as the X-CSRF-Token header on every write made with the cookie "
        "(it is also in the readable vigil_csrf cookie)"
    )
    expires_at: datetime = Field(description="when the session ends")


class TokenOut(_Out):
    id: int = Field(description="the token's id, to revoke it")
    name: str = Field(description="what the token is for")
    user: str = Field(description="the user the token acts as")
    prefix: str = Field(description="the secret's first characters, to tell tokens apart")
    created_at: datetime = Field(description="when it was made")
    expires_at: datetime | None = Field(description="when it stops working; null: never")
    revoked_at: datetime | None = Field(description="when it was revoked; null: not revoked")
    last_used_at: datetime | None = Field(description="last use (to the minute); null: never")

    @classmethod
    def of(cls, t: TokenInfo) -> TokenOut:
        return cls(
            id=t.id,
            name=t.name,
            user=t.user,
            prefix=t.prefix,
            created_at=at(t.created_at),
            expires_at=at(t.expires_at),
            revoked_at=at(t.revoked_at),
            last_used_at=at(t.last_used_at),
        )


class TokenCreate(_In):
    name: TokenName = Field(description="what the token is for, e.g. 'grafana'")
    user: UserName = Field(description="the user the token acts as (its role and cameras)")
    expires_days: float | None = Field(
        None, gt=0, le=3650, description="days until it stops working; null: never"
    )


class TokenCreated(_Out):
    token: str = Field(
        description="the secret, shown this once: send it as 'Authorization: Bearer <token>'"
    )
    info: TokenOut = Field(description="the token as listed later")


# --- events ------------------------------------------------------------------------------


class EventOut(_Out):
    id: str = Field(description="the event's id")
    camera: str = Field(description="camera id")
    rule: str = Field(description="the rule that fired, e.g. no_helmet")
    label: str = Field(description="the canonical label that triggered it, e.g. head_bare")
    subject: str = Field(description="what it is about: track:N, zone:NAME or frame")
    track_id: int | None = Field(description="the tracker's id of the person, if tracked")
    zone: str | None = Field(description="the zone it happened in, if any")
    severity: str = Field(description="low, medium, high or critical")
    state: str = Field(description="machine lifecycle: open (still going on) or ended")
    status: str = Field(
        description="workflow: new, acknowledged, assigned, rectified, verified, closed or "
        "dismissed"
    )
    start_time: datetime = Field(description="first observation of the confirmed run")
    end_time: datetime = Field(description="last observation so far (or at the end)")
    start_pts: float = Field(description="seconds from the source's start at start_time")
    end_pts: float = Field(description="seconds from the source's start at end_time")
    peak_confidence: float = Field(description="highest confidence of the triggering box")
    peak_pts: float = Field(description="source seconds at peak confidence (the snapshot)")
    bbox: BBoxOut
    snapshot_url: str | None = Field(description="the annotated JPEG, once the event ended")
    clip_url: str | None = Field(description="the H.264 MP4 clip, once the event ended")
    clip_sha256: str | None = Field(description="sha256 of the clip file, hex")
    source: str | None = Field(description="the camera's source, credentials masked")
    created_at: datetime = Field(description="when the event was stored")
    updated_at: datetime = Field(description="when the event was last changed")

    @classmethod
    def of(cls, e: EventRecord, base: str) -> EventOut:
        return cls(**_event_fields(e, base))


class ModelOut(_Out):
    card: str = Field(description="the model card whose model found the label")
    version: str = Field(description="the card's weights: first 12 hex digits of their sha256")
    threshold: float | None = Field(
        description="the confidence a box of the label needed (the card's, or the rule's "
        "confidence if higher)"
    )
    thresholds: dict[str, float] | None = Field(description="the card's per-label thresholds")


class TimelinePointOut(_Out):
    pts: float = Field(description="source seconds of the analysed frame")
    confidence: float = Field(description="the triggering box's confidence in that frame")
    bbox: BBoxOut

    @classmethod
    def of(cls, p: TimelinePoint) -> TimelinePointOut:
        return cls(pts=p.pts, confidence=p.confidence, bbox=list(p.bbox))


class AuditOut(_Out):
    at: datetime = Field(description="when the move was made")
    from_status: str = Field(description="workflow status before")
    to_status: str = Field(description="workflow status after")
    actor: str = Field(description="who made it")
    note: str | None = Field(description="why (a dismissal's reason, a verification's finding)")

    @classmethod
    def of(cls, a: AuditRecord) -> AuditOut:
        return cls(
            at=at(a.at),
            from_status=a.from_status.value,
            to_status=a.to_status.value,
            actor=a.actor,
            note=a.note,
        )


class EventDetail(EventOut):
    clip_start_pts: float | None = Field(description="source seconds of the clip's first frame")
    clip_end_pts: float | None = Field(description="source seconds of the clip's end")
    model: ModelOut | None = Field(
        description="the model card behind the label (null for events stored before it was kept)"
    )
    timeline: list[TimelinePointOut] = Field(
        description="the score of every analysed frame (stored when the event ends)"
    )
    audit: list[AuditOut] = Field(description="workflow moves, oldest first")

    @classmethod
    def of_parts(
        cls,
        e: EventRecord,
        base: str,
        timeline: list[TimelinePoint],
        audit: list[AuditRecord],
    ) -> EventDetail:
        model = None
        if e.model_card is not None:
            model = ModelOut(
                card=e.model_card,
                version=e.model_version or "",
                threshold=e.model_threshold,
                thresholds=e.model_thresholds,
            )
        return cls(
            **_event_fields(e, base),
            clip_start_pts=e.clip_start_pts,
            clip_end_pts=e.clip_end_pts,
            model=model,
            timeline=[TimelinePointOut.of(p) for p in timeline],
            audit=[AuditOut.of(a) for a in audit],
        )


def _event_fields(e: EventRecord, base: str) -> dict:
    return dict(
        id=e.id,
        camera=e.camera,
        rule=e.rule,
        label=e.label,
        subject=e.subject,
        track_id=e.track_id,
        zone=e.zone,
        severity=e.severity,
        state=e.state.value,
        status=e.status.value,
        start_time=at(e.start_wall),
        end_time=at(e.end_wall),
        start_pts=e.start_pts,
        end_pts=e.end_pts,
        peak_confidence=e.peak_confidence,
        peak_pts=e.peak_pts,
        bbox=list(e.bbox),
        snapshot_url=f"{base}/events/{e.id}/snapshot" if e.snapshot_path else None,
        clip_url=f"{base}/events/{e.id}/clip" if e.clip_path else None,
        clip_sha256=e.clip_sha256,
        source=e.source,
        created_at=at(e.created_at),
        updated_at=at(e.updated_at),
    )


class EventPageOut(_Out):
    events: list[EventOut] = Field(description="newest first")
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next (older) page; null: this was the last"
    )


# --- cameras, stats, health --------------------------------------------------------------


class CameraOut(_Out):
    id: str = Field(description="camera id")
    name: str | None = Field(description="human-readable name")
    source: str = Field(description="where frames come from, credentials masked")
    state: str = Field(description="connecting, live, stalled, failed or stopped")
    stale: bool = Field(
        description="the worker has not refreshed this row for 10 s: it may not be running"
    )
    state_since: datetime = Field(description="when the camera entered its state")
    fps_in: float = Field(description="frames decoded per second, lately")
    fps_analysed: float = Field(description="frames analysed per second, lately")
    last_frame_at: datetime | None = Field(description="the newest frame's time")
    reconnects: int = Field(description="connection attempts after the first")
    skipped: int = Field(description="analyses the busy inference service could not run")
    last_error: str | None = Field(description="the last problem with the stream")
    worker: str | None = Field(description="host:pid of the worker running the camera")
    updated_at: datetime = Field(description="when the worker last wrote this row")

    @classmethod
    def of(cls, h: HealthSnapshot, stale: bool) -> CameraOut:
        return cls(
            id=h.camera,
            name=h.name,
            source=h.source,
            state=h.state.value,
            stale=stale,
            state_since=at(h.state_since),
            fps_in=h.fps_in,
            fps_analysed=h.fps_analysed,
            last_frame_at=at(h.last_frame_wall),
            reconnects=h.reconnects,
            skipped=h.skipped,
            last_error=h.last_error,
            worker=h.worker,
            updated_at=at(h.updated_at),
        )


class KeyCount(_Out):
    key: str | None = Field(description="the rule, camera or zone (null: events with no zone)")
    count: int = Field(description="events")


class DayCount(_Out):
    day: date = Field(description="the day, at the requested UTC offset")
    count: int = Field(description="events that started that day")


class StatsOut(_Out):
    since: datetime | None = Field(description="counted from (inclusive); null: the first event")
    until: datetime | None = Field(description="counted to (exclusive); null: now")
    total: int = Field(description="events counted")
    by_rule: list[KeyCount] = Field(description="most first")
    by_camera: list[KeyCount] = Field(description="most first")
    by_zone: list[KeyCount] = Field(description="most first")
    by_day: list[DayCount] = Field(description="in order of day")


class MediaDropsOut(_Out):
    segments_dropped_for_disk: int = Field(
        description="recording segments deleted to keep the disk's free-space floor"
    )
    uploads_lost: int = Field(description="staged media gone before they reached the store")
    events_missing_evidence: int = Field(
        description="events stored without their snapshot or clip (their evidence note says why)"
    )


class HealthOut(_Out):
    status: Literal["ok", "unavailable"] = Field(description="ok when the database answers")
    database: str = Field(description="ok, or why the database cannot be reached")
    media_drops: MediaDropsOut | None = Field(
        None, description="media lost so far (every worker); null when the database is away"
    )
