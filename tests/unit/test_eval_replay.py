"""Replaying cached boxes through the real pipeline (no models): thresholds, rules, filters."""

from __future__ import annotations

import numpy as np

from vigil.detector.cards import ModelCard
from vigil.evaluate.calibrate import objective
from vigil.evaluate.groundtruth import RuleScore
from vigil.evaluate.videos import FrameBoxes, replay
from vigil.events.rules import RulesConfig

FIRE = ModelCard(
    name="fire", weights={"path": "fire.pt"}, licence="MIT", source="test",
    class_map={"smoke": "smoke", "fire": "fire"}, thresholds={"fire": 0.3, "smoke": 0.45},
)  # fmt: skip


def frames(confidences: list[float], label: str = "fire") -> list[FrameBoxes]:
    out = []
    for i, c in enumerate(confidences):
        out.append(
            FrameBoxes(
                pts=i * 0.5,
                wall=1e9 + i * 0.5,
                shape=(100, 200),
                xyxy=np.array([[10, 10, 60, 60]], np.float32),
                confidence=np.array([c], np.float32),
                label=np.array([label], dtype=object),
            )  # fmt: skip
        )
    return out


def test_replay_raises_a_fire_that_persists_and_applies_thresholds():
    rules = RulesConfig.model_validate({"fire": {"k_of_n": [3, 5], "min_duration": 1.0}})
    cached = {"fire": frames([0.5] * 8)}
    [event] = replay(cached, [FIRE], rules, fps=2.0)
    assert (event.rule, event.start, event.end) == ("fire", 0.0, 3.5)
    # Over the card's threshold only with an override below 0.5
    assert replay(cached, [FIRE], rules, fps=2.0, thresholds={"fire": 0.6}) == []


def test_replay_motion_filter_uses_the_pixels():
    rules = RulesConfig.model_validate({"fire": {"k_of_n": [3, 5], "min_motion": 1.0}})
    cached = {"fire": frames([0.5] * 8)}
    still = [np.full((100, 200, 3), 90, np.uint8) for _ in range(8)]
    assert replay(cached, [FIRE], rules, fps=2.0, images=still) == []
    flicker = [np.full((100, 200, 3), 90 + 20 * (i % 2), np.uint8) for i in range(8)]
    assert len(replay(cached, [FIRE], rules, fps=2.0, images=flicker)) == 1


def test_objective_prefers_f1_then_fewer_false_alarms():
    good = RuleScore("fire", gt_events=2, gt_matched=2, true_predictions=2, false_alarms=0)
    noisy = RuleScore("fire", gt_events=2, gt_matched=2, true_predictions=2, false_alarms=2)
    quiet = RuleScore("fire", gt_events=0, false_alarms=0)
    assert objective(good) > objective(noisy)
    assert objective(quiet) == (1.0, 0)
