"""The alert channels: webhook, MQTT, apprise (chat and phones), WebPush (the console on phones).

>>> from vigil.events.alerts.config import WebhookChannel
>>> type(build_channel(WebhookChannel(name="x", kind="webhook", url="http://127.0.0.1:9/"),
...                    None, Path("."))).__name__
'Webhook'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import AppriseChannel, ChannelConfig, MqttChannel, WebhookChannel, WebPushChannel
from .base import Channel, Delivery, Outcome

if TYPE_CHECKING:
    from ..store import AlertStore


def build_channel(
    config: ChannelConfig, alerts: AlertStore | None, data_dir: Path, timezone: str | None = None
) -> Channel:
    """The channel a config entry describes. Raises ValueError (one line) when it cannot be
    built: an apprise URL apprise does not know, a VAPID key file that is not there."""
    if isinstance(config, WebhookChannel):
        from .webhook import Webhook

        return Webhook(config)
    if isinstance(config, MqttChannel):
        from .mqtt import Mqtt

        return Mqtt(config)
    if isinstance(config, AppriseChannel):
        from .apprise_push import AppriseNotifier

        return AppriseNotifier(config, timezone)
    if isinstance(config, WebPushChannel):
        from .webpush import WebPush, load_vapid

        if alerts is None:
            raise ValueError(f"channel {config.name}: WebPush needs the store's subscriptions")
        return WebPush(config, alerts, load_vapid(config, data_dir), timezone)
    raise ValueError(f"unknown channel kind {config!r}")


__all__ = ["Channel", "Delivery", "Outcome", "build_channel"]
