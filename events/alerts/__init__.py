"""Alerts: event changes from the transactional outbox, pushed to people and systems.

Channels (webhook, MQTT, apprise for chat apps and phones, WebPush for the console) come from
the site's ``alerts:`` section (:class:`AlertsConfig`); one :class:`Dispatcher` per store
delivers (a lease in the store makes sure), with retries and a delivery log
(:meth:`AlertStore.deliveries`). See DESIGN.md, Alerts.

>>> from pathlib import Path
>>> start_dispatcher(None, AlertsConfig(), Path(".")) is None    # no channels, no dispatcher
True
"""

from .config import AlertFilter, AlertsConfig, ChannelConfig
from .dispatcher import Dispatcher, build_dispatcher, start_dispatcher
from .store import AlertStore, DeliveryRecord, PushSubscription

__all__ = [
    "AlertFilter",
    "AlertStore",
    "AlertsConfig",
    "ChannelConfig",
    "DeliveryRecord",
    "Dispatcher",
    "PushSubscription",
    "build_dispatcher",
    "start_dispatcher",
]
