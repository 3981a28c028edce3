"""When to try a failed delivery again: capped exponential backoff with jitter.

>>> retry_delay(1, initial=1.0, maximum=300.0, draw=0.5)
0.75
>>> retry_delay(20, initial=1.0, maximum=300.0, draw=1.0)
300.0
"""

from __future__ import annotations

import random

RETRY_STATUSES = frozenset({408, 425, 429})


def retry_delay(
    attempt: int,
    *,
    initial: float,
    maximum: float,
    draw: float | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The base doubles each attempt from ``initial`` up to ``maximum``; the wait is drawn
    uniformly from [base/2, base] ("equal jitter"), so retries of many deliveries that failed
    together spread out instead of arriving at a recovering receiver all at once.
    ``draw`` in [0, 1] replaces the random draw (tests).
    """
    base = min(maximum, initial * 2.0 ** min(attempt - 1, 62))
    u = random.random() if draw is None else draw
    return base / 2 + u * base / 2


def http_status_retryable(status: int) -> bool:
    """Whether an HTTP answer is worth retrying: 5xx, 408, 425 and 429 are; other 4xx are not
    (a wrong URL or a rejected signature does not get better by waiting).

    >>> [http_status_retryable(s) for s in (500, 503, 429, 400, 401, 404)]
    [True, True, True, False, False, False]
    """
    return status >= 500 or status in RETRY_STATUSES
