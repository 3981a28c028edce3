"""Per-camera pre-roll: the last seconds of a stream, kept in memory for event clips.

Two kinds of items, one buffer type:

- :class:`Packet`: an encoded H.264 access unit (Annex B), for sources that are H.264. A clip
  is then a remux: no decoding, no encoding, and a few hundred kB per camera.
- :class:`Picture`: a decoded frame, for sources that are not H.264 (MJPEG, webcams, image
  folders). A clip is then encoded with :class:`~vigil.events.evidence.ClipEncoder`.

Times ``t`` are seconds on the camera's timeline (see :mod:`vigil.streams.timeline`), the same
clock as the ``pts`` of the frames that the pipeline analyses, so a violation's ``start_pts``
finds its pre-roll here. Packets come in decode order, so their ``t`` (presentation time) need
not increase; a clip may only start at a keyframe, so the buffer drops whole groups of pictures
(GOPs) from its head, keeping at least ``seconds`` behind the newest item.

>>> ring = RingBuffer(seconds=2.0, max_bytes=1 << 20)
>>> for i in range(10):
...     _ = ring.append(Picture(image=None, t=i * 0.5, nbytes=10))
>>> ring.oldest_t, ring.newest_t, len(ring)
(2.5, 4.5, 5)
>>> seq = ring.start_seq(3.2)          # the item to start a clip showing t=3.2 from
>>> [item.t for _, item in ring.since(seq - 1)]
[3.0, 3.5, 4.0, 4.5]
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StreamParams:
    """What a clip of packets needs to know about the stream they came from.

    One instance per connection: packets of different connections share it only if the
    camera sent the same kind of stream (a clip across a reconnect stays one valid file).
    """

    codec: str
    width: int
    height: int
    extradata: bytes | None


@dataclass(frozen=True, slots=True)
class Packet:
    """One encoded access unit; ``t``/``dts`` are camera-timeline seconds."""

    data: bytes
    t: float
    dts: float
    keyframe: bool
    params: StreamParams

    @property
    def nbytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Picture:
    """One decoded frame (an ``av.VideoFrame`` or a BGR array) at ``t``."""

    image: Any
    t: float
    nbytes: int
    keyframe: bool = True  # every decoded frame can start a clip


ClipItem = Packet | Picture


class RingBuffer:
    """Thread-safe FIFO of :data:`ClipItem`; one reader thread appends, others read.

    Items get increasing sequence numbers, so a clip recorder can follow the stream with
    :meth:`since` without copying the whole buffer. ``max_bytes`` bounds memory whatever the
    camera sends (a GOP of minutes, a burst of huge frames): the oldest GOPs go first.
    """

    def __init__(self, seconds: float, max_bytes: int) -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._items: deque[tuple[int, ClipItem]] = deque()
        self._keys: deque[int] = deque()  # sequence numbers of keyframes in the buffer
        self._next_seq = 0
        self._bytes = 0
        self._newest_t = float("-inf")
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    @property
    def newest_t(self) -> float:
        return self._newest_t

    @property
    def oldest_t(self) -> float | None:
        with self._lock:
            return min((item.t for _, item in self._items), default=None)

    @property
    def next_seq(self) -> int:
        """The number the next appended item will get."""
        return self._next_seq

    def append(self, item: ClipItem) -> int:
        """Add an item; returns its sequence number."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            if not self._items and not item.keyframe:
                return seq  # nothing can be decoded before the first keyframe
            self._items.append((seq, item))
            if item.keyframe:
                self._keys.append(seq)
            self._bytes += item.nbytes
            self._newest_t = max(self._newest_t, item.t)
            self._trim()
            return seq

    def start_seq(self, t: float) -> int:
        """The keyframe to start a clip that shows ``t`` from: the last keyframe at or before
        ``t``, else the oldest one (the buffer no longer reaches back to ``t``)."""
        with self._lock:
            if not self._keys:
                return self._next_seq
            index = {seq: item for seq, item in self._items}
            chosen = self._keys[0]
            for seq in self._keys:
                if index[seq].t <= t + 1e-6:
                    chosen = seq
                else:
                    break
            return chosen

    def since(self, seq: int) -> list[tuple[int, ClipItem]]:
        """Items with sequence numbers above ``seq``, oldest first."""
        with self._lock:
            if not self._items or self._items[-1][0] <= seq:
                return []
            first = self._items[0][0]
            start = max(0, seq + 1 - first)
            return [self._items[i] for i in range(start, len(self._items))]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._keys.clear()
            self._bytes = 0

    def _trim(self) -> None:
        horizon = self._newest_t - self.seconds
        # Drop the head GOP while the next GOP still starts at or before the horizon, so the
        # buffer always reaches back ``seconds`` from a keyframe.
        while len(self._keys) > 1 and self._item(self._keys[1]).t <= horizon:
            self._drop_gop()
        while self._bytes > self.max_bytes and len(self._keys) > 1:
            self._drop_gop()
        while self._bytes > self.max_bytes and len(self._items) > 1:
            self._drop_head()  # one GOP alone is over the cap: keep what fits, newest last

    def _item(self, seq: int) -> ClipItem:
        return self._items[seq - self._items[0][0]][1]

    def _drop_gop(self) -> None:
        stop = self._keys[1]
        while self._items[0][0] < stop:
            self._drop_head()

    def _drop_head(self) -> None:
        seq, item = self._items.popleft()
        self._bytes -= item.nbytes
        if self._keys and self._keys[0] == seq:
            self._keys.popleft()
        # What remains must start with a keyframe to be decodable.
        while self._items and not self._items[0][1].keyframe:
            _, lost = self._items.popleft()
            self._bytes -= lost.nbytes
