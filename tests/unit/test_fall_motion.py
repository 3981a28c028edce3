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


# One model serving both labels (the fall card alone): its tracker is class-agnostic, so the
# standing and the fallen boxes are one track, and the fall shows over two frames.
MID_FALL = (190.0, 105.0, 300.0, 290.0)  # called fallen, not yet wide nor much lower


def test_a_fall_that_shows_over_two_frames_on_one_track():
    # Upright, then fallen but not yet wide (mid-fall), then wide on the floor: one track.
    poses = [("person", STANDING)] * 4 + [("person_fallen", MID_FALL)]
    poses += [("person_fallen", LYING)] * 6
    # Wide and down from 2.5 s; k-of-n 3 of 5 and min_duration 1 s: opens at 3.5 s.
    assert opened(clip(poses)) == [3.5]


def test_a_fall_two_frames_long_on_a_video_whose_frames_are_a_little_over_half_a_second_apart():
    # 2 fps sampled from 29.97 fps video: frames 0.5004 s apart, two frames 1.0008 s.
    poses = [("person", STANDING)] * 4 + [("person_fallen", MID_FALL)]
    poses += [("person_fallen", LYING)] * 6
    frames = [(i * 0.5004, dets((label, box, 1))) for i, (label, box) in enumerate(poses)]
    assert len(opened(frames)) == 1


def test_a_fall_over_three_frames_is_too_slow():
    # Mid-fall for two frames: 1.5 s from the last upright sighting to the wide box.
    poses = [("person", STANDING)] * 4 + [("person_fallen", MID_FALL)] * 2
    poses += [("person_fallen", LYING)] * 6
    assert opened(clip(poses)) == []


def test_sitting_down_slowly_called_fallen_half_way_is_not_a_fall():
    # The fall model calls the worker fallen from half way down (one track, both labels).
    poses = [("person", STANDING)] * 4
    poses += [
        ("person" if f < 4 else "person_fallen", between(STANDING, SEATED, f / 8))
        for f in range(1, 9)
    ]
    poses += [("person_fallen", SEATED)] * 10
    assert opened(clip(poses)) == []


def test_lying_down_slowly_called_fallen_half_way_is_not_a_fall():
    poses = [("person", STANDING)] * 2
    poses += [
        ("person" if f < 4 else "person_fallen", between(STANDING, LYING, f / 8))
        for f in range(1, 9)
    ]
    poses += [("person_fallen", LYING)] * 10
    assert opened(clip(poses)) == []


def test_someone_already_down_whose_box_widens_after_a_passer_by_leaves_is_not_a_fall():
    # A seated worker (fallen to the model) with someone standing over them; the standing one
    # leaves, and the seated one stretches out: they were down before anyone stood there.
    frames = [
        (i / FPS, dets(("person_fallen", SEATED, 2), ("person", STANDING, 3))) for i in range(6)
    ]
    frames += [(3.0 + i / FPS, dets(("person_fallen", LYING, 2))) for i in range(8)]
    assert opened(frames) == []


def test_a_fall_on_frames_a_loaded_machine_spaced_out_still_counts():
    # A live camera on a busy machine: the analysed frames come 0.8 s apart, so the fall
    # shows over two frames 1.6 s apart; the rule cannot see it faster than that.
    poses = [("person", STANDING)] * 4 + [("person_fallen", MID_FALL)]
    poses += [("person_fallen", LYING)] * 6
    frames = [(i * 0.8, dets((label, box, 1))) for i, (label, box) in enumerate(poses)]
    assert len(opened(frames)) == 1


def test_sitting_down_slowly_on_spaced_out_frames_is_not_a_fall():
    # Frames 0.8 s apart; 4.8 s from standing to seated, called fallen half way down.
    poses = [("person", STANDING)] * 3
    poses += [
        ("person" if f < 4 else "person_fallen", between(STANDING, SEATED, f / 6))
        for f in range(1, 7)
    ]
    poses += [("person_fallen", SEATED)] * 8
    frames = [(i * 0.8, dets((label, box, 1))) for i, (label, box) in enumerate(poses)]
    assert opened(frames) == []


def test_one_person_found_fallen_by_two_models_is_one_fall():
    # site_ppe's person box (id 1) and the fall card's fallen box (id 2) of one worker: both
    # go down together, boxes overlapping; one violation, not two.
    frames = [(i / FPS, dets(("person", STANDING, 1))) for i in range(4)]
    lying_too = (155.0, 245.0, 325.0, 302.0)
    frames += [
        (2.0 + i / FPS, dets(("person_fallen", LYING, 2), ("person", lying_too, 1)))
        for i in range(8)
    ]
    assert opened(frames) == [3.0]


def test_two_people_falling_side_by_side_are_two_falls():
    left, right = STANDING, tuple(np.add(STANDING, (200, 0, 200, 0)))
    lying_left, lying_right = LYING, tuple(np.add(LYING, (200, 0, 200, 0)))
    frames = [(i / FPS, dets(("person", left, 1), ("person", right, 2))) for i in range(4)]
    frames += [
        (2.0 + i / FPS, dets(("person", lying_left, 1), ("person", lying_right, 2)))
        for i in range(8)
    ]
    assert opened(frames) == [3.0, 3.0]
