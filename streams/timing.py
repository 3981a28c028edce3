"""Light per-stage timing for a worker: how long each stage (decode, motion, each model,
tracking, rules, evidence, store…) took, as a bounded sample per stage, for `vigil bench`.

A worker without a timer pays nothing: every part holds ``timer: StageTimer | None`` and times
its stages with :func:`timed`, which does nothing without one. Samples are kept in a ring of
the newest ``keep`` per stage, so a long run's memory stays flat; counts and worst values cover
the whole run.

>>> timer = StageTimer()
>>> for ms in (1, 2, 3, 4, 100):
...     timer.add("rules", ms / 1000)
>>> s = timer.summary()["rules"]
>>> s["n"], s["p50_ms"], s["max_ms"]
(5, 3.0, 100.0)
>>> with timed(timer, "motion"):
...     pass
>>> with timed(None, "motion"):  # no timer: nothing is measured
...     pass
>>> timer.summary()["motion"]["n"]
1
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Seconds per stage, thread-safe (readers, the inference thread and the evidence writer
    all add to one timer)."""

    def __init__(self, keep: int = 20_000) -> None:
        self._keep = keep
        self._samples: dict[str, deque[float]] = {}
        self._counts: dict[str, int] = {}
        self._worst: dict[str, float] = {}
        self._total: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            ring = self._samples.get(stage)
            if ring is None:
                ring = self._samples[stage] = deque(maxlen=self._keep)
            ring.append(seconds)
            self._counts[stage] = self._counts.get(stage, 0) + 1
            self._worst[stage] = max(self._worst.get(stage, 0.0), seconds)
            self._total[stage] = self._total.get(stage, 0.0) + seconds

    def reset(self) -> None:
        """Forget every sample (after a warm-up)."""
        with self._lock:
            self._samples.clear()
            self._counts.clear()
            self._worst.clear()
            self._total.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: ``n``, ``p50_ms``, ``p95_ms``, ``max_ms``, ``total_s``."""
        with self._lock:
            stages = {k: sorted(v) for k, v in self._samples.items()}
            counts, worst, total = dict(self._counts), dict(self._worst), dict(self._total)
        return {
            stage: {
                "n": counts[stage],
                "p50_ms": round(1000 * quantile(values, 0.50), 1),
                "p95_ms": round(1000 * quantile(values, 0.95), 1),
                "max_ms": round(1000 * worst[stage], 1),
                "total_s": round(total[stage], 3),
            }
            for stage, values in sorted(stages.items())
            if values
        }


@contextmanager
def timed(timer: StageTimer | None, stage: str) -> Iterator[None]:
    """Add the block's wall time to ``timer`` as ``stage``; nothing without a timer. A block
    that raises is not counted (a failed store write is not a store latency)."""
    if timer is None:
        yield
        return
    began = time.perf_counter()
    yield
    timer.add(stage, time.perf_counter() - began)


def quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, by nearest rank (0.0 for none).

    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5), quantile([1.0, 2.0, 3.0, 4.0], 0.95)
    (2.0, 4.0)
    """
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[rank]
