"""What the models saw: a compact log of every analysed frame, and search over it.

Each analysed frame of a recorded camera becomes one row of ``seen_frames`` (camera, wall
time, and a JSON array with one ``[label, confidence, x1, y1, x2, y2, track_id, [zones]]`` per
detection; boxes in whole pixels, confidences to two decimals; empty frames are kept too, so
"nothing seen" differs from "not analysed"). Rows are written in batches by the recorder's
thread, never by the analysis. :func:`search_seen` answers "label L (in zone Z) on camera C
between T1 and T2" with spans of time that open the replay.

>>> labels, blob = encode_frame([("person", 0.914, (10.2, 20, 50.7, 120), 3, ["tank-farm"])])
>>> labels, blob
(',person,', '[["person",0.91,10,20,51,120,3,["tank-farm"]]]')
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import supervision as sv

from vigil.events.store.recordings import RecordingIndex
from vigil.events.zones import Zone, ZoneSet

MAX_GAP_S = 2.0  # hits closer than this are one span (a missed frame or two)

Detection = tuple[str, float, Sequence[float], int | None, Sequence[str]]


def encode_frame(detections: Sequence[Detection]) -> tuple[str, str]:
    """``(labels, json)`` of one frame's detections (``label, conf, xyxy, track, zones``)."""
    rows = [
        [label, round(float(conf), 2), *(round(float(v)) for v in xyxy), track, list(zones)]
        for label, conf, xyxy, track, zones in detections
    ]
    labels = "," + ",".join(sorted({d[0] for d in detections})) + "," if detections else ","
    return labels, json.dumps(rows, separators=(",", ":"))


def frame_detections(
    xyxy: np.ndarray,
    confidence: np.ndarray,
    labels: np.ndarray,
    tracks: np.ndarray | None,
    zones: Sequence[Zone],
) -> list[Detection]:
    """One frame's detections with the names of the zones each lies in (its bottom centre,
    as the rules place a box)."""
    if len(xyxy) == 0:
        return []
    names = ZoneSet(zones).zones_of(sv.Detections(xyxy=xyxy)) if zones else [[]] * len(xyxy)
    return [
        (
            str(labels[i]),
            float(confidence[i]) if confidence is not None else 1.0,
            xyxy[i].tolist(),
            None if tracks is None else int(tracks[i]),
            [n for n in names[i] if n is not None],
        )
        for i in range(len(xyxy))
    ]


@dataclass(frozen=True, slots=True)
class SeenSpan:
    """A span of time in which the frames showed what was asked, and how sure the best was."""

    camera: str
    start: float
    end: float
    frames: int
    best_confidence: float


def search_seen(
    index: RecordingIndex,
    camera: str,
    label: str,
    start: float,
    end: float,
    *,
    zone: str | None = None,
    min_confidence: float = 0.0,
    max_gap: float = MAX_GAP_S,
) -> list[SeenSpan]:
    """Spans of ``[start, end)`` in which ``camera``'s analysed frames showed ``label`` (in
    ``zone`` when given, at ``min_confidence`` or more); hits closer than ``max_gap`` merge."""
    hits: list[tuple[float, float]] = []
    for wall, blob in index.seen(camera, start, end, label):
        best = max(
            (
                d[1]
                for d in json.loads(blob)
                if d[0] == label and d[1] >= min_confidence and (zone is None or zone in d[7])
            ),
            default=None,
        )
        if best is not None:
            hits.append((wall, best))
    return _merge(camera, hits, max_gap)


def _merge(camera: str, hits: list[tuple[float, float]], max_gap: float) -> list[SeenSpan]:
    if not hits:
        return []
    steps = [b[0] - a[0] for a, b in zip(hits, hits[1:], strict=False) if b[0] - a[0] <= max_gap]
    period = min(statistics.median(steps), max_gap) if steps else 0.5
    spans: list[SeenSpan] = []
    first, last, count, best = hits[0][0], hits[0][0], 1, hits[0][1]
    for wall, conf in hits[1:]:
        if wall - last <= max_gap:
            last, count, best = wall, count + 1, max(best, conf)
            continue
        spans.append(SeenSpan(camera, first, last + period, count, best))
        first, last, count, best = wall, wall, 1, conf
    spans.append(SeenSpan(camera, first, last + period, count, best))
    return spans
