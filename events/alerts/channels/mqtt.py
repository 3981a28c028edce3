"""MQTT: every change on ``<prefix>/events`` and on ``<prefix>/<camera>/<rule>``.

The payload is the same JSON as a webhook's; its ``delivery`` field (``<outbox_id>:<channel>``)
is the message id a subscriber dedupes on (QoS 1 is at-least-once by MQTT's own design).
``<prefix>/available`` is retained: ``online`` while the dispatcher is connected, ``offline``
(the broker's last will) when it goes away.

A message is handed to the broker only while the client is connected: paho would otherwise
queue it and send it after a reconnect, behind the dispatcher's back, on top of the retry.
"""

from __future__ import annotations

import contextlib
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..config import MqttChannel
from ..payloads import encode, mqtt_topics
from .base import Delivery, Outcome


class Mqtt:
    """A paho client kept connected in its own network thread (see the module docstring)."""

    def __init__(self, config: MqttChannel) -> None:
        self.config = config
        self._available = f"{config.topic_prefix}/available"
        self._connected = threading.Event()
        self._last_error: str | None = None
        self._client: mqtt.Client | None = None

    def open(self) -> None:
        """Connect (in paho's network thread, reconnecting by itself) and announce ``online``."""
        if self._client is not None:
            return
        c = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"vigil-{c.name}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        if c.username is not None:
            client.username_pw_set(c.username, c.password)
        client.will_set(self._available, "offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(c.host, c.port, keepalive=30)
        client.loop_start()
        self._client = client

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self._last_error = f"broker refused the connection: {reason_code}"
            return
        client.publish(self._available, "online", qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:  # noqa: ANN001
        self._connected.clear()
        if reason_code.is_failure:
            self._last_error = f"disconnected: {reason_code}"

    def send(self, delivery: Delivery) -> Outcome:
        c = self.config
        if self._client is None:
            self.open()
        assert self._client is not None
        if not self._connected.wait(c.timeout):
            why = self._last_error or "no connection"
            return Outcome(ok=False, error=f"MQTT broker {c.host}:{c.port}: {why}")
        p = delivery.payload
        events_topic, camera_topic = mqtt_topics(c.topic_prefix, p["camera"], p["rule"])
        body = encode(p)
        done = set(delivery.done_targets)
        error = None
        for target, topic, retain in (
            ("events", events_topic, False),
            ("camera", camera_topic, c.retain),
        ):
            if target in done:
                continue
            try:
                info = self._client.publish(topic, body, qos=c.qos, retain=retain)
                info.wait_for_publish(c.timeout)
                if not info.is_published():
                    raise RuntimeError(f"not acknowledged within {c.timeout:g} s")
            except (RuntimeError, ValueError) as exc:
                error = f"publish to {topic}: {exc}"
                break
            done.add(target)
        return Outcome(ok=error is None, error=error, done_targets=frozenset(done))

    def close(self) -> None:
        """Announce ``offline`` and disconnect; :meth:`open` connects again."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected.is_set():
            # If the broker went away meanwhile, its last will says offline.
            with contextlib.suppress(RuntimeError, ValueError):
                client.publish(self._available, "offline", qos=1, retain=True).wait_for_publish(1)
        client.disconnect()
        client.loop_stop()
        self._connected.clear()
