"""The path for a user's own harness model: a card in a folder of the user's, and no_harness
enabled with a work-at-height zone (no weights are loaded here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from vigil.detector.cards import CardError, load_cards
from vigil.detector.detector import YoloDetector
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.pipeline import cards_for_rules

CARD = """\
name: my-harness
weights: {path: weights/harness.pt}
licence: proprietary
source: trained in-house
class_map: {worker: person, harness: harness, hooked: harness_hooked, unhooked: harness_unhooked}
thresholds: {person: 0.4, harness_unhooked: 0.6}
"""
ZONE = {"name": "roof", "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]]}


class FakeYolo:
    names = {0: "worker", 1: "harness", 2: "hooked", 3: "unhooked"}


def test_a_user_harness_card_serves_no_harness(tmp_path: Path):
    (tmp_path / "my-harness.yaml").write_text(CARD)
    cards = load_cards([tmp_path])
    rules = build_rules(RulesConfig.model_validate({"no_harness": {"zones": [ZONE]}}))
    # Cards providing person run too; harness boxes clear any person box they lie on.
    assert "my-harness" in {c.name for c in cards_for_rules(rules, cards)}
    card = cards["my-harness"]
    assert card.labels == {"person", "harness", "harness_hooked", "harness_unhooked"}
    # Weights resolve beside the card; missing ones give one line naming the file.
    with pytest.raises(CardError, match=str(tmp_path / "weights" / "harness.pt")):
        card.resolve_weights()


def test_user_classes_become_canonical_labels_with_their_thresholds(tmp_path: Path):
    (tmp_path / "my-harness.yaml").write_text(CARD)
    detector = YoloDetector(load_cards([tmp_path])["my-harness"], FakeYolo())
    raw = sv.Detections(
        xyxy=np.array([[0, 0, 10, 10]] * 4, float),
        confidence=np.array([0.5, 0.5, 0.5, 0.5]),
        class_id=np.array([0, 1, 2, 3]),
    )
    kept = detector.to_canonical(raw)
    # harness_unhooked needs 0.6: the 0.5 box is dropped; the others pass their thresholds.
    assert kept.data["label"].tolist() == ["person", "harness", "harness_hooked"]
