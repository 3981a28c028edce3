"""The fall rule's motion mode on hand-made tracks, through the real ViolationTracker: a fast
fall opens a violation; sitting down slowly, crouching, walking and climbing a ladder do not."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.events.lifecycle import ViolationTracker
from vigil.events.rules.fall import FallParams, FallRule
from vigil.events.violation import Phase
from vigil.streams.frame import Frame

SHAPE = (480, 640)
FPS = 2.0
STANDING = (200.0, 100.0, 260.0, 300.0)  # 60 x 200, feet at y=300
LYING = (150.0, 250.0, 330.0, 300.0)  # 180 x 50 on the floor where they stood
SEATED = (195.0, 180.0, 275.0, 300.0)  # 80 x 120: top 80 px lower, still taller than wide
CROUCHED = (195.0, 190.0, 270.0, 300.0)  # 75 x 110


def dets(*rows) -> sv.Detections:
    """rows: (label, xyxy, track id)."""
    if not rows:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array([r[1] for r in rows], dtype=float),
        confidence=np.full(len(rows), 0.8),
        tracker_id=np.array([r[2] for r in rows]),
        data={"label": np.array([r[0] for r in rows])},
    )


def between(a, b, f: float) -> tuple[float, ...]:
    return tuple(x + (y - x) * f for x, y in zip(a, b, strict=True))


def opened(frames, **params) -> list[float]:
    """Times at which a fall violation opened, feeding frames [(t, detections)] to the rule
    in motion mode (or the ``mode`` given)."""
    rule = FallRule(FallParams(**{"mode": "motion", **params}))
    tracker = ViolationTracker("cam", "fall", rule.params)
    out = []
    for t, d in frames:
        obs = rule.observe(d, Frame.blank(SHAPE, wall=t, pts=t))
        out += [t for e in tracker.update(t, t, None, obs) if e.phase is Phase.OPENED]
    return out


def clip(poses, track: int = 1) -> list:
    """poses: one (label, xyxy) per analysed frame at FPS."""
    return [(i / FPS, dets((label, box, track))) for i, (label, box) in enumerate(poses)]


def test_a_fast_fall_that_stays_down_opens_one_violation():
    poses = [("person", STANDING)] * 6 + [("person", between(STANDING, LYING, 0.5))]
    poses += [("person_fallen", LYING)] * 8
    # Down from t=3.5 s; k-of-n 3 of 5 and min_duration 1 s: opens at 4.5 s.
    assert opened(clip(poses)) == [4.5]


def test_a_fall_seen_only_by_the_box_shape_counts_too():
    poses = [("person", STANDING)] * 4 + [("person", LYING)] * 6
    assert opened(clip(poses)) == [3.0]


def test_a_fall_found_by_two_models_with_two_track_ids():
    # One model tracks the standing person (id 1); the fall model's fallen box is id 7.
    frames = [(i / FPS, dets(("person", STANDING, 1))) for i in range(4)]
    frames += [(2.0 + i / FPS, dets(("person_fallen", LYING, 7))) for i in range(6)]
    assert opened(frames) == [3.0]


def test_someone_who_falls_and_gets_up_at_once_is_not_a_violation():
    poses = [("person", STANDING)] * 4 + [("person_fallen", LYING)] + [("person", STANDING)] * 6
    assert opened(clip(poses)) == []


def test_sitting_down_slowly_is_not_a_fall():
    # 4 s from standing to seated, then the fall model calls the seated worker fallen.
    poses = [("person", STANDING)] * 4
    poses += [("person", between(STANDING, SEATED, f / 8)) for f in range(1, 9)]
    poses += [("person_fallen", SEATED)] * 10
    assert opened(clip(poses)) == []


def test_lying_down_slowly_is_not_a_fall():
    poses = [("person", STANDING)] * 2
    poses += [("person", between(STANDING, LYING, f / 8)) for f in range(1, 9)]
    poses += [("person", LYING)] * 10
    assert opened(clip(poses)) == []


def test_a_quick_crouch_is_not_a_fall():
    poses = [("person", STANDING)] * 4 + [("person", CROUCHED)] * 6 + [("person", STANDING)] * 2
    assert opened(clip(poses)) == []


def test_walking_across_the_view_is_not_a_fall():
    poses = [("person", tuple(np.add(STANDING, (15 * i, 0, 15 * i, 0)))) for i in range(20)]
    assert opened(clip(poses)) == []


def test_climbing_down_a_ladder_is_not_a_fall():
    # The whole box drops 40 px per frame, upright all the way.
    poses = [("person", tuple(np.add(STANDING, (0, 40 * i, 0, 40 * i)))) for i in range(5)]
    poses = [("person", tuple(np.subtract(p[1], (0, 160, 0, 160)))) for p in poses]
    assert opened(clip(poses)) == []


def test_a_person_standing_beside_someone_already_lying_is_not_a_fall():
    frames = [
        (i / FPS, dets(("person_fallen", LYING, 2), ("person", STANDING, 3))) for i in range(10)
    ]
    assert opened(frames) == []


def test_pose_mode_keeps_todays_behaviour():
    poses = [("person", STANDING)] * 2
    poses += [("person", between(STANDING, SEATED, f / 8)) for f in range(1, 9)]
    poses += [("person_fallen", SEATED)] * 10
    assert opened(clip(poses), mode="pose") == [6.0]  # seated from 5 s
    assert FallRule(FallParams(mode="pose")).needs == {"person_fallen"}
    assert FallRule(FallParams(mode="motion")).needs == {"person", "person_fallen"}


def test_a_box_cut_off_by_the_bottom_of_the_frame_is_not_judged():
    # Someone walks out of the view at the bottom: the box left is wide but cut off.
    at_edge = (150.0, 400.0, 330.0, 480.0)
    poses = [("person", (200.0, 200.0, 260.0, 420.0))] * 4 + [("person", at_edge)] * 6
    assert opened(clip(poses)) == []


def test_a_wide_box_far_below_an_upright_one_is_someone_else():
    # A worker stands at the back; in front of them, lower in the image, a seated one appears.
    seated_in_front = (150.0, 290.0, 330.0, 420.0)  # bottom 120 px lower, boxes overlapping
    frames = [(i / FPS, dets(("person", STANDING, 1))) for i in range(4)]
    frames += [(2.0 + i / FPS, dets(("person", seated_in_front, 2))) for i in range(6)]
    assert opened(frames) == []
