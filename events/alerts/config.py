"""The ``alerts:`` section of a site: where event changes are pushed, and which ones.

Example (``site.yaml``)::

    api:
      public_url: https://vigil.plant.example       # links in payloads and messages
    alerts:
      channels:
        - name: scada
          kind: webhook
          url: https://scada.plant.example/hooks/vigil
          secret: ${VIGIL_WEBHOOK_SECRET}
        - name: control-room
          kind: mqtt
          host: 127.0.0.1
        - name: shift-phones
          kind: apprise
          urls: ["dingtalk://TOKEN/", "ntfy://ntfy.plant.example/fire"]
          filter: {rules: [fire, smoke, fall], min_severity: high, cooldown: 300}
        - name: console
          kind: webpush
          subject: mailto:safety@plant.example

>>> AlertsConfig.model_validate(
...     {"channels": [{"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/h"}]}
... ).channels[0].wanted_changes()
('new', 'update', 'end', 'status')
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from vigil.events.rules.params import Severity, parse_window

ChangeType = Literal["new", "update", "end", "status"]
ALL_CHANGES: tuple[ChangeType, ...] = ("new", "update", "end", "status")
# What people carry (chat apps, phones) hears of an event twice: when it opens and when it ends.
PEOPLE_CHANGES: tuple[ChangeType, ...] = ("new", "end")

DAY = 86400.0
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertFilter(_Strict):
    """Which changes a channel gets. Every field narrows; an empty filter passes everything.

    >>> AlertFilter(min_severity="high", schedule=["22:00-06:00"]).windows()
    ([(1320, 360)], [])
    """

    cameras: list[str] | None = Field(None, description="camera ids; None means every camera")
    zones: list[str] | None = Field(
        None, description="zone names; an event without a zone never matches a zone list"
    )
    rules: list[str] | None = Field(None, description="rule names; None means every rule")
    min_severity: Severity | None = Field(
        None, description="the least severity sent: low < medium < high < critical"
    )
    assignees: list[str] | None = Field(
        None,
        description="only changes addressed to these: 'user:<name>', 'group:<name>' or "
        "'channel:<name>' (a bare name is a user); the hazard loop addresses an assignment to "
        "its assignee and an escalation to its target. None: every change",
    )
    changes: list[ChangeType] | None = Field(
        None,
        description="change types sent: new, update, end, status. Default: all for webhook and "
        "mqtt, new and end for apprise and webpush",
    )
    schedule: list[str] | None = Field(
        None,
        min_length=1,
        description="'HH:MM-HH:MM' windows (may cross midnight) when the channel is active; "
        "None means always",
    )
    quiet_hours: list[str] | None = Field(
        None, min_length=1, description="'HH:MM-HH:MM' windows when the channel stays silent"
    )
    cooldown: float = Field(
        0.0,
        ge=0,
        description="seconds after an alert during which a new event of the same camera, rule "
        "and subject is not sent (one person standing in a zone is one alert, not thirty)",
    )
    _active: list[tuple[int, int]] = PrivateAttr(default_factory=list)
    _quiet: list[tuple[int, int]] = PrivateAttr(default_factory=list)

    @field_validator("schedule", "quiet_hours")
    @classmethod
    def _valid_windows(cls, windows: list[str] | None) -> list[str] | None:
        for text in windows or ():
            parse_window(text)
        return windows

    @model_validator(mode="after")
    def _parse_windows(self) -> AlertFilter:
        self._active = [parse_window(w) for w in self.schedule or ()]
        self._quiet = [parse_window(w) for w in self.quiet_hours or ()]
        return self

    @field_validator("assignees")
    @classmethod
    def _qualified(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        return [
            n if n.split(":", 1)[0] in ("user", "group", "channel") else f"user:{n}" for n in names
        ]

    def windows(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(active, quiet) windows as (start, end) minutes of the day."""
        return self._active, self._quiet


class _Channel(_Strict):
    name: str = Field(description="unique name; appears in the delivery log and idempotency keys")
    filter: AlertFilter = Field(default_factory=AlertFilter)
    max_attempts: int = Field(8, ge=1, le=100, description="attempts before a delivery is dropped")
    backoff_initial: float = Field(1.0, gt=0, le=3600, description="seconds before the 1st retry")
    backoff_max: float = Field(300.0, gt=0, le=86400, description="longest wait between retries")
    timeout: float = Field(5.0, gt=0, le=120, description="seconds one attempt may take")

    default_changes: ClassVar[tuple[ChangeType, ...]] = ALL_CHANGES

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"channel name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
        return name

    def wanted_changes(self) -> tuple[ChangeType, ...]:
        """The change types this channel gets: its filter's, or the default for its kind."""
        if self.filter.changes is not None:
            return tuple(self.filter.changes)
        return self.default_changes


