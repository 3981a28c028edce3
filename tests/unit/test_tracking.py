"""Tracking: ids survive label flips, stay apart across models, and expire by time."""

from __future__ import annotations

import itertools

import numpy as np
import supervision as sv

from vigil.detector.tracking import ModelTracker


def dets(*boxes: tuple[str, tuple[float, float, float, float]]) -> sv.Detections:
    detections = sv.Detections(
        xyxy=np.array([b for _, b in boxes], float).reshape(-1, 4),
        confidence=np.full(len(boxes), 0.6),
        class_id=np.zeros(len(boxes), int),
    )
    detections.data["label"] = np.array([label for label, _ in boxes], object)
    detections.data["model"] = np.array(["m"] * len(boxes), object)
    return detections


def test_a_person_keeps_its_id_when_the_label_flips_and_fire_is_untracked():
    tracker = ModelTracker(fps=2.0)
    person, fire = (100, 100, 150, 250), (300, 300, 360, 360)
    tracker.update(dets(("person", person), ("fire", fire)), 0.0)  # a new track's first frame
    ids = [
        tracker.update(dets((label, person), ("fire", fire)), pts).tracker_id.tolist()
        for pts, label in ((0.5, "person"), (1.0, "person_fallen"), (1.5, "person_fallen"))
    ]
    assert ids[0][0] > 0 and all(i == [ids[0][0], -1] for i in ids)


def test_models_on_one_camera_never_share_an_id():
    shared = itertools.count(1)
    heads, people = ModelTracker(2.0, shared), ModelTracker(2.0, shared)
    seen = set()
    for pts in (0.0, 0.5):
        seen |= set(heads.update(dets(("head_bare", (10, 10, 30, 30))), pts).tracker_id)
        seen |= set(people.update(dets(("person", (10, 10, 40, 90))), pts).tracker_id)
    assert len(seen - {-1}) == 2


def test_a_track_lost_for_long_gets_a_new_id_and_the_map_stays_small():
    tracker = ModelTracker(2.0)
    box = (10, 10, 40, 90)
    first = [tracker.update(dets(("person", box)), t).tracker_id[0] for t in (0.0, 0.5)][-1]
    assert len(tracker.update(dets(), 1.0)) == 0
    later = [tracker.update(dets(("person", box)), t).tracker_id[0] for t in (20.0, 20.5)][-1]
    assert later > first
    assert len(tracker._camera_id) == 1
