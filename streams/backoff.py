"""Capped exponential backoff with jitter, for reconnecting to cameras.

The n-th retry waits ``min(cap, initial * 2**n)`` seconds scaled by a random factor in
``[1 - jitter, 1]`` ("equal jitter" when jitter is 0.5): cameras that dropped together (a switch
rebooted) do not all knock again at the same instant, and no wait exceeds ``cap``.

>>> b = Backoff(initial=0.5, cap=4.0, jitter=0.0)
>>> [b.next_delay() for _ in range(6)]
[0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
>>> b.reset(); b.next_delay()
0.5
"""

from __future__ import annotations

import random


class Backoff:
    """Delays before successive retries; :meth:`reset` once a connection works again."""

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= cap:
            raise ValueError(f"need 0 < initial <= cap, got initial={initial}, cap={cap}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"jitter must lie in [0, 1], got {jitter}")
        self.initial, self.cap, self.jitter = initial, cap, jitter
        self._rng = rng or random.Random()
        self.attempts = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next retry; each call counts one retry."""
        # The exponent is capped too, so a camera down for weeks never overflows a float.
        ceiling = min(self.cap, self.initial * 2 ** min(self.attempts, 60))
        self.attempts += 1
        return ceiling * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0
