"""Webhooks: the payload POSTed as JSON, signed, with an idempotency key.

Headers: ``X-Vigil-Delivery: <outbox_id>:<channel>`` (the same on every attempt: a receiver
drops a repeat it has seen), ``X-Vigil-Attempt``, ``X-Vigil-Timestamp: <unix seconds>`` and,
with a ``secret``, ``X-Vigil-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``.
A 2xx answer is success; 5xx, 408, 425, 429, timeouts and connection errors are retried; other
4xx are not (the request itself is wrong: URL, signature, payload).

Verifying in a receiver (Python)::

    expected = "sha256=" + hmac.new(secret, f"{ts}.".encode() + body, sha256).hexdigest()
    ok = hmac.compare_digest(expected, request.headers["X-Vigil-Signature"])
         and abs(time.time() - int(ts)) < 300
"""

from __future__ import annotations

import time

import httpx

from ..backoff import http_status_retryable
from ..config import WebhookChannel
from ..payloads import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, encode, sign
from .base import Delivery, Outcome


class Webhook:
    """POSTs deliveries to one URL (see the module docstring).

    >>> hook = Webhook(WebhookChannel(name="x", kind="webhook", url="http://127.0.0.1:9/"))
    >>> hook.open(); hook.close()
    """

    def __init__(self, config: WebhookChannel) -> None:
        self.config = config
        self._client: httpx.Client | None = None

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.config.timeout, follow_redirects=False)

    def send(self, delivery: Delivery) -> Outcome:
        body = encode(delivery.payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vigil-alerts",
            DELIVERY_HEADER: delivery.key,
            "X-Vigil-Attempt": str(delivery.attempt),
            TIMESTAMP_HEADER: str(timestamp),
            **self.config.headers,
        }
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, timestamp, body)
        if self._client is None:
            self.open()
        assert self._client is not None
        try:
            response = self._client.post(self.config.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(ok=False, error=f"timed out after {self.config.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(ok=True, http_status=code)
        reason = response.text[:200].strip()
        return Outcome(
            ok=False,
            retry=http_status_retryable(code),
            http_status=code,
            error=f"HTTP {code}" + (f": {reason}" if reason else ""),
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