class WebhookChannel(_Channel):
    """POST the payload as JSON, signed with HMAC-SHA256 when a secret is set."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://", description="http(s) URL the payload is POSTed to")
    secret: str | None = Field(
        None, description="HMAC-SHA256 key: X-Vigil-Signature signs '<timestamp>.<body>'"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")


class MqttChannel(_Channel):
    """Publish to ``<prefix>/events`` (every change) and ``<prefix>/<camera>/<rule>``."""

    kind: Literal["mqtt"]
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    topic_prefix: str = Field("vigil", pattern=r"^[^#+]+$", description="no MQTT wildcards")
    qos: Literal[0, 1, 2] = 1
    retain: bool = Field(
        False, description="retain the newest change on <prefix>/<camera>/<rule> for dashboards"
    )


class AppriseChannel(_Channel):
    """A short message to chat apps and phones through apprise URLs (DingTalk, WeCom, Feishu,
    email, ntfy, ...); see https://github.com/caronc/apprise/wiki."""

    kind: Literal["apprise"]
    urls: list[str] = Field(min_length=1, description="apprise URLs, each told once per change")
    default_changes: ClassVar[tuple[ChangeType, ...]] = PEOPLE_CHANGES


class WebPushChannel(_Channel):
    """Web Push (VAPID) to the console on phones; subscriptions are stored per user."""

    kind: Literal["webpush"]
    subject: str = Field(
        pattern=r"^(mailto:|https://)", description="VAPID contact: mailto: or https: URL"
    )
    vapid_private_key: str | None = Field(
        None,
        description="PEM text or path of the VAPID private key; default: generated once and "
        "kept in the data folder (vapid_private.pem)",
    )
    users: list[str] | None = Field(None, description="only these users' subscriptions")
    ttl: int = Field(3600, ge=0, le=2419200, description="seconds the push service keeps it")
    urgency: Literal["very-low", "low", "normal", "high"] = "high"
    default_changes: ClassVar[tuple[ChangeType, ...]] = PEOPLE_CHANGES


ChannelConfig = Annotated[
    WebhookChannel | MqttChannel | AppriseChannel | WebPushChannel, Field(discriminator="kind")
]


class AlertsConfig(_Strict):
    """Channels and where links in alerts point."""

    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="the API's address as people reach it; snapshot, clip and event links "
        "start with it (none when unset). In a site file it is api.public_url: this one may "
        "repeat it, not differ",
    )
    timezone: str | None = Field(
        None, description="IANA zone for schedules and message times; default: the machine's"
    )
    catch_up: float = Field(
        3600.0,
        ge=0,
        description="on the dispatcher's very first start, changes older than this many "
        "seconds are not sent (a site that had events before alerts were set up)",
    )
    channels: list[ChannelConfig] = Field(default_factory=list)
    keep_changes_days: float = Field(
        7.0,
        gt=0,
        description="event changes (the outbox: alerts and the live stream's resume) are "
        "deleted this many days after they were delivered everywhere",
    )
    keep_deliveries_days: float = Field(
        90.0,
        gt=0,
        description="finished rows of the delivery log are deleted after this many days "
        "(never before the longest channel cooldown has passed)",
    )

    def prune_horizons(self, now: float) -> tuple[float, float]:
        """The epoch times before which changes and finished deliveries are deleted
        (:meth:`AlertStore.prune`): a change is kept at least ``catch_up``, a delivery at
        least the longest cooldown, which both read the past.

        >>> AlertsConfig(keep_changes_days=1, keep_deliveries_days=2).prune_horizons(10 * 86400)
        (777600.0, 691200.0)
        """
        cooldown = max((c.filter.cooldown for c in self.channels), default=0.0)
        changes = now - max(self.keep_changes_days * DAY, self.catch_up)
        return changes, now - max(self.keep_deliveries_days * DAY, cooldown)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, url: str | None) -> str | None:
        return None if url is None else url.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        seen: set[str] = set()
        for channel in self.channels:
            if channel.name in seen:
                raise ValueError(f"channel name {channel.name!r} is used twice")
            seen.add(channel.name)
        return self
