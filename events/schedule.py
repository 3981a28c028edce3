"""Daily time windows (``"22:00-06:00"``): when a rule is active, when an alert route sends.

>>> window = parse_window("22:00-06:00")
>>> in_window(23 * 60, window), in_window(12 * 60, window)
(True, False)
"""

from __future__ import annotations

import re

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as (start, end) minutes of the day; the end may be ``24:00``.

    >>> parse_window("22:00-06:30")
    (1320, 390)
    """
    m = _WINDOW.match(text)
    bad = f"schedule window {text!r}: expected 'HH:MM-HH:MM', e.g. '22:00-06:00'"
    if not m:
        raise ValueError(bad)
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(bad)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"schedule window {text!r}: start and end are the same time")
    return start, end


def in_window(minute: float, window: tuple[int, int]) -> bool:
    """Whether a minute of the day lies in [start, end); windows may cross midnight."""
    start, end = window
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end
