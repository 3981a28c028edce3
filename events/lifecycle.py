"""Violation lifecycle: confirm per-subject observations, open, update and end violations.

One :class:`ViolationTracker` per (camera, rule). Call :meth:`ViolationTracker.update` for every
analysed frame, also with an empty list when the rule saw nothing (misses count towards k-of-n
and towards ``end_after``), and :meth:`ViolationTracker.finish` at the end of a file or on
shutdown.

>>> import numpy as np
>>> from vigil.events.rules.params import FallParams
>>> from vigil.events.violation import Observation
>>> tracker = ViolationTracker("cam1", "fall", FallParams(k_of_n=(2, 3), min_duration=0.5))
>>> fallen = Observation("track:4", "person_fallen", 0.8, (10.0, 10.0, 90.0, 40.0), track_id=4)
>>> image = np.zeros((48, 64, 3), np.uint8)
>>> for pts in (0.0, 0.25, 0.5, 0.75):
...     print(pts, [e.phase.value for e in tracker.update(pts, 1e9 + pts, image, [fallen])])
0.0 []
0.25 []
0.5 ['opened']
0.75 ['updated']
>>> [(e.phase.value, e.violation.start_pts, e.violation.end_pts) for e in tracker.finish(1.0, 1e9)]
[('ended', 0.0, 0.75)]
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vigil.events.rules.params import RuleParams
from vigil.events.violation import (
    LifecycleEvent,
    Observation,
    Phase,
    TimelinePoint,
    Violation,
)


@dataclass(slots=True)
class _Run:
    """Observations of a subject not yet confirmed, from the first one on."""

    start_pts: float
    start_wall: float
    start_t: float
    timeline: list[TimelinePoint] = field(default_factory=list)


@dataclass(slots=True)
class _Subject:
    window: deque[bool]  # observed or not, in the last n analysed frames
    last_t: float = -math.inf  # clock time of the last observation that counted
    run: _Run | None = None
    violation: Violation | None = None
    cooldown_until: float = -math.inf


class ViolationTracker:
    """Turns one rule's per-frame observations on one camera into lifecycle events.

    A subject (``Observation.subject``) opens a violation when, in the same frame, it was
    observed in at least k of its last n analysed frames *and* its run of observations has
    lasted at least ``params.confirmation_duration`` seconds. A run is the observations of a
    subject with no gap of ``end_after`` or more between them; a subject pending confirmation
    that is not observed for ``end_after`` is forgotten. The violation starts at the run's
    first observation and its timeline holds every observation of the run.

    While open, each frame that observes the subject gives one ``UPDATED`` event (bbox, end
    times, timeline, and peak confidence/time/image when the confidence beats the peak).
    The peak is tracked from the opening frame on: no image is kept for pending subjects.
    ``end_after`` seconds after its last observation the violation ends (``end_pts`` = that
    observation's pts) and the subject is ignored for ``cooldown`` seconds.

    Events carry the tracker's live :class:`Violation`, which later frames keep changing;
    a consumer that works on it later must copy what it needs (``peak_image`` is replaced,
    never written into, so holding on to the array is safe).

    Args:
        camera: camera id, stamped on violations.
        rule: rule name, stamped on violations.
        params: the rule's parameters (k_of_n, confirmation_duration, end_after, cooldown,
            severity).
        clock: the time that durations are measured on: ``"pts"`` for files, ``"wall"`` for
            live sources (whose pts may restart on a reconnect).
    """

    def __init__(
        self,
        camera: str,
        rule: str,
        params: RuleParams,
        *,
        clock: Literal["pts", "wall"] = "pts",
    ) -> None:
        self.camera = camera
        self.rule = rule
        self.params = params
        self.clock = clock
        self._subjects: dict[str, _Subject] = {}

    @property
    def open_violations(self) -> list[Violation]:
        """The violations open now."""
        return [s.violation for s in self._subjects.values() if s.violation is not None]

    def update(
        self,
        frame_pts: float,
        frame_wall: float,
        image: np.ndarray | None,
        observations: list[Observation],
    ) -> list[LifecycleEvent]:
        """Take one analysed frame's observations; return what opened, updated and ended.

        Several observations of one subject in a frame are merged into the most confident.
        """
        now = frame_pts if self.clock == "pts" else frame_wall
        best: dict[str, Observation] = {}
        for obs in observations:
            if obs.subject not in best or obs.confidence > best[obs.subject].confidence:
                best[obs.subject] = obs

        events: list[LifecycleEvent] = []
        for subject in [s for s in self._subjects if s not in best]:
            self._missed(subject, now, events)
        for subject, obs in best.items():
            self._observed(subject, obs, now, frame_pts, frame_wall, image, events)
        return events

    def finish(self, frame_pts: float, frame_wall: float) -> list[LifecycleEvent]:
        """End every open violation and drop pending subjects (end of file, shutdown).

        Cooldowns are kept, counted from this frame, in case the tracker is fed again.
        """
        now = frame_pts if self.clock == "pts" else frame_wall
        events = [self._end(s, now) for s in self._subjects.values() if s.violation is not None]
        for subject, s in list(self._subjects.items()):
            s.run = None
            s.window.clear()
            if now >= s.cooldown_until:
                del self._subjects[subject]
        return events

    def _missed(self, subject: str, now: float, events: list[LifecycleEvent]) -> None:
        s = self._subjects[subject]
        gone = now - s.last_t >= self.params.end_after
        if s.violation is not None:
            if gone:
                events.append(self._end(s, now))
        elif s.run is not None:
            s.window.append(False)
            if gone:
                s.run = None
                s.window.clear()
        if s.violation is None and s.run is None and now >= s.cooldown_until:
            del self._subjects[subject]

    def _observed(
        self,
        subject: str,
        obs: Observation,
        now: float,
        pts: float,
        wall: float,
        image: np.ndarray | None,
        events: list[LifecycleEvent],
    ) -> None:
        s = self._subjects.get(subject)
        if s is None:
            s = self._subjects[subject] = _Subject(window=deque(maxlen=self.params.k_of_n[1]))
        gone = now - s.last_t >= self.params.end_after

        # Frames may come further apart than end_after (a stall, a slow sampler): the gap
        # ends what was open, or breaks the run, before this observation counts.
        if s.violation is not None and gone:
            events.append(self._end(s, now))
        if s.violation is not None:
            self._extend(s.violation, obs, pts, wall, image)
            s.last_t = now
            events.append(LifecycleEvent(Phase.UPDATED, s.violation))
            return
        if now < s.cooldown_until:
            return
        if s.run is not None and gone:
            s.run = None
            s.window.clear()

        if s.run is None:
            s.run = _Run(start_pts=pts, start_wall=wall, start_t=now)
        s.run.timeline.append(TimelinePoint(pts, obs.confidence, obs.bbox))
        s.window.append(True)
        s.last_t = now

        k = self.params.k_of_n[0]
        if sum(s.window) >= k and now - s.run.start_t >= self.params.confirmation_duration:
            s.violation = self._open(subject, obs, s.run, pts, wall, image)
            s.run = None
            s.window.clear()
            events.append(LifecycleEvent(Phase.OPENED, s.violation))

    def _open(
        self,
        subject: str,
        obs: Observation,
        run: _Run,
        pts: float,
        wall: float,
        image: np.ndarray | None,
    ) -> Violation:
        return Violation(
            camera=self.camera,
            rule=self.rule,
            label=obs.label,
            subject=subject,
            severity=self.params.severity,
            start_pts=run.start_pts,
            start_wall=run.start_wall,
            end_pts=pts,
            end_wall=wall,
            peak_confidence=obs.confidence,
            peak_pts=pts,
            bbox=obs.bbox,
            track_id=obs.track_id,
            zone=obs.zone,
            peak_image=None if image is None else image.copy(),
            timeline=run.timeline,
        )

    @staticmethod
    def _extend(
        v: Violation, obs: Observation, pts: float, wall: float, image: np.ndarray | None
    ) -> None:
        v.bbox = obs.bbox
        v.end_pts, v.end_wall = pts, wall
        v.timeline.append(TimelinePoint(pts, obs.confidence, obs.bbox))
        if obs.confidence > v.peak_confidence:
            v.peak_confidence, v.peak_pts = obs.confidence, pts
            v.peak_image = None if image is None else image.copy()

    def _end(self, s: _Subject, now: float) -> LifecycleEvent:
        v = s.violation
        assert v is not None
        v.ended = True
        s.violation = None
        s.run = None
        s.window.clear()
        s.cooldown_until = now + self.params.cooldown
        return LifecycleEvent(Phase.ENDED, v)
