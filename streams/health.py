"""Camera health: the state of each camera's stream and how well it flows.

States (DESIGN.md, Processes):

- ``connecting``: opening the stream (first time, or again after a stall or a failure);
- ``live``: frames arrive;
- ``stalled``: frames stopped (the stream ended, broke, or sent nothing for ``stall_seconds``);
  the reader reopens it at once, with backoff;
- ``failed``: the stream cannot be opened (refused, unreachable, wrong credentials, not a video):
  the reader keeps retrying with capped backoff while the process runs (the state stays
  ``failed`` meanwhile), so a camera that comes back goes ``live`` on its own;
- ``stopped``: the worker stopped the camera (shutdown), or a recorded file reached its end.

>>> h = CameraHealth("gate-3", name="Gate 3", source="rtsp://cam/1")
>>> h.connecting(); h.frame(t=1.0, wall=1.7e9); h.state.value
'live'
>>> h.lost("stream ended"); h.state.value, h.last_error
('stalled', 'stream ended')

A camera whose detection reads a substream has a second stream, its main one (recorded, never
decoded): while that is down the camera shows it, however well the substream flows.

>>> h.frame(t=2.0, wall=1.7e9); h.stream_down("main stream", "connection refused")
>>> h.frame(t=3.0, wall=1.7e9); h.state.value, h.last_error
('stalled', 'main stream: connection refused')
>>> h.stream_up("main stream"); h.frame(t=4.0, wall=1.7e9); h.state.value
'live'
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class CameraState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """One camera's health at one moment: what the store keeps and `vigil status` prints."""

    camera: str
    name: str | None
    source: str  # credentials removed
    state: CameraState
    state_since: float  # epoch seconds
    fps_in: float  # frames decoded per second, over the last few seconds
    fps_analysed: float  # frames analysed per second, over the last few seconds
    last_frame_wall: float | None  # epoch seconds of the newest frame
    reconnects: int  # connection attempts after the first
    skipped: int  # analyses due that the busy inference service could not run
    last_error: str | None
    updated_at: float  # epoch seconds
    worker: str | None = None  # host:pid of the worker running the camera, as stored
    pending_changes: int = 0  # event changes waiting in the worker's journal for the database
    lost_changes: int = 0  # event changes neither stored nor journaled (journal disk failed)


# A stored health row not refreshed for this long belongs to a worker that is not running (or
# cannot reach the database): `vigil status` and the API show it as stale.
STALE_AFTER_S = 10.0


def is_stale(h: HealthSnapshot, now: float) -> bool:
    """Whether a stored health row is too old to trust (a stopped camera never is).

    >>> h = HealthSnapshot("c", None, "x", CameraState.LIVE, 0.0, 1.0, 1.0, None, 0, 0, None, 100.0)
    >>> is_stale(h, 105.0), is_stale(h, 111.0)
    (False, True)
    """
    return h.state is not CameraState.STOPPED and now - h.updated_at > STALE_AFTER_S


class RateMeter:
    """Events per second over a sliding window of ``window`` seconds.

    >>> times = iter([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])   # start, four ticks, the reading
    >>> m = RateMeter(window=2.0, clock=times.__next__)
    >>> for _ in range(4): m.tick()
    >>> m.rate()
    2.0
    """

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()
        self._started = clock()

    def tick(self) -> None:
        now = self._clock()
        self._times.append(now)
        self._expire(now)

    def rate(self) -> float:
        now = self._clock()
        self._expire(now)
        span = min(self.window, max(now - self._started, 1e-9))
        return len(self._times) / span

    def reset(self) -> None:
        self._times.clear()
        self._started = self._clock()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()


Listener = Callable[[str, CameraState, str | None], None]  # camera, new state, error


