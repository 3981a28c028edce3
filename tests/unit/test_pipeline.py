"""Choosing the models a config needs, and reading files frame by frame (no models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from vigil.config import ConfigError
from vigil.detector.cards import ModelCard
from vigil.detector.detector import Detector
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.pipeline import CameraPipeline, cards_for_rules, label_sources
from vigil.streams.file import FileSource, Sampler, SourceError
from vigil.streams.frame import Frame

ZONE = {"name": "z", "polygon": [[0, 0], [10, 0], [10, 10]]}


def card(name: str, class_map: dict[str, str]) -> ModelCard:
    return ModelCard(
        name=name,
        weights={"path": f"{name}.pt"},
        licence="MIT",
        source="test",
        class_map=class_map,
    )


CARDS = {
    "helmet": card("helmet", {"With Helmet": "head_helmet", "Without Helmet": "head_bare"}),
    "fall": card("fall", {"Normal": "person", "Fall": "person_fallen"}),
    "fire": card("fire", {"smoke": "smoke", "fire": "fire"}),
}


def chosen(rules: dict) -> list[str]:
    config = RulesConfig.model_validate(rules)
    return sorted(c.name for c in cards_for_rules(build_rules(config), CARDS))


def test_only_the_models_the_rules_need_run():
    assert chosen({"fall": {}}) == ["fall"]
    assert chosen({"smoke": {}}) == ["fire"]
    assert chosen({"restricted_zone": {"zones": [ZONE]}}) == ["fall"]
    assert chosen({"no_helmet": {}, "fire": {}}) == ["fire", "helmet"]
    assert chosen({"fall": {"enabled": False}, "fire": {}}) == ["fire"]


def test_a_rule_no_model_can_serve_is_a_config_error():
    with pytest.raises(ConfigError, match="'no_harness' needs a model providing harness"):
        chosen({"no_harness": {"zones": [ZONE]}})
    only_fire = {"fire": CARDS["fire"]}
    config = RulesConfig.model_validate({"no_helmet": {}})
    with pytest.raises(ConfigError, match="'no_helmet' needs a model providing head_bare"):
        cards_for_rules(build_rules(config), only_fire)


def test_sampler_takes_frames_at_the_analysis_rate():
    sampler = Sampler(2.0)
    taken = [i / 30 for i in range(300) if sampler.take(i / 30)]  # 10 s at 30 fps
    assert len(taken) == 20
    assert all(0.45 <= b - a <= 0.55 for a, b in zip(taken, taken[1:], strict=False))


def test_file_source_reads_every_frame_in_order(videos: Path):
    source = FileSource(videos / "workers_helmets_02.mp4")
    assert source.camera == "workers_helmets_02"
    pts = [frame.pts for frame in source]
    assert pts == sorted(pts) and pts[0] == 0.0
    assert len(pts) == pytest.approx(source.info.frame_count, abs=2)


def test_file_source_rejects_a_directory(tmp_path: Path):
    with pytest.raises(SourceError, match="not a file"):
        FileSource(tmp_path)


def test_a_card_that_supersedes_another_replaces_it():
    site = ModelCard(
        name="site", weights={"path": "site.pt"}, licence="MIT", source="test",
        class_map={"hat": "head_helmet", "bare": "head_bare", "person": "person"},
        supersedes=["helmet"],
    )  # fmt: skip
    config = RulesConfig.model_validate({"no_helmet": {}, "fall": {}})
    names = sorted(c.name for c in cards_for_rules(build_rules(config), {**CARDS, "site": site}))
    assert names == ["fall", "site"]


def test_supersedes_is_per_label_the_old_card_keeps_what_only_it_provides():
    # A smoke-only fine-tune that supersedes the fire card: smoke from it, fire still from fire.
    fire = ModelCard(
        name="fire", weights={"path": "fire.pt"}, licence="MIT", source="test",
        class_map={"smoke": "smoke", "fire": "fire"},
    )  # fmt: skip
    smoke = ModelCard(
        name="smoke_ft", weights={"path": "s.pt"}, licence="MIT", source="test",
        class_map={"smoke": "smoke", "fire": "ignore"}, supersedes=["fire"],
    )  # fmt: skip
    rules = build_rules(RulesConfig.model_validate({"smoke": {}, "fire": {}}))
    cards = {"fire": fire, "smoke_ft": smoke}
    assert label_sources(rules, cards.values()) == {"fire": "fire", "smoke": "smoke_ft"}
    assert sorted(c.name for c in cards_for_rules(rules, cards)) == ["fire", "smoke_ft"]
    smoke_only = build_rules(RulesConfig.model_validate({"smoke": {}}))
    assert [c.name for c in cards_for_rules(smoke_only, cards)] == ["smoke_ft"]


SITE = ModelCard(
    name="site", weights={"path": "site.pt"}, licence="MIT", source="test",
    class_map={"hat": "head_helmet", "bare": "head_bare", "person": "person"},
    supersedes=["helmet"],
)  # fmt: skip


def test_each_label_comes_from_one_model_so_one_person_is_one_subject():
    cards = {**CARDS, "site": SITE}
    zone_and_helmet = build_rules(
        RulesConfig.model_validate({"no_helmet": {}, "restricted_zone": {"zones": [ZONE]}})
    )
    # site serves heads and people: the fall model is not needed at all.
    assert [c.name for c in cards_for_rules(zone_and_helmet, cards)] == ["site"]
    assert label_sources(zone_and_helmet, cards.values())["person"] == "site"
    zone_only = build_rules(RulesConfig.model_validate({"restricted_zone": {"zones": [ZONE]}}))
    assert [c.name for c in cards_for_rules(zone_only, cards)] == ["fall"]
    with_fall = build_rules(
        RulesConfig.model_validate({"restricted_zone": {"zones": [ZONE]}, "fall": {}})
    )
    assert label_sources(with_fall, cards.values()) == {"person": "fall", "person_fallen": "fall"}
    # A tie (one needed label each): the smaller input, less work per frame, then the name.
    small = {**cards, "site": SITE.model_copy(update={"imgsz": 416})}
    assert [c.name for c in cards_for_rules(zone_only, small)] == ["site"]
    assert label_sources(with_fall, small.values()) == {"person": "fall", "person_fallen": "fall"}
    # A crop classifier's boxes are parts of its people card's: that card serves the people.
    probe = card("probe", {"harness": "harness"}).model_copy(
        update={"runtime": "crop_classifier", "people": "fall"}
    )
    harness = build_rules(RulesConfig.model_validate({"no_harness": {"zones": [ZONE]}}))
    assert label_sources(harness, [*small.values(), probe]) == {
        "harness": "probe",
        "person": "fall",
    }


class Fixed:
    """A stand-in detector: always the same boxes, with ``extra`` data fields if given."""

    def __init__(self, card: ModelCard, labels: list[str], **extra: str) -> None:
        self.card, self.name, self.labels, self.extra = card, card.name, labels, extra

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return [self(image) for image in images]

    def __call__(self, image: np.ndarray) -> sv.Detections:
        n = len(self.labels)
        found = sv.Detections(
            xyxy=np.tile([10.0, 10.0, 50.0, 120.0], (n, 1)),
            confidence=np.full(n, 0.9),
            class_id=np.zeros(n, int),
        )
        found.data["label"] = np.array(self.labels, object)
        found.data["model"] = np.array([self.name] * n, object)
        for key, value in self.extra.items():
            found.data[key] = np.array([value] * n, object)
        return found


def blank_frame() -> Frame:
    return Frame(np.zeros((200, 200, 3), np.uint8), pts=0.0, wall=0.0, camera="cam", index=0)


def test_pipeline_drops_a_label_another_model_serves():
    rules = build_rules(
        RulesConfig.model_validate({"no_helmet": {}, "restricted_zone": {"zones": [ZONE]}})
    )
    detectors = [Fixed(CARDS["fall"], ["person"]), Fixed(SITE, ["person", "head_bare"])]
    assert all(isinstance(d, Detector) for d in detectors)
    pipeline = CameraPipeline("cam", rules, detectors, fps=2)
    found = pipeline.detect(blank_frame())
    assert sorted(zip(found.data["model"], found.data["label"], strict=True)) == [
        ("site", "head_bare"),
        ("site", "person"),
    ]


def test_models_whose_detections_carry_other_data_fields_merge():
    # A YOLO model's boxes carry class_name, a crop classifier's do not (no_harness with the
    # harness probe): the frame's detections still merge, with the fields they share.
    harness_card = card("probe", {"harness": "harness"})
    rules = build_rules(RulesConfig.model_validate({"no_harness": {"zones": [ZONE]}}))
    detectors = [
        Fixed(CARDS["fall"], ["person"], class_name="Normal"),
        Fixed(harness_card, ["harness"]),
    ]
    found = CameraPipeline("rig", rules, detectors, fps=2).detect(blank_frame())
    assert sorted(found.data["label"]) == ["harness", "person"]
    assert set(found.data) == {"label", "model"}
