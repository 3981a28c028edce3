"""What every channel is: something that sends one delivery and says how it went.

A channel is opened by the worker that drives it when its dispatcher takes the lease, and
closed when the worker stops (it may be opened again later): a standby dispatcher holds no
connection and announces nothing. A channel never raises for a failed send: it answers an
:class:`Outcome`, and the worker logs the attempt and schedules the retry. Channels that fan
out to several targets (apprise URLs, WebPush subscriptions, MQTT's two topics) report the
targets they have reached and skip those on the next attempt: a retry repeats nothing that
arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to send one change. ``key`` is the idempotency key (``<outbox_id>:<channel>``),
    the same on every attempt; ``done_targets`` were reached by earlier attempts."""

    key: str
    attempt: int
    payload: dict[str, Any]
    done_targets: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went. ``retry``: whether another attempt could succeed (ignored when
    ``ok``); ``done_targets``: the targets reached so far, for fan-out channels."""

    ok: bool
    retry: bool = True
    http_status: int | None = None
    error: str | None = None
    done_targets: frozenset[str] = field(default_factory=frozenset)


SENT = Outcome(ok=True)


class Channel(Protocol):
    """A destination for alerts (see the module docstring)."""

    def open(self) -> None: ...

    def send(self, delivery: Delivery) -> Outcome: ...

    def close(self) -> None: ...
