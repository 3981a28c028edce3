"""The smoke/fire false-alarm filters: largest area, and motion inside the box (no models)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.detector.motion import RegionMotion, box_motion
from vigil.events.rules import FireParams, FireRule, SmokeParams, SmokeRule
from vigil.streams.frame import Frame

SHAPE = (100, 200)


def boxes(*rows: tuple[str, tuple[float, float, float, float], float]) -> sv.Detections:
    d = sv.Detections(
        xyxy=np.array([r[1] for r in rows], float),
        confidence=np.array([r[2] for r in rows], float),
        tracker_id=np.full(len(rows), -1),
    )
    d.data["label"] = np.array([r[0] for r in rows], dtype=object)
    return d


def frame(image: np.ndarray, wall: float) -> Frame:
    return Frame(image, pts=wall, wall=wall, camera="yard", index=int(wall))


def test_smoke_over_the_whole_frame_is_dropped_with_max_area():
    haze = boxes(("smoke", (0, 0, 200, 100), 0.9))
    assert SmokeRule(SmokeParams(fill_area=1.0)).observe(haze, Frame.blank(SHAPE)) != []
    assert (
        SmokeRule(SmokeParams(max_area=0.8, fill_area=1.0)).observe(haze, Frame.blank(SHAPE)) == []
    )


def seen(rule: SmokeRule | FireRule, label: str, xyxy: tuple, wall: float) -> bool:
    return rule.observe(boxes((label, xyxy, 0.9)), Frame.blank(SHAPE, wall=wall)) != []


def test_a_view_full_of_smoke_from_the_start_opens_nothing():
    # Fog, haze, a grey scene: the whole view called smoke, never a smaller plume first.
    rule = SmokeRule()
    assert not any(seen(rule, "smoke", (0, 5, 200, 95), t) for t in range(10))


def test_a_plume_that_grows_to_fill_the_view_is_still_seen():
    rule = SmokeRule(SmokeParams(fill_memory=30))
    assert seen(rule, "smoke", (80, 20, 120, 60), 0)  # 8 % of the frame
    assert seen(rule, "smoke", (0, 0, 200, 100), 1)  # the whole view, one second later
    assert seen(rule, "smoke", (0, 0, 200, 100), 30)  # still within fill_memory of the plume
    assert not seen(rule, "smoke", (0, 0, 200, 100), 31.5)  # forgotten: fog from then on
    assert seen(rule, "smoke", (80, 20, 120, 60), 40)


def test_fire_fills_the_view_by_default():
    assert seen(FireRule(FireParams(min_motion=0)), "fire", (0, 0, 200, 100), 0)


def test_motion_filter_drops_a_still_box_and_keeps_a_flickering_one():
    # Two fire boxes: an orange sign that never changes (0.9) and a flame that flickers (0.5).
    d = boxes(("fire", (0, 0, 50, 50), 0.9), ("fire", (100, 0, 150, 50), 0.5))
    dark, lit = np.zeros((*SHAPE, 3), np.uint8), np.zeros((*SHAPE, 3), np.uint8)
    lit[0:50, 100:150] = 60
    rule = FireRule(FireParams(min_motion=1.0))
    # First frame: nothing to compare with, so motion is unknown and both boxes pass.
    assert rule.observe(d, frame(dark, 0))[0].confidence == 0.9
    [obs] = rule.observe(d, frame(lit, 1))
    assert obs.confidence == 0.5
    [obs] = rule.observe(d, frame(dark, 2))  # it flickers back: still moving
    assert obs.confidence == 0.5
    assert rule.observe(d, frame(dark, 3)) == []  # nothing moved since the last frame
    # Off (smoke's default): motion is not measured.
    off = FireRule(FireParams(min_motion=0))
    assert [off.observe(d, frame(dark, t))[0].confidence for t in (0, 1)] == [0.9, 0.9]


def test_fire_drops_a_still_box_by_default_and_smoke_does_not():
    still = np.zeros((*SHAPE, 3), np.uint8)
    fire, smoke = FireRule(), SmokeRule()
    for t in (0, 1):
        seen_fire = fire.observe(boxes(("fire", (0, 0, 50, 50), 0.9)), frame(still, t))
        seen_smoke = smoke.observe(boxes(("smoke", (0, 0, 50, 50), 0.9)), frame(still, t))
    assert seen_fire == [] and len(seen_smoke) == 1


def test_the_rule_compares_with_the_previous_frame_even_when_it_had_no_box():
    d = boxes(("smoke", (0, 0, 50, 50), 0.9))
    grey = np.full((*SHAPE, 3), 90, np.uint8)
    rule = SmokeRule(SmokeParams(min_motion=1.0))
    assert rule.observe(boxes(("person", (0, 0, 9, 9), 0.9)), frame(grey, 0)) == []
    assert rule.observe(d, frame(grey, 1)) == []  # same pixels as the frame before: still


def test_no_pixels_means_unknown_motion():
    # The eval replay without pixels passes zero-depth images: the filter cannot judge.
    d = boxes(("fire", (0, 0, 50, 50), 0.9))
    rule = FireRule(FireParams(min_motion=1.0))
    empty = np.zeros((*SHAPE, 0), np.uint8)
    assert [len(rule.observe(d, frame(empty, t))) for t in (0, 1)] == [1, 1]


def test_region_motion_measures_change_inside_each_box():
    rm = RegionMotion()
    first = np.zeros((100, 200, 3), np.uint8)
    second = first.copy()
    second[0:50, 0:50] = 40  # the flame area changes by 40 grey levels
    xyxy = np.array([[0, 0, 50, 50], [100, 0, 150, 50]], float)
    assert np.isnan(rm.measure(xyxy, first)).all()
    assert rm.measure(xyxy, second).tolist() == [40.0, 0.0]


def test_box_motion_clips_to_the_image():
    a = np.zeros((10, 10), np.uint8)
    b = np.full((10, 10), 5, np.uint8)
    assert box_motion(a, b, np.array([-5.0, -5, 20, 20])) == 5.0
    assert box_motion(a, b, np.array([20.0, 20, 30, 30])) == 0.0
