"""What a channel sends: the JSON payload, its signature, MQTT topics, short chat/phone text.

The payload is the outbox row's Frigate-shaped ``{type, before, after}`` plus flat fields and
links, so a receiver can route on ``camera``/``rule`` without digging into ``after``:

>>> from vigil.events.store.records import OutboxRecord
>>> after = {"id": "e1", "camera": "gate-3", "rule": "fire", "zone": "tank-farm",
...          "severity": "critical", "label": "fire", "subject": "zone:tank-farm",
...          "start_wall": 0.0, "end_wall": 0.0, "peak_confidence": 0.87, "state": "open",
...          "status": "new", "snapshot_path": None, "clip_path": None}
>>> r = OutboxRecord(7, "e1", "new", "gate-3", "fire", "tank-farm", "critical",
...                  {"type": "new", "before": None, "after": after}, 1.5)
>>> p = alert_payload(r, "scada", "https://vigil.example")
>>> p["delivery"], p["snapshot_url"]
('7:scada', 'https://vigil.example/api/v1/events/e1/snapshot')
>>> chat_message(p, "UTC")[1]
'🔥 fire — gate-3 (tank-farm), 00:00:00, 0.87\\nhttps://vigil.example/events/e1'
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from vigil.events.store.records import OutboxRecord

RULE_ICONS = {
    "fire": "🔥",
    "smoke": "💨",
    "fall": "🆘",
    "no_helmet": "⛑️",
    "no_harness": "🪢",
    "restricted_zone": "🚫",
}
SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
DELIVERY_HEADER = "X-Vigil-Delivery"


def delivery_key(outbox_id: int, channel: str) -> str:
    """The idempotency key of one change on one channel: the same on every attempt, so a
    receiver that saw it already can drop a repeat (see the dispatcher on interrupted sends)."""
    return f"{outbox_id}:{channel}"


def alert_payload(record: OutboxRecord, channel: str, public_url: str | None) -> dict[str, Any]:
    """The JSON document every channel sends (MQTT, webhooks), built from one outbox row."""
    after: dict[str, Any] = record.payload.get("after") or {}
    event_id = record.event_id
    payload: dict[str, Any] = dict(record.payload)  # type, before, after (+ actor, note)
    payload.update(
        id=record.id,
        delivery=delivery_key(record.id, channel),
        event_id=event_id,
        camera=record.camera,
        rule=record.rule,
        zone=record.zone,
        severity=record.severity,
        label=after.get("label"),
        subject=after.get("subject"),
        start_time=_iso(after.get("start_wall")),
        end_time=_iso(after.get("end_wall")),
        peak_confidence=after.get("peak_confidence"),
        changed_at=_iso(record.created_at),
        has_snapshot=after.get("snapshot_path") is not None,
        has_clip=after.get("clip_path") is not None,
        event_url=_link(public_url, f"/events/{event_id}"),
        snapshot_url=_link(public_url, f"/api/v1/events/{event_id}/snapshot"),
        clip_url=_link(public_url, f"/api/v1/events/{event_id}/clip"),
    )
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``X-Vigil-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``b"<timestamp>." + body``.

    The timestamp is signed with the body so a captured request cannot be replayed later
    with a fresh ``X-Vigil-Timestamp``; a receiver recomputes it and rejects old timestamps.

    >>> sign("s3cret", 1700000000, b"{}")[:15]
    'sha256=97926816'
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def mqtt_topics(prefix: str, camera: str, rule: str) -> tuple[str, str]:
    """``(<prefix>/events, <prefix>/<camera>/<rule>)``.

    >>> mqtt_topics("vigil", "gate-3", "fire")
    ('vigil/events', 'vigil/gate-3/fire')
    """
    return f"{prefix}/events", f"{prefix}/{camera}/{rule}"


def chat_message(payload: dict[str, Any], zone: str | None = None) -> tuple[str, str]:
    """(title, body) of the short text that chat apps and phones get for a change.

    ``zone`` is the IANA time zone of the times shown (default: the machine's).
    """
    after = payload.get("after") or {}
    icon = RULE_ICONS.get(payload["rule"], "⚠️")
    where = payload["camera"] + (f" ({payload['zone']})" if payload.get("zone") else "")
    start = _clock(after.get("start_wall"), zone)
    confidence = after.get("peak_confidence")
    score = "" if confidence is None else f", {confidence:.2f}"
    kind = payload["type"]
    if kind == "end":
        title = f"Vigil: {payload['rule']} ended at {payload['camera']}"
        line = (
            f"✅ {payload['rule']} ended — {where}, {start}–{_clock(after.get('end_wall'), zone)}"
        )
        line += f", peak{score[1:]}" if score else ""
    elif kind == "status":
        status = after.get("status", "")
        actor = payload.get("actor") or "someone"
        title = f"Vigil: {payload['rule']} at {payload['camera']} {status}"
        line = f"{icon} {payload['rule']} — {where}, {start}: {status} by {actor}"
        if payload.get("note"):
            line += f" ({payload['note']})"
    else:
        title = f"Vigil: {payload['rule']} at {payload['camera']}"
        prefix = "" if kind == "new" else "update: "
        line = f"{icon} {prefix}{payload['rule']} — {where}, {start}{score}"
    link = payload.get("event_url")
    return title, line + (f"\n{link}" if link else "")


def push_message(payload: dict[str, Any], zone: str | None = None) -> dict[str, Any]:
    """The small JSON a WebPush carries (push services cap payloads near 4 kB): the chat text
    plus what the console's service worker needs to open the event."""
    title, body = chat_message(payload, zone)
    return {
        "title": title,
        "body": body,
        "url": payload.get("event_url"),
        "delivery": payload["delivery"],
        "event_id": payload["event_id"],
        "type": payload["type"],
        "camera": payload["camera"],
        "rule": payload["rule"],
        "severity": payload["severity"],
    }


def _link(public_url: str | None, path: str) -> str | None:
    return None if public_url is None else public_url + path


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, ZoneInfo("UTC")).isoformat(timespec="milliseconds")


def _clock(epoch: float | None, zone: str | None) -> str:
    if epoch is None:
        return "?"
    tz = None if zone is None else ZoneInfo(zone)
    return datetime.fromtimestamp(epoch, tz).strftime("%H:%M:%S")
