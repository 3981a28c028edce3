"""Motion gating and per-rule rates: which models run on which frames (synthetic frames)."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from test_pipeline import CARDS, Fixed

from vigil.config import SiteConfig
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.gating import AnalysisGate, GatingSettings
from vigil.pipeline import CameraPipeline, model_rates
from vigil.streams.frame import Frame

GREY = np.full((180, 320, 3), 90, np.uint8)


def with_block(level: int, image: np.ndarray = GREY) -> np.ndarray:
    """``image`` with a quarter of it at grey ``level`` (a person walked in, a plume grew)."""
    moved = image.copy()
    moved[:90, :160] = level
    return moved


def plans(gate: AnalysisGate, images: list[np.ndarray], fps: float = 2.0) -> list[dict]:
    return [gate.plan(image, i / fps) for i, image in enumerate(images)]


def test_a_still_scene_skips_the_model_until_the_full_pass():
    gate = AnalysisGate(GatingSettings(full_pass_seconds=3.0), {"ppe": 2.0}, 2.0)
    ran = [p["ppe"] is None for p in plans(gate, [GREY] * 9)]
    # t = 0 (first frame), t = 3 (the periodic full pass), then still again.
    assert ran == [True, False, False, False, False, False, True, False, False]
    assert gate.skipped["ppe", "still"] == 7


def test_motion_runs_the_model_and_a_standing_still_subject_is_then_carried():
    gate = AnalysisGate(GatingSettings(full_pass_seconds=10.0), {"ppe": 2.0}, 2.0)
    walked_in = with_block(200)
    images = [GREY, GREY, walked_in, walked_in, walked_in]
    assert [p["ppe"] for p in plans(gate, images)] == [None, "still", None, "still", "still"]


def test_slow_change_adds_up_against_the_frame_the_model_last_ran_on():
    # 10 grey levels a frame: under the threshold (25) from one frame to the next, but the
    # third frame differs from the first by 30.
    gate = AnalysisGate(GatingSettings(full_pass_seconds=60.0), {"fire": 2.0}, 2.0)
    images = [with_block(90 + 10 * i) for i in range(5)]
    assert [p["fire"] for p in plans(gate, images)] == [None, "still", "still", None, "still"]


def test_noise_below_the_threshold_is_not_motion():
    rng = np.random.default_rng(1)
    noisy = [np.clip(GREY + rng.integers(-8, 9, GREY.shape), 0, 255).astype(np.uint8)]
    gate = AnalysisGate(GatingSettings(full_pass_seconds=60.0), {"ppe": 2.0}, 2.0)
    assert [p["ppe"] for p in plans(gate, [GREY, *noisy * 3])] == [None, "still", "still", "still"]


def test_a_slower_rule_rate_runs_its_model_every_other_frame_even_with_motion():
    gate = AnalysisGate(GatingSettings(), {"fire": 1.0, "ppe": 2.0}, 2.0)
    images = [with_block(100 + 30 * i) for i in range(6)]  # moves every frame
    result = plans(gate, images)
    assert [p["fire"] for p in result] == [None, "rate", None, "rate", None, "rate"]
    assert all(p["ppe"] is None for p in result)


def test_a_camera_behind_its_fps_still_runs_a_slower_model_on_every_other_frame():
    gate = AnalysisGate(GatingSettings(), {"fall": 1.0, "ppe": 2.0}, 2.0)
    images = [with_block(100 + 30 * i) for i in range(6)]
    result = plans(gate, images, fps=1.0)  # analysed once a second: every frame is 1 s apart
    assert [p["fall"] for p in result] == [None, "rate", None, "rate", None, "rate"]
    assert all(p["ppe"] is None for p in result)


def test_gating_off_runs_every_model_on_every_frame():
    gate = AnalysisGate(GatingSettings.off(), {"ppe": 2.0, "fire": 2.0}, 2.0)
    assert all(v is None for p in plans(gate, [GREY] * 4) for v in p.values())


def test_a_source_that_starts_over_runs_the_models_at_once():
    gate = AnalysisGate(GatingSettings(full_pass_seconds=60.0), {"ppe": 2.0}, 2.0)
    gate.plan(GREY, 10.0)
    assert gate.plan(GREY, 0.0) == {"ppe": None}


def test_model_rate_is_the_fastest_rule_it_serves():
    rules = build_rules(RulesConfig.model_validate({"fall": {}, "smoke": {}, "fire": {}}))
    sources = {"person": "fall", "person_fallen": "fall", "smoke": "fire", "fire": "fire"}
    assert model_rates(rules, sources, 2.0, {"smoke": 1.0, "fire": 0.5}) == {
        "fall": 2.0,
        "fire": 1.0,
    }
    assert model_rates(rules, sources, 2.0, {"fall": 5.0}) == {"fall": 2.0, "fire": 2.0}


class Counting(Fixed):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def __call__(self, image: np.ndarray) -> sv.Detections:
        self.calls += 1
        return super().__call__(image)


def run_still_scene(gating: GatingSettings | None) -> tuple[Counting, list, list]:
    # Pose mode: someone lying from the first frame opens an event (motion mode, the default,
    # wants the fall itself); what is under test is the gate, not the fall rule.
    rules = build_rules(RulesConfig.model_validate({"fall": {"mode": "pose"}}))
    detector = Counting(CARDS["fall"], ["person_fallen"])
    pipeline = CameraPipeline("cam", rules, [detector], fps=2, gating=gating)
    labels, events = [], []
    for i in range(24):  # 12 s of a fallen person lying still
        analysis = pipeline.analyse(Frame(GREY, pts=i / 2, wall=i / 2, camera="cam", index=i))
        labels.append(list(analysis.detections.data["label"]))
        events += [(e.phase.value, round(e.violation.start_pts, 1)) for e in analysis.events]
    return detector, labels, events


def test_a_still_fallen_person_raises_the_same_events_with_fewer_model_runs():
    gated, gated_labels, gated_events = run_still_scene(GatingSettings(full_pass_seconds=5.0))
    naive, naive_labels, naive_events = run_still_scene(None)
    assert naive.calls == 24
    assert gated.calls == 3  # t = 0, 5, 10
    assert gated_labels == naive_labels == [["person_fallen"]] * 24
    assert gated_events == naive_events
    assert [e for e in gated_events if e[0] == "opened"] == [("opened", 0.5)]


def test_gating_settings_are_validated_in_the_site():
    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "a", "source": "rtsp://h/a"},
                {"id": "b", "source": "rtsp://h/b", "gating": {"motion": False}},
            ],
            "gating": {"full_pass_seconds": 2, "rule_fps": {"smoke": 0.5}},
        }
    )
    a, b = site.cameras
    assert site.gating_of(a).settings().rule_fps == {"smoke": 0.5}
    assert site.gating_of(a).full_pass_seconds == 2
    assert site.gating_of(b).motion is False
    assert SiteConfig.model_validate({"cameras": [a.model_dump()]}).gating.rule_fps == {
        "smoke": 1.0,
        "fire": 1.0,
        "fall": 1.0,
    }


@pytest.mark.parametrize(
    ("gating", "words"),
    [
        ({"rule_fps": {"smok": 1}}, "unknown rule 'smok'"),
        ({"rule_fps": {"fire": 0}}, "rule_fps.fire: 0 is not in (0, 30]"),
        ({"full_pass_seconds": 0}, "full_pass_seconds"),
        ({"motion_min_area": 2}, "motion_min_area"),
        ({"motoin": True}, "motoin"),
    ],
)
def test_bad_gating_is_one_line_naming_the_field(tmp_path, gating: dict, words: str):
    from test_site_config import load_error

    text = f"cameras: [{{id: a, source: 'rtsp://h/a'}}]\ngating: {gating}\n"
    message = load_error(tmp_path, text)
    assert "gating" in message and words in message


def test_batched_inference_runs_only_the_models_the_gate_picks():
    from test_inference_service import FakeReader, serve_to_the_end

    from vigil.analysis import AnalysedCamera, InferenceService

    rules = build_rules(RulesConfig.model_validate({"fall": {}}))
    shared = Counting(CARDS["fall"], ["person_fallen"])  # one model for all cameras, as loaded
    cameras = []
    for name, gating in (("gated", GatingSettings(full_pass_seconds=5.0)), ("naive", None)):
        pipeline = CameraPipeline(name, rules, [shared], fps=10, gating=gating)
        cameras.append(AnalysedCamera(name, FakeReader(live=False, frames=30), pipeline, 10))
    service = InferenceService(cameras, on_events=lambda *a: None, max_batch=2)
    serve_to_the_end(service)
    assert [c.analysed for c in cameras] == [30, 30]
    # 3 s of a still scene: the gated camera's first frame only, and every naive frame.
    assert shared.calls == 1 + 30
