"""Camera time: one clock per camera that keeps running across reconnects.

A live stream's timestamps restart when it reconnects, jump when a camera reboots, and start
wherever the sender likes. The pipeline and the pre-roll buffer need one increasing clock per
camera instead: seconds since the reader started (:meth:`Timeline.now`). Within one connection
(a *segment*) a timestamp maps onto that clock by a fixed offset fixed at the segment's first
timestamp, so frame spacing is the sender's, not the network's; a new segment starts after the
last one ended, so a reconnect leaves a gap on the camera clock, never an overlap.

>>> monotonic = [100.0]
>>> tl = Timeline(clock=lambda: monotonic[0])       # started at monotonic 100.0
>>> tl.new_segment(); tl.t(5.0)                     # the first timestamp maps to "now"
0.0
>>> monotonic[0] = 100.5; tl.t(5.5)
0.5
>>> monotonic[0] = 110.0                            # reconnected 10 s later, pts restarted
>>> tl.new_segment(); tl.t(0.0)
10.0
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Timeline:
    """Maps stream timestamps (seconds) of successive segments onto camera seconds.

    With ``max_drift`` set (live sources), a timestamp that lands further than that from the
    wall clock re-anchors the segment (a camera that jumped its clock); without it (recorded
    files read in order) timestamps are used as they are, from the segment's start. With
    ``adapt`` (network sources), the offset follows the earliest arrival, so frames that came
    in a burst are placed where the sender meant them; a file played at its own pace (a looped
    file) must not adapt, as it is read ahead of the clock by design.
    """

    def __init__(
        self,
        *,
        max_drift: float | None = 10.0,
        clock: Callable[[], float] = time.monotonic,
        anchor_on_clock: bool = True,
        adapt: bool = True,
    ) -> None:
        self._clock = clock
        self.origin = clock()
        self.max_drift = max_drift
        self.anchor_on_clock = anchor_on_clock
        self.adapt = adapt and anchor_on_clock
        self._offset: float | None = None
        self._floor = float("-inf")  # camera seconds the current segment may not start before
        self._first = 0.0  # the segment's first timestamp
        self.last_t = float("-inf")
        self.period = 0.04

    def now(self) -> float:
        """Seconds since the reader started."""
        return self._clock() - self.origin

    def new_segment(self) -> None:
        """The next timestamp starts a new segment (a new connection, a loop of a file)."""
        self._offset = None
        # A segment starts after everything before it, so segments never overlap.
        if self.last_t > float("-inf"):
            self._floor = self.last_t + self.period

    def t(self, stamp: float) -> float:
        """Camera seconds of a stream timestamp in the current segment."""
        if self._offset is None:
            self._anchor(stamp)
        elif self.adapt:
            # The first frames of a connection often come in a burst (the sender's buffer):
            # the earliest arrival relative to its timestamp is the true offset.
            self._offset = max(min(self._offset, self.now() - stamp), self._floor - self._first)
        t = stamp + self._offset
        if self.max_drift is not None and abs(t - self.now()) > self.max_drift:
            self.new_segment()
            self._anchor(stamp)
            t = stamp + self._offset
        self.last_t = max(self.last_t, t)
        return t

    def unstamped(self) -> float:
        """Camera seconds for a frame that came without a timestamp: its arrival time (live),
        or one period after the previous frame (recorded)."""
        if self.anchor_on_clock:
            t = max(self.now(), self.last_t + 1e-3)
        else:
            t = 0.0 if self.last_t == float("-inf") else self.last_t + self.period
        self.last_t = t
        return t

    @property
    def anchored(self) -> bool:
        return self._offset is not None

    def _anchor(self, stamp: float) -> None:
        start = max(self.now(), self._floor) if self.anchor_on_clock else max(0.0, self._floor)
        self._first = stamp
        self._offset = start - stamp


class PacketClock:
    """Fills in the timestamps FFmpeg leaves out, so packets can be remuxed into an MP4.

    Over RTSP the first packets of a connection may lack a dts (and the first keyframe its
    pts): FFmpeg only derives them once it has seen enough of the stream. Packets are held until
    the first known dts, whose predecessors get dts one frame ``period`` apart before it; later
    gaps continue from the last dts. Decode timestamps are made strictly increasing, and a
    missing or impossible pts (before its dts) becomes the dts: a frame shown a period early
    beats a file that does not play.

    >>> pc = PacketClock(period=1.0)
    >>> pc.push(b"I", None, None, True), pc.push(b"P", 3.0, None, False)
    ([], [])
    >>> [(d, pts, dts) for d, pts, dts, _ in pc.push(b"B", 1.0, 1.0, False)]
    [(b'I', -1.0, -1.0), (b'P', 3.0, 0.0), (b'B', 1.0, 1.0)]
    """

    MAX_PENDING = 120  # a stream that never gives a dts: stop waiting and number them

    def __init__(self, period: float) -> None:
        self.period = period
        self._pending: list[list] = []
        self._last_dts: float | None = None

    def push(
        self, data: bytes, pts: float | None, dts: float | None, keyframe: bool
    ) -> list[tuple[bytes, float, float, bool]]:
        """Take one packet (stream seconds); return the packets whose timestamps are known."""
        self._pending.append([data, pts, dts, keyframe])
        if self._last_dts is None:
            known = next((i for i, p in enumerate(self._pending) if p[2] is not None), None)
            if known is None:
                if len(self._pending) < self.MAX_PENDING:
                    return []
                first = next((p[1] for p in self._pending if p[1] is not None), 0.0)
                self._pending[0][2] = first
                known = 0
            base = self._pending[known][2]
            for i in range(known):
                self._pending[i][2] = base - (known - i) * self.period
        out = []
        for p in self._pending:
            if p[2] is None:
                p[2] = self._last_dts + self.period
            if self._last_dts is not None and p[2] <= self._last_dts:
                p[2] = self._last_dts + 1e-4
            if p[1] is None or p[1] < p[2]:
                p[1] = p[2]
            self._last_dts = p[2]
            out.append((p[0], p[1], p[2], p[3]))
        self._pending.clear()
        return out
