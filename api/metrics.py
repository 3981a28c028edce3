"""Prometheus metrics of one app: stored events by rule, cameras by state, SSE clients; and,
after them, the process-wide default registry (alert deliveries and latency, which
``vigil.events.alerts.metrics`` registers there, and the process's own figures).

Each app has its own registry (``app.state.services.metrics.registry``), so several apps in
one process (tests) do not collide.

>>> from vigil.events.store import EventStore
>>> metrics = Metrics(EventStore("sqlite://"))
>>> b"vigil_sse_clients 0.0" in metrics.render()
True
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from vigil.events.store import EventStore
from vigil.events.store.drops import drop_counts
from vigil.events.store.models import EventRow
from vigil.streams.health import CameraState, is_stale


class _StoreCollector(Collector):
    """Read at each scrape, from the store."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        events = GaugeMetricFamily("vigil_events", "Events stored, by rule", labels=["rule"])
        with self._store.engine.connect() as conn:
            for rule, count in conn.execute(
                select(EventRow.rule, func.count()).group_by(EventRow.rule)
            ):
                events.add_metric([rule], count)
        yield events
        cameras = GaugeMetricFamily(
            "vigil_cameras",
            "Cameras by health state; stale: the worker has not refreshed the row lately",
            labels=["state", "stale"],
        )
        now = time.time()
        counts = {(s.value, stale): 0 for s in CameraState for stale in ("false", "true")}
        for h in self._store.camera_health():
            counts[h.state.value, str(is_stale(h, now)).lower()] += 1
        for (state, stale), count in sorted(counts.items()):
            cameras.add_metric([state, stale], count)
        yield cameras
        drops = GaugeMetricFamily(
            "vigil_media_dropped",
            "Media lost so far: segments deleted for disk, uploads lost, events missing evidence",
            labels=["what"],
        )
        for what, count in drop_counts(self._store).as_dict().items():
            drops.add_metric([what], count)
        yield drops


class Metrics:
    def __init__(self, store: EventStore) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StoreCollector(store))
        self.sse_clients = Gauge(
            "vigil_sse_clients", "Clients connected to the event stream", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry) + generate_latest(REGISTRY)
