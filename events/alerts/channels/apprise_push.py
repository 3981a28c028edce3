"""Chat apps and phones through apprise URLs (DingTalk, WeCom, Feishu, email, ntfy, ...).

Each URL gets the short text of :func:`~vigil.events.alerts.payloads.chat_message` once per
change: URLs that took it are not told again when a retry is for the others. Errors name the
URL with its secrets hidden (apprise's privacy form).
"""

from __future__ import annotations

import hashlib
import logging

import apprise

from ..config import AppriseChannel
from ..payloads import chat_message
from .base import Delivery, Outcome


class AppriseNotifier:
    """Notifies every URL of one channel (see the module docstring).

    Raises ValueError for a URL apprise does not understand, naming it (secrets hidden).
    """

    def __init__(self, config: AppriseChannel, timezone: str | None = None) -> None:
        self.config = config
        self.timezone = timezone
        self._targets: dict[str, apprise.Apprise] = {}
        for url in config.urls:
            notifier = apprise.Apprise()
            if not _quietly_add(notifier, url):
                scheme = url.split("://", 1)[0]
                raise ValueError(
                    f"channel {config.name}: apprise does not understand a {scheme}:// URL"
                )
            for plugin in notifier:
                plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, config.timeout)
                plugin.socket_read_timeout = min(plugin.socket_read_timeout, config.timeout)
            self._targets[hashlib.sha256(url.encode()).hexdigest()[:12]] = notifier

    def send(self, delivery: Delivery) -> Outcome:
        title, body = chat_message(delivery.payload, self.timezone)
        done = set(delivery.done_targets)
        errors = []
        for key, notifier in self._targets.items():
            if key in done:
                continue
            with apprise.LogCapture(level=logging.WARNING) as captured:
                ok = notifier.notify(body=body, title=title)
            if ok:
                done.add(key)
                continue
            lines = [line for line in captured.getvalue().splitlines() if line.strip()]
            reason = lines[-1].split(" - ", 2)[-1] if lines else "notify failed"
            errors.append(f"{notifier[0].url(privacy=True)}: {reason}")
        return Outcome(ok=not errors, error="; ".join(errors) or None, done_targets=frozenset(done))

    def open(self) -> None:
        pass  # apprise connects per notification

    def close(self) -> None:
        pass


def _quietly_add(notifier: apprise.Apprise, url: str) -> bool:
    """``notifier.add(url)`` without apprise's own log line for a bad URL (it names the URL
    with its secrets; the caller raises one line of its own). Called while a channel is built,
    before any worker thread runs."""
    logger = logging.getLogger("apprise")
    propagate, logger.propagate = logger.propagate, False
    try:
        return notifier.add(url)
    finally:
        logger.propagate = propagate
