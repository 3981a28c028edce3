"""Web Push (VAPID) to the console on phones: one encrypted push per stored subscription.

Subscriptions are stored per user (``push_subscriptions``, see
:class:`~vigil.events.alerts.store.AlertStore`); a push service that answers 404 or 410 says
the subscription is gone, and it is deleted. The VAPID key pair is the configured one, or one
generated on first use and kept in the data folder (``vapid_private.pem``), so phones that
subscribed keep working across restarts; :func:`vapid_public_key` is the
``applicationServerKey`` the console subscribes with.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from ..backoff import http_status_retryable
from ..config import AlertsConfig, WebPushChannel
from ..payloads import push_message
from ..store import AlertStore
from .base import Delivery, Outcome

VAPID_FILE = "vapid_private.pem"
GONE = frozenset({404, 410})


def load_vapid(config: WebPushChannel, data_dir: Path) -> Vapid:
    """The channel's VAPID key: ``vapid_private_key`` (PEM text or a file path), else the
    data folder's ``vapid_private.pem``, generated (mode 0600) the first time."""
    given = config.vapid_private_key
    if given is not None:
        if "-----BEGIN" in given:
            return Vapid.from_pem(given.encode())
        if not Path(given).is_file():
            raise ValueError(f"channel {config.name}: no VAPID key file at {given}")
        return Vapid.from_file(given)
    path = Path(data_dir) / VAPID_FILE
    if path.is_file():
        return Vapid.from_file(str(path))
    vapid = Vapid()
    vapid.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(vapid.private_pem())
    os.replace(tmp, path)  # two processes starting at once: one key wins, both read it
    return Vapid.from_file(str(path))


def vapid_public_key(vapid: Vapid) -> str:
    """The ``applicationServerKey`` for ``pushManager.subscribe``: the uncompressed P-256
    point, base64url without padding."""
    raw = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def application_server_key(alerts: AlertsConfig | None, data_dir: Path) -> str | None:
    """The key the console passes to ``pushManager.subscribe`` (``applicationServerKey``):
    that of the site's first WebPush channel, or None when it has none (for the API)."""
    for channel in alerts.channels if alerts is not None else ():
        if isinstance(channel, WebPushChannel):
            return vapid_public_key(load_vapid(channel, data_dir))
    return None


class WebPush:
    """Pushes each delivery to every subscription of the channel's users (all by default)."""

    def __init__(
        self,
        config: WebPushChannel,
        alerts: AlertStore,
        vapid: Vapid,
        timezone: str | None = None,
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.vapid = vapid
        self.timezone = timezone
        self._session: requests.Session | None = None

    def open(self) -> None:
        if self._session is None:
            self._session = requests.Session()

    def send(self, delivery: Delivery) -> Outcome:
        if self._session is None:
            self.open()
        subscriptions = self.alerts.push_subscriptions(users=self.config.users)
        if not subscriptions:
            return Outcome(ok=False, retry=False, error="no push subscriptions")
        data = json.dumps(push_message(delivery.payload, self.timezone), ensure_ascii=False)
        done = set(delivery.done_targets)
        errors: list[str] = []
        retry = False
        for sub in subscriptions:
            target = str(sub.id)
            if target in done:
                continue
            try:
                webpush(
                    sub.info(),
                    data,
                    vapid_private_key=self.vapid,
                    vapid_claims={"sub": self.config.subject},  # webpush adds aud and exp
                    ttl=self.config.ttl,
                    timeout=self.config.timeout,
                    headers={"Urgency": self.config.urgency},
                    requests_session=self._session,
                )
                done.add(target)
            except WebPushException as exc:
                code = None if exc.response is None else exc.response.status_code
                if code in GONE:
                    self.alerts.remove_push_subscription(sub.endpoint)
                    done.add(target)
                    continue
                retryable = code is None or http_status_retryable(code)
                retry = retry or retryable
                if not retryable:
                    done.add(target)  # it will not get better: do not push it again
                errors.append(f"{sub.user_name}'s subscription: HTTP {code}: {exc.message[:120]}")
            except requests.RequestException as exc:
                retry = True
                errors.append(f"{sub.user_name}'s subscription: {type(exc).__name__}: {exc}")
        return Outcome(
            ok=not errors,
            retry=retry,
            error="; ".join(errors) or None,
            done_targets=frozenset(done),
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
