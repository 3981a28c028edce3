"""What a rule is, and the small selections every rule makes on a frame's Detections.

A rule turns one camera's Detections for one analysed frame into per-subject
:class:`~vigil.events.violation.Observation` s. Confirmation, opening and ending are not its
business: :class:`~vigil.events.lifecycle.ViolationTracker` does that with the rule's params.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv

from vigil.events.rules.params import RuleParams
from vigil.events.violation import BBox, Observation


@runtime_checkable
class Rule(Protocol):
    """A rule on one camera.

    Attributes:
        name: the rule's name in the config (``no_helmet``, ``fall``, ...).
        needs: the canonical labels it needs; the pipeline runs the models that provide them.
        requires: groups of labels; for each group some model must provide one of its labels,
            else the rule cannot work (no_harness: a person and a harness label).
        params: its parameters.
    """

    name: str
    needs: frozenset[str]
    requires: tuple[frozenset[str], ...]
    params: RuleParams

    def observe(
        self, detections: sv.Detections, frame_shape: tuple[int, int], wall: float
    ) -> list[Observation]:
        """This frame's observations, at most one per subject.

        Args:
            detections: the frame's detections, already filtered by the model cards'
                per-label thresholds, with ``data["label"]`` and, where tracked, ``tracker_id``.
            frame_shape: (height, width) of the frame.
            wall: the frame's wall time (seconds since the epoch).
        """
        ...


def labels_of(detections: sv.Detections) -> np.ndarray:
    """The canonical label of each detection (empty strings where there is no label data)."""
    labels = detections.data.get("label")
    if labels is None:
        return np.full(len(detections), "", dtype=object)
    return np.asarray(labels)


def confidences_of(detections: sv.Detections) -> np.ndarray:
    """The confidence of each detection (1.0 where the detector gave none)."""
    if detections.confidence is None:
        return np.ones(len(detections), dtype=float)
    return np.asarray(detections.confidence, dtype=float)


def select(
    detections: sv.Detections,
    labels: Iterable[str],
    *,
    min_confidence: float | None = None,
    tracked: bool = False,
) -> sv.Detections:
    """The detections with one of ``labels``, at least ``min_confidence`` (when given), and a
    tracker id (when ``tracked``).

    >>> import numpy as np
    >>> d = sv.Detections(xyxy=np.zeros((3, 4)), confidence=np.array([0.9, 0.4, 0.8]),
    ...                   tracker_id=np.array([1, 2, 3]),
    ...                   data={"label": np.array(["head_bare", "head_bare", "person"])})
    >>> select(d, {"head_bare"}, min_confidence=0.5).tracker_id
    array([1])
    """
    keep = np.isin(labels_of(detections), list(labels))
    if min_confidence is not None:
        keep &= confidences_of(detections) >= min_confidence
    if tracked:
        if detections.tracker_id is None:
            keep &= False
        else:
            # A pipeline may mark untracked boxes with -1 rather than leaving tracker_id unset.
            keep &= np.asarray(detections.tracker_id) >= 0
    return detections[keep]


def track_subject(track_id: int) -> str:
    """The subject of a tracked person or head: ``"track:<id>"``."""
    return f"track:{int(track_id)}"


def bbox_of(xyxy: np.ndarray) -> BBox:
    """A box as a tuple of plain floats (for Observation)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return x1, y1, x2, y2
