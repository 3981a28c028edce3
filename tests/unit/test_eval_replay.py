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


class Bright:
    """A live stand-in model for the crops: each bright blob of the image it is given is a fire."""

    def __init__(self) -> None:
        self.card, self.name, self.names = FIRE, "fire", {0: "fire"}
        self.sizes: list[tuple[tuple[int, int], int | None]] = []

    def raw(self, images, conf, imgsz=None):
        import cv2
        import supervision as sv

        out = []
        for image in images:
            self.sizes.append((image.shape[:2], imgsz))
            n, _, stats, _ = cv2.connectedComponentsWithStats((image[..., 0] > 200).astype("uint8"))
            xyxy = np.array([(x, y, x + w, y + h) for x, y, w, h, _ in stats[1:n]], float)
            out.append(
                sv.Detections(
                    xyxy=xyxy.reshape(-1, 4),
                    confidence=np.full(n - 1, 0.9),
                    class_id=np.zeros(n - 1, int),
                )
            )
        return out


def test_replay_with_motion_regions_runs_the_live_model_on_the_crops():
    from vigil.gating import GatingSettings

    rules = RulesConfig.model_validate({"fire": {"k_of_n": [3, 5]}})
    images, cached = [], frames([0.9] * 6)
    for i, step in enumerate(cached):
        image = np.full((360, 640, 3), 90, np.uint8)
        image[100:140, 300 + 10 * i : 340 + 10 * i] = 250  # a small fire drifting right
        images.append(image)
        step.shape = (360, 640)
        step.xyxy = np.array([[300 + 10 * i, 100, 340 + 10 * i, 140]], np.float32)
    live, stats = Bright(), {}
    gating = GatingSettings(crop=True, rule_fps={})
    [event] = replay(
        {"fire": cached}, [FIRE], rules, 2.0, None, images, gating, {"fire": live}, stats
    )
    assert event.rule == "fire"
    # The first frame in full from the cache, every later one on a crop around the mover.
    assert stats["fire"]["full"] == 1 and stats["fire"]["regions"] == 5
    assert live.sizes and all(shape == (160, 160) and size == 160 for shape, size in live.sizes)
    assert stats["fire"]["crop_input_px"] == 5 * 160 * 160
