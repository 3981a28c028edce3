"""Tracking people and heads across analysed frames.

ByteTrack from Roboflow's ``trackers`` package: supervision 0.27+ moved its trackers there.
"""

from __future__ import annotations

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


class ModelTracker:
    """One ByteTrack for one model's tracked boxes on one camera.

    ByteTrack matches boxes whatever their class, so a person keeps its id when the model's label
    flips between ``person`` and ``person_fallen``. Boxes of untracked labels pass through with
    ``tracker_id`` -1.
    """

    def __init__(self, fps: float, id_offset: int = 0) -> None:
        """``id_offset`` keeps ids of several models on one camera apart (see CameraPipeline)."""
        self._id_offset = id_offset
        # Boxes reaching here already passed the card's per-label threshold, so every one may
        # start a track at once; confirmation (k-of-n, min duration) happens in the rules.
        # lost_track_buffer is in frames at 30 fps: 60 keeps a lost track for 2 s of pts.
        self._tracker = ByteTrackTracker(
            frame_rate=fps,
            lost_track_buffer=60,
            track_activation_threshold=0.0,
            high_conf_det_threshold=0.0,
            minimum_consecutive_frames=1,
        )

    def update(self, detections: sv.Detections, pts: float) -> sv.Detections:
        """Give tracked boxes their ``tracker_id`` (-1 for the rest), keeping the input order.

        ``pts`` is the frame's time in seconds, so lost tracks expire by time, not frame count.
        """
        tracked_mask = np.array([lb in TRACKED_LABELS for lb in detections.data["label"]], bool)
        subset = detections[tracked_mask]
        subset.data["row"] = np.flatnonzero(tracked_mask)
        tracked = self._tracker.update(subset, timestamp=pts)
        tracker_id = np.full(len(detections), -1, dtype=int)
        if len(tracked):
            ids = np.asarray(tracked.tracker_id)
            tracker_id[tracked.data["row"]] = np.where(ids >= 0, ids + self._id_offset, -1)
        result = detections[np.arange(len(detections))]
        result.tracker_id = tracker_id
        return result
