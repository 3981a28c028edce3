"""The camera supervisor: starts every camera's reader, keeps it running, publishes health.

Readers never give up on a live camera themselves (they retry with backoff); the supervisor
restarts a reader whose thread died all the same (a bug must not silence a camera until the
next deploy), and hands everyone's :class:`~vigil.streams.health.HealthSnapshot` to ``publish``
about once a second (`vigil run` writes them to the store, where `vigil status` and the API
read them).

Example::

    supervisor = Supervisor(readers, publish=lambda snaps: store.put_camera_health(snaps, me))
    supervisor.start()
    while not stop.wait(1.0):
        supervisor.tick()
    supervisor.stop()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from vigil.streams.health import HealthSnapshot
from vigil.streams.reader import CameraReader

log = logging.getLogger(__name__)

Publisher = Callable[[list[HealthSnapshot]], None]


class Supervisor:
    def __init__(
        self,
        readers: list[CameraReader],
        publish: Publisher | None = None,
        *,
        publish_every: float = 1.0,
    ) -> None:
        self.readers = readers
        self.publish = publish
        self.publish_every = publish_every
        self.restarts = 0
        self._published = float("-inf")
        self._publish_failed_at = float("-inf")
        self._started = False

    def start(self) -> None:
        self._started = True
        for reader in self.readers:
            reader.start()
        self.tick(force=True)

    def add(self, reader: CameraReader) -> None:
        """Supervise one more reader (started at once if the supervisor runs)."""
        self.readers = [*self.readers, reader]
        if self._started:
            reader.start()

    def remove(self, cameras: list[str], timeout: float = 3.0) -> None:
        """Stop these cameras' readers (waiting up to ``timeout`` s in all) and forget them:
        their health is no longer published."""
        gone = [r for r in self.readers if r.camera in cameras]
        self.readers = [r for r in self.readers if r.camera not in cameras]
        for reader in gone:
            reader.stop()
        deadline = time.monotonic() + timeout
        for reader in gone:
            reader.join(max(0.0, deadline - time.monotonic()))

    def tick(self, force: bool = False) -> None:
        """Restart dead readers; publish health when it is due (or ``force``)."""
        for reader in self.readers:
            if not reader.is_alive() and not reader.finished and not reader.stopping:
                self.restarts += 1
                log.error("camera %s: reader thread died; restarting it", reader.camera)
                reader.start()
        now = time.monotonic()
        if force or now - self._published >= self.publish_every:
            self._published = now
            self._publish()

    def snapshots(self) -> list[HealthSnapshot]:
        return [reader.health.snapshot() for reader in self.readers]

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every reader, wait up to ``timeout`` seconds in all, publish a last time."""
        for reader in self.readers:
            reader.stop()
        deadline = time.monotonic() + timeout
        for reader in self.readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        for reader in self.readers:
            if reader.is_alive():  # blocked in a read; it is a daemon thread and ends with us
                reader.health.stopped()
        self._publish()

    def _publish(self) -> None:
        if self.publish is None:
            return
        try:
            self.publish(self.snapshots())
        except Exception as exc:  # the database may be down: cameras keep running
            now = time.monotonic()
            if now - self._publish_failed_at > 60:
                self._publish_failed_at = now
                log.warning("camera health not stored: %s", str(exc).splitlines()[0])
