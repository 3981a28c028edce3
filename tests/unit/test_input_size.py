"""A camera's own input size for a model (``input_size``): checked, and batched apart."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from test_inference_service import FakeReader, serve_to_the_end
from test_pipeline import CARDS

from vigil.analysis import AnalysedCamera, InferenceService
from vigil.config import CameraConfig, ConfigError
from vigil.detector.detector import CardDetector, ResizedDetector, at_input_size
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.pipeline import CameraPipeline, input_sizes


class SizeNoting(CardDetector):
    """A YOLO-style runtime that notes each call's input size and image count."""

    def __init__(self, card) -> None:
        super().__init__(card, {0: "Normal", 1: "Fall"})
        self.calls: list[tuple[int, int]] = []

    def raw(self, images, conf, imgsz=None):
        self.calls.append((imgsz or self.card.imgsz, len(images)))
        return [sv.Detections.empty() for _ in images]


@pytest.mark.parametrize("size", [500, 32, 4096])
def test_an_input_size_is_a_multiple_of_32_within_reason(tmp_path, size: int):
    from test_site_config import load_error

    text = f"cameras: [{{id: a, source: 'rtsp://h/a', input_size: {{site_ppe: {size}}}}}]\n"
    message = load_error(tmp_path, text)
    assert "input_size" in message and f"site_ppe: {size} is not an input size" in message


def test_input_size_names_a_card_that_takes_one():
    def camera(**sizes: int) -> CameraConfig:
        return CameraConfig(id="a", source="rtsp://h/a", input_size=sizes)

    probe = CARDS["fall"].model_copy(update={"name": "probe", "runtime": "crop_classifier"})
    cards = {**CARDS, "probe": probe}
    assert input_sizes(camera(fall=960), cards) == {"fall": 960}
    with pytest.raises(ConfigError, match="input_size names falls, which is not a model card"):
        input_sizes(camera(falls=960), cards)
    with pytest.raises(ConfigError, match="probe classifies crops of detections"):
        input_sizes(camera(probe=256), cards)


def test_a_resized_detector_runs_the_shared_model_at_its_size():
    model = SizeNoting(CARDS["fall"])
    wide = at_input_size(model, 960)
    assert isinstance(wide, ResizedDetector) and at_input_size(model, model.card.imgsz) is model
    image = np.zeros((90, 160, 3), np.uint8)
    wide(image)
    model(image)
    wide.at_size(image, 320)  # a motion crop: at the size the gate chose
    assert model.calls == [(960, 1), (model.card.imgsz, 1), (320, 1)]
    assert wide.card.imgsz == 960 and wide.name == "fall" and model.card.imgsz != 960


def test_batched_inference_keeps_each_cameras_input_size():
    model = SizeNoting(CARDS["fall"])
    rules = build_rules(RulesConfig.model_validate({"fall": {}}))
    cameras = []
    for name, detector in (("a", model), ("b", model), ("wide", at_input_size(model, 960))):
        pipeline = CameraPipeline(name, rules, [detector], fps=10)
        cameras.append(AnalysedCamera(name, FakeReader(live=False, frames=5), pipeline, 10))
    service = InferenceService(cameras, on_events=lambda *a: None, max_batch=4)
    serve_to_the_end(service)
    assert [c.analysed for c in cameras] == [5, 5, 5]
    # Each turn: cameras a and b in one batch at the card's size, the wide one alone.
    assert sorted(set(model.calls)) == [(model.card.imgsz, 2), (960, 1)]
    assert sum(n for size, n in model.calls if size == 960) == 5
