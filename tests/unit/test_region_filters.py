"""The smoke/fire false-alarm filters: largest area, and motion inside the box (no models)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.detector.motion import RegionMotion, box_motion
from vigil.events.rules import FireParams, FireRule, SmokeParams, SmokeRule

SHAPE = (100, 200)


def boxes(*rows: tuple[str, tuple[float, float, float, float], float]) -> sv.Detections:
    d = sv.Detections(
        xyxy=np.array([r[1] for r in rows], float),
        confidence=np.array([r[2] for r in rows], float),
        tracker_id=np.full(len(rows), -1),
    )
    d.data["label"] = np.array([r[0] for r in rows], dtype=object)
    return d


def test_smoke_over_the_whole_frame_is_dropped_with_max_area():
    haze = boxes(("smoke", (0, 0, 200, 100), 0.9))
    assert SmokeRule(SmokeParams()).observe(haze, SHAPE, 0.0) != []
    assert SmokeRule(SmokeParams(max_area=0.8)).observe(haze, SHAPE, 0.0) == []


def test_motion_filter_drops_still_boxes_and_keeps_unknown_ones():
    d = boxes(("fire", (0, 0, 50, 50), 0.9), ("fire", (100, 0, 150, 50), 0.5))
    rule = FireRule(FireParams(min_motion=1.0))
    d.data["motion"] = np.array([0.0, 12.0])  # a still look-alike, a flickering flame
    [obs] = rule.observe(d, SHAPE, 0.0)
    assert obs.confidence == 0.5
    d.data["motion"] = np.array([np.nan, np.nan])  # first frame: nothing to compare with
    assert rule.observe(d, SHAPE, 0.0)[0].confidence == 0.9
    # Off by default: motion is ignored.
    d.data["motion"] = np.array([0.0, 0.0])
    assert FireRule(FireParams()).observe(d, SHAPE, 0.0)[0].confidence == 0.9


def test_region_motion_measures_change_inside_region_boxes_only():
    rm = RegionMotion()
    first = np.zeros((100, 200, 3), np.uint8)
    second = first.copy()
    second[0:50, 0:50] = 40  # the flame area changes by 40 grey levels
    d1 = boxes(("fire", (0, 0, 50, 50), 0.9), ("person", (100, 0, 150, 50), 0.9))
    assert np.isnan(rm.annotate(d1, first).data["motion"]).all()
    d2 = boxes(("fire", (0, 0, 50, 50), 0.9), ("person", (100, 0, 150, 50), 0.9))
    motion = rm.annotate(d2, second).data["motion"]
    assert motion[0] == 40.0 and np.isnan(motion[1])


def test_box_motion_clips_to_the_image():
    a = np.zeros((10, 10), np.uint8)
    b = np.full((10, 10), 5, np.uint8)
    assert box_motion(a, b, np.array([-5.0, -5, 20, 20])) == 5.0
    assert box_motion(a, b, np.array([20.0, 20, 30, 30])) == 0.0
