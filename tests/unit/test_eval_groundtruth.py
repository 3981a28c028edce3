"""Ground-truth files and event-level scoring of `vigil eval videos` (no models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.evaluate.groundtruth import (
    GroundTruth,
    GroundTruthError,
    Predicted,
    load_ground_truth,
    load_ground_truth_dir,
    score,
)
from vigil.events.rules import RulesConfig

REPO = Path(__file__).resolve().parents[2]


def _gt(**kw) -> GroundTruth:
    raw = {"video": "a.mp4", "duration": 100.0, "rules": ["fall", "smoke"], **kw}
    return GroundTruth.model_validate(raw)


def test_recall_precision_and_false_alarms():
    truths = [
        _gt(
            events=[
                {"rule": "fall", "start": 10, "end": 20},
                {"rule": "fall", "start": 50, "end": 60},
            ]
        ),
        _gt(video="b.mp4", duration=3600.0),  # violation-free hour
    ]
    preds = {
        "a.mp4": [Predicted("fall", 11, 19), Predicted("fall", 12, 18), Predicted("fall", 80, 82)],
        "b.mp4": [Predicted("fall", 5, 6), Predicted("smoke", 7, 9)],
    }
    s = score(truths, preds)
    fall = s["fall"]
    assert (fall.gt_events, fall.gt_matched, fall.recall) == (2, 1, 0.5)
    assert (fall.true_predictions, fall.false_alarms) == (2, 2)
    assert fall.precision == 0.5
    # Only b.mp4 has no fall event: its hour is the violation-free footage.
    assert fall.negative_seconds == 3600.0
    assert fall.false_alarms_per_hour == 1.0
    assert s["smoke"].false_alarms_per_hour == pytest.approx(3600 / 3700)
    assert s["smoke"].recall is None
    # One false alarm in one clean hour: the exact 95 % interval is wide.
    assert fall.false_alarms_per_hour_95 == pytest.approx((0.0253, 5.572), abs=1e-3)


def test_false_alarm_interval_narrows_with_more_clean_footage():
    def interval(hours: float) -> tuple[float, float]:
        truths = [_gt(video="b.mp4", duration=3600.0 * hours)]
        return score(truths, {"b.mp4": [Predicted("fall", 5, 6)] * round(hours)})["fall"]

    short, long = interval(1).false_alarms_per_hour_95, interval(100).false_alarms_per_hour_95
    assert short[0] < long[0] < 1.0 < long[1] < short[1]
    assert (
        score([_gt(events=[{"rule": "fall", "start": 0, "end": 100}])], {})[
            "fall"
        ].false_alarms_per_hour_95
        is None
    )  # no clean footage: no rate, no interval


def test_tolerance_and_zone():
    gt = _gt(events=[{"rule": "fall", "start": 10, "end": 20, "zone": "pit"}])
    near = {"a.mp4": [Predicted("fall", 20.5, 22, zone="pit")]}
    assert score([gt], near, tolerance=1.0)["fall"].gt_matched == 1
    assert score([gt], near, tolerance=0.0)["fall"].gt_matched == 0
    elsewhere = {"a.mp4": [Predicted("fall", 12, 14, zone="roof")]}
    assert score([gt], elsewhere)["fall"].false_alarms == 1


def test_ignored_intervals_count_neither_way():
    gt = _gt(ignore=[{"rule": "smoke", "start": 0, "end": 10}, {"rule": "fall"}])
    preds = {
        "a.mp4": [Predicted("smoke", 2, 4), Predicted("smoke", 50, 52), Predicted("fall", 1, 2)]
    }
    s = score([gt], preds)
    assert (s["smoke"].ignored, s["smoke"].false_alarms) == (1, 1)
    assert s["smoke"].negative_seconds == 90.0
    assert (s["fall"].ignored, s["fall"].negative_seconds) == (1, 0.0)


def test_event_of_unscored_rule_is_an_error(tmp_path: Path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "video: x.mp4\nduration: 5\nrules: [fall]\nevents: [{rule: fire, start: 0, end: 1}]\n"
    )
    with pytest.raises(GroundTruthError, match="not listed in rules"):
        load_ground_truth(path)
    path.write_text(
        "video: x.mp4\nduration: 5\nrules: [fall]\nevents: [{rule: fall, start: 3, end: 1}]\n"
    )
    with pytest.raises(GroundTruthError, match="before start"):
        load_ground_truth(path)


def _assert_usable(truths: list[GroundTruth]) -> None:
    """Every event within its clip, every clip's rule settings valid."""
    for gt in truths:
        for event in gt.events:
            assert event.end <= gt.duration + 0.5, (gt.video, event)
        for rule, extra in gt.config.items():
            RulesConfig.model_validate({rule: extra})


def test_repository_ground_truth_is_valid():
    truths = load_ground_truth_dir(REPO / "datasets" / "ground_truth")
    assert len(truths) >= 10
    _assert_usable(truths)


def test_composite_ground_truth_is_valid():
    """Clips built from the shared stills (not in the videos folder) keep their own folder."""
    truths = load_ground_truth_dir(REPO / "datasets" / "ground_truth" / "composite")
    assert [gt.video for gt in truths] == [
        "site_no_vest_slideshow_01.mp4",
        "site_vest_slideshow_01.mp4",
    ]
    _assert_usable(truths)
