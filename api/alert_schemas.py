"""What the alert routes read and write (channels, the delivery log, WebPush subscriptions):
pydantic models apart from the store's records and the site's channel settings. A channel is
shown without its secrets: no webhook secret or headers, no MQTT password, apprise URLs by
scheme only (they carry tokens), a webhook URL without credentials or query.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.events.alerts import ChannelConfig, DeliveryRecord
from vigil.events.alerts.config import (
    AppriseChannel,
    ChangeType,
    MqttChannel,
    WebhookChannel,
    WebPushChannel,
)
from vigil.events.alerts.store import ChannelState

from .schemas import at

_B64URL = r"^[A-Za-z0-9_-]+={0,2}$"
DeliveryStatus = Literal["pending", "sending", "sent", "failed", "dropped", "skipped"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterOut(_Out):
    cameras: list[str] | None = Field(description="camera ids; null: every camera")
    zones: list[str] | None = Field(description="zone names; null: every zone")
    rules: list[str] | None = Field(description="rule names; null: every rule")
    min_severity: str | None = Field(description="the least severity sent; null: every one")
    changes: list[ChangeType] = Field(description="the change types sent: new, update, end, status")
    schedule: list[str] | None = Field(description="'HH:MM-HH:MM' active windows; null: always")
    quiet_hours: list[str] | None = Field(description="'HH:MM-HH:MM' windows of silence")
    cooldown: float = Field(description="seconds between alerts of one camera, rule and subject")


class ChannelStateOut(_Out):
    delivering: bool = Field(
        description="whether a dispatcher holds the alerts lease now (and so sends)"
    )
    pending: int = Field(description="deliveries waiting for their (first or next) attempt")
    sending: int = Field(description="attempts in progress")
    sent: int = Field(description="changes delivered")
    failed: int = Field(description="attempts that failed and were retried")
    dropped: int = Field(description="changes given up on (no more attempts)")
    skipped: int = Field(description="changes not sent: quiet hours, schedule or cooldown")
    last_sent_at: datetime | None = Field(description="when the newest delivery arrived")
    last_failure_at: datetime | None = Field(description="when the newest attempt failed")
    last_error: str | None = Field(description="why the newest failed attempt failed")

    @classmethod
    def of(cls, s: ChannelState, delivering: bool) -> ChannelStateOut:
        counts = {k: s.counts.get(k, 0) for k in ("pending", "sending", "sent", "failed")}
        return cls(
            delivering=delivering,
            dropped=s.counts.get("dropped", 0),
            skipped=s.counts.get("skipped", 0),
            last_sent_at=at(s.last_sent_at),
            last_failure_at=at(s.last_failure_at),
            last_error=s.last_error,
            **counts,
        )


class ChannelOut(_Out):
    name: str = Field(description="the channel's unique name (as in the delivery log)")
    kind: Literal["webhook", "mqtt", "apprise", "webpush"] = Field(
        description="webhook, mqtt, apprise (chat apps, phones) or webpush (the console)"
    )
    target: str = Field(
        description="where it sends, without credentials: webhook URL (no query), "
        "MQTT broker and topic prefix, apprise services by scheme, WebPush contact"
    )
    signed: bool = Field(description="webhook: whether bodies carry an HMAC-SHA256 signature")
    filter: FilterOut = Field(description="which changes the channel gets")
    max_attempts: int = Field(description="attempts before a delivery is dropped")
    timeout: float = Field(description="seconds one attempt may take")
    state: ChannelStateOut = Field(description="its delivery log summed up")

    @classmethod
    def of(cls, c: ChannelConfig, state: ChannelStateOut) -> ChannelOut:
        f = c.filter
        return cls(
            name=c.name,
            kind=c.kind,
            target=channel_target(c),
            signed=isinstance(c, WebhookChannel) and bool(c.secret),
            filter=FilterOut(
                cameras=f.cameras,
                zones=f.zones,
                rules=f.rules,
                min_severity=None if f.min_severity is None else str(f.min_severity),
                changes=list(c.wanted_changes()),
                schedule=f.schedule,
                quiet_hours=f.quiet_hours,
                cooldown=f.cooldown,
            ),
            max_attempts=c.max_attempts,
            timeout=c.timeout,
            state=state,
        )


def channel_target(c: ChannelConfig) -> str:
    """Where a channel sends, with nothing secret in it.

    >>> from pydantic import TypeAdapter
    >>> channel = TypeAdapter(ChannelConfig).validate_python(
    ...     {"name": "x", "kind": "webhook", "url": "https://u:p@h.example:8443/hook?token=s"})
    >>> channel_target(channel)
    'https://h.example:8443/hook'
    """
    if isinstance(c, WebhookChannel):
        parts = urlsplit(c.url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        netloc += f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    if isinstance(c, MqttChannel):
        return f"mqtt://{c.host}:{c.port} {c.topic_prefix}/…"
    if isinstance(c, AppriseChannel):
        return ", ".join(f"{url.split('://', 1)[0]}://…" for url in c.urls)
    assert isinstance(c, WebPushChannel)
    users = "every user" if c.users is None else ", ".join(c.users)
    return f"{c.subject} ({users})"


class DeliveryOut(_Out):
    id: int = Field(description="the log row's id (page on with before_id)")
    outbox_id: int = Field(description="the event change's id (the SSE message id)")
    event_id: str = Field(description="the event it is about")
    change: ChangeType = Field(description="new, update, end or status")
    channel: str = Field(description="the channel's name")
    attempt: int = Field(description="1 for the first attempt; 0 for a skipped change")
    status: DeliveryStatus = Field(
        description="pending, sending, sent, failed (retried), dropped (given up) or skipped"
    )
    change_at: datetime = Field(description="when the change was stored")
    due_at: datetime = Field(description="when this attempt may start")
    started_at: datetime | None = Field(description="when this attempt started")
    finished_at: datetime | None = Field(description="when this attempt ended")
    latency_seconds: float | None = Field(description="from the change to this attempt's end")
    http_status: int | None = Field(description="the receiver's HTTP status, for HTTP channels")
    error: str | None = Field(description="why it failed, was dropped or was skipped")

    @classmethod
    def of(cls, d: DeliveryRecord) -> DeliveryOut:
        return cls(
            id=d.id,
            outbox_id=d.outbox_id,
            event_id=d.event_id,
            change=d.change,  # type: ignore[arg-type]
            channel=d.channel,
            attempt=d.attempt,
            status=d.status,  # type: ignore[arg-type]
            change_at=at(d.change_at),
            due_at=at(d.due_at),
            started_at=at(d.started_at),
            finished_at=at(d.finished_at),
            latency_seconds=d.latency,
            http_status=d.http_status,
            error=d.error,
        )


class DeliveryPageOut(_Out):
    deliveries: list[DeliveryOut] = Field(description="newest first")
    next_before_id: int | None = Field(
        description="pass as before_id for the next (older) page; null on the last page"
    )


class PushKeyOut(_Out):
    application_server_key: str = Field(
        description="the VAPID public key for pushManager.subscribe (base64url, no padding)"
    )


def _base64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not base64url") from None


class PushKeys(_In):
    p256dh: str = Field(
        max_length=128,
        pattern=_B64URL,
        description="the browser's P-256 public key: 65 bytes (uncompressed point), base64url",
    )
    auth: str = Field(
        max_length=64, pattern=_B64URL, description="the 16-byte auth secret, base64url"
    )

    @field_validator("p256dh")
    @classmethod
    def _point(cls, text: str) -> str:
        raw = _base64url(text.rstrip("="))
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("not an uncompressed P-256 point (65 bytes starting with 0x04)")
        return text

    @field_validator("auth")
    @classmethod
    def _secret(cls, text: str) -> str:
        if len(_base64url(text.rstrip("="))) != 16:
            raise ValueError("the auth secret is 16 bytes")
        return text


class PushSubscriptionIn(_In):
    """A browser's ``PushSubscription.toJSON()``."""

    endpoint: str = Field(
        max_length=2048, pattern=r"^https?://[^\s]+$", description="the push service's URL"
    )
    keys: PushKeys = Field(description="the browser's public key and auth secret")
    expirationTime: float | None = Field(  # noqa: N815 - the browser's field name
        None, description="ignored (browsers send it; null in practice)"
    )


class PushEndpointIn(_In):
    endpoint: str = Field(
        max_length=2048, pattern=r"^https?://[^\s]+$", description="the subscription's endpoint"
    )


class PushSubscriptionOut(_Out):
    endpoint: str = Field(description="the push service's URL")
    user: str = Field(description="the user it pushes to")
    created_at: datetime = Field(description="when it was first stored")
