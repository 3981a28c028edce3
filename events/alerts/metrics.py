"""Prometheus metrics of alerts, when prometheus-client is installed (module-level, so the
API's ``/metrics`` exposes them from the default registry).

- ``vigil_alert_deliveries_total{channel, status}``: finished attempts (sent, failed, dropped);
- ``vigil_alert_latency_seconds{channel}``: outbox write → delivery sent.
"""

from __future__ import annotations

try:
    from prometheus_client import Counter, Histogram
except ImportError:  # metrics are optional
    Counter = Histogram = None  # type: ignore[assignment,misc]

if Counter is not None:
    DELIVERIES = Counter(
        "vigil_alert_deliveries", "Finished alert delivery attempts", ["channel", "status"]
    )
    LATENCY = Histogram(
        "vigil_alert_latency_seconds",
        "Seconds from an event change's outbox write to its delivery",
        ["channel"],
        buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30, 60, 300),
    )


def delivered(channel: str, status: str, latency: float) -> None:
    """Count a finished attempt; observe the latency of a sent one."""
    if Counter is None:
        return
    DELIVERIES.labels(channel=channel, status=status).inc()
    if status == "sent":
        LATENCY.labels(channel=channel).observe(latency)