class CameraHealth:
    """The health of one camera, updated by its reader and the analysis, read by anyone.

    Thread-safe. ``listeners`` hear every state change (camera, state, last error): the
    worker logs them, tests record them.
    """

    def __init__(
        self,
        camera: str,
        *,
        name: str | None = None,
        source: str = "",
        fail_after: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera, self.name, self.source = camera, name, source
        self.fail_after = fail_after
        self._clock = clock
        self._lock = threading.Lock()
        self.state = CameraState.CONNECTING
        self.state_since = clock()
        self.last_error: str | None = None
        self.last_frame_wall: float | None = None
        self.attempts = 0
        self.failures = 0  # consecutive failed attempts since the stream was last live
        self.skipped = 0
        self.pending_changes = 0
        self.lost_changes = 0
        self._in = RateMeter()
        self._analysed = RateMeter()
        self._down: dict[str, tuple[CameraState, str]] = {}  # other streams that are down
        self.listeners: list[Listener] = []

    @property
    def reconnects(self) -> int:
        return max(0, self.attempts - 1)

    def connecting(self) -> None:
        """A connection attempt begins. A failed camera shows ``failed`` while it retries:
        it goes ``live`` when an attempt works."""
        with self._lock:
            self.attempts += 1
            failed = self.state is CameraState.FAILED
        if not failed:
            self._set(CameraState.CONNECTING)

    def frame(self, t: float, wall: float) -> None:
        """A frame was decoded: the camera is live, unless another of its streams is down."""
        self._in.tick()
        with self._lock:
            self.last_frame_wall = wall
            self.failures = 0
            state, error = next(iter(self._down.values()), (CameraState.LIVE, None))
            same = self.state is state
        if not same:
            self._set(state, error=error)

    def frame_skipped(self) -> None:
        """A frame arrived that was not decoded (a non-reference frame skipped): it counts in
        ``fps_in``, the rate the camera sends."""
        self._in.tick()

    def stream_down(
        self, stream: str, reason: str, state: CameraState = CameraState.STALLED
    ) -> None:
        """Another stream of the camera (``stream``, e.g. its main stream) is down: the camera
        shows ``state`` with ``stream: reason`` until :meth:`stream_up`."""
        error = f"{stream}: {reason}"
        with self._lock:
            self._down[stream] = (state, error)
        self._set(state, error=error)

    def stream_up(self, stream: str) -> None:
        """``stream`` flows again; the camera goes live with the next frame."""
        with self._lock:
            self._down.pop(stream, None)

    def count_attempt(self) -> None:
        """Another stream of the camera reconnects (counted in ``reconnects``)."""
        with self._lock:
            self.attempts += 1

    def analysed(self) -> None:
        self._analysed.tick()

    def skip(self, count: int = 1) -> None:
        """The analysis missed ``count`` of this camera's slots (it ran behind)."""
        with self._lock:
            self.skipped += count

    def lost(self, reason: str) -> None:
        """A live stream stopped giving frames (ended, broke, stalled)."""
        self._set(CameraState.STALLED, error=reason)

    def failed_attempt(self, reason: str, *, permanent: bool = False) -> None:
        """A connection attempt failed. The camera shows ``failed`` at once for errors that
        retrying will not fix soon (wrong credentials, not a video), else after
        ``fail_after`` consecutive failures (one refused connection may be a restart)."""
        with self._lock:
            self.failures += 1
            failed = permanent or self.failures >= self.fail_after
        self._set(CameraState.FAILED if failed else CameraState.CONNECTING, error=reason)

    def backlog(self, pending: int, lost: int) -> None:
        """The camera's event changes waiting for the database, and those lost (never stored)."""
        with self._lock:
            self.pending_changes, self.lost_changes = pending, lost

    def stopped(self, reason: str | None = None) -> None:
        self._set(CameraState.STOPPED, error=reason, keep_error=reason is None)

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            return HealthSnapshot(
                camera=self.camera,
                name=self.name,
                source=self.source,
                state=self.state,
                state_since=self.state_since,
                fps_in=round(self._in.rate(), 2),
                fps_analysed=round(self._analysed.rate(), 2),
                last_frame_wall=self.last_frame_wall,
                reconnects=self.reconnects,
                skipped=self.skipped,
                last_error=self.last_error,
                updated_at=self._clock(),
                pending_changes=self.pending_changes,
                lost_changes=self.lost_changes,
            )

    def _set(self, state: CameraState, *, error: str | None = None, keep_error: bool = False):
        with self._lock:
            changed = state is not self.state
            if not keep_error and (error is not None or state is CameraState.LIVE):
                self.last_error = error
            if changed:
                self.state = state
                self.state_since = self._clock()
                if state is not CameraState.LIVE:
                    self._in.reset()
                if state is CameraState.STOPPED:
                    self._analysed.reset()
            listeners, last_error = list(self.listeners), self.last_error
        if changed:
            for listener in listeners:
                listener(self.camera, state, last_error)
