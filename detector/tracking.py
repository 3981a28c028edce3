"""Tracking people and heads across analysed frames.

ByteTrack from Roboflow's ``trackers`` package: supervision 0.27+ moved its trackers there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from vigil.detector.labels import (
    HARNESS,
    HARNESS_HOOKED,
    HARNESS_UNHOOKED,
    HEAD_BARE,
    HEAD_HELMET,
    PERSON,
    PERSON_FALLEN,
)

# Labels whose boxes are subjects that move (people, heads, harnesses): these get track ids.
# Smoke and fire are regions, not subjects, and are never tracked.
TRACKED_LABELS = frozenset(
    {PERSON, PERSON_FALLEN, HEAD_BARE, HEAD_HELMET, HARNESS, HARNESS_HOOKED, HARNESS_UNHOOKED}
)

# A lost track is kept this long (seconds of pts) in case its subject reappears.
LOST_TRACK_SECONDS = 2.0


class ModelTracker:
    """One ByteTrack for one model's tracked boxes on one camera.

    ByteTrack matches boxes whatever their class, so a person keeps its id when the model's label
    flips between ``person`` and ``person_fallen``. Boxes of untracked labels get ``tracker_id``
    -1. Ids come from ``ids``: trackers of several models on one camera share one counter, so no
    two subjects of a camera share an id.

    >>> shared = itertools.count(1)
    >>> heads, people = ModelTracker(2.0, shared), ModelTracker(2.0, shared)
    """

    def __init__(self, fps: float, ids: Iterator[int] | None = None) -> None:
        # Boxes reaching here already passed the card's per-label threshold, so every one may
        # start a track at once; confirmation (k-of-n, min duration) happens in the rules.
        # lost_track_buffer is counted in frames at 30 fps.
        self._tracker = ByteTrackTracker(
            frame_rate=fps,
            lost_track_buffer=round(LOST_TRACK_SECONDS * 30),
            track_activation_threshold=0.0,
            high_conf_det_threshold=0.0,
            minimum_consecutive_frames=1,
        )
        self._ids = ids if ids is not None else itertools.count(1)
        self._camera_id: dict[int, int] = {}  # ByteTrack's id -> the camera-wide id
        self._last_seen: dict[int, float] = {}

    def update(self, detections: sv.Detections, pts: float) -> sv.Detections:
        """Give tracked boxes their ``tracker_id`` (-1 for the rest), keeping the input order.

        ``pts`` is the frame's time in seconds, so lost tracks expire by time, not frame count.
        """
        tracked_mask = np.array([lb in TRACKED_LABELS for lb in detections.data["label"]], bool)
        subset = detections[tracked_mask]
        subset.data["row"] = np.flatnonzero(tracked_mask)
        tracked = self._tracker.update(subset, timestamp=pts)
        tracker_id = np.full(len(detections), -1, dtype=int)
        for row, raw in zip(tracked.data.get("row", []), tracked.tracker_id, strict=True):
            if raw >= 0:
                tracker_id[row] = self._camera_id_for(int(raw), pts)
        self._forget_before(pts - 2 * LOST_TRACK_SECONDS)
        result = detections[np.arange(len(detections))]
        result.tracker_id = tracker_id
        return result

    def _camera_id_for(self, raw: int, pts: float) -> int:
        if raw not in self._camera_id:
            self._camera_id[raw] = next(self._ids)
        self._last_seen[raw] = pts
        return self._camera_id[raw]

    def _forget_before(self, pts: float) -> None:
        """Drop ids of tracks ByteTrack has long dropped, so a camera running for weeks keeps
        a bounded map."""
        for raw in [r for r, seen in self._last_seen.items() if seen < pts]:
            del self._last_seen[raw], self._camera_id[raw]
