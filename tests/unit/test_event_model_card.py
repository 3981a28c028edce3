"""Each event keeps the model card behind its label: name, weights version, thresholds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import supervision as sv

from vigil.detector.cards import ModelCard, weights_version
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.events.store import EventStore
from vigil.events.violation import Phase
from vigil.pipeline import CameraPipeline
from vigil.streams.frame import Frame


class BareHead:
    """A stand-in detector: one bare head, always in the same place."""

    def __init__(self, card: ModelCard) -> None:
        self.card, self.name = card, card.name

    def __call__(self, image: np.ndarray) -> sv.Detections:
        found = sv.Detections(
            xyxy=np.array([[40.0, 40.0, 90.0, 100.0]]),
            confidence=np.array([0.9]),
            class_id=np.array([0]),
        )
        found.data["label"] = np.array(["head_bare"], object)
        found.data["model"] = np.array([self.name], object)
        return found


def test_an_event_records_the_card_version_and_thresholds_behind_it(tmp_path: Path) -> None:
    weights = tmp_path / "ppe.pt"
    weights.write_bytes(b"weights v7")
    card = ModelCard.model_validate(
        {
            "name": "ppe",
            "weights": {"path": str(weights)},
            "licence": "x",
            "source": "x",
            "class_map": {"0": "head_bare", "1": "head_helmet"},
            "thresholds": {"head_bare": 0.4},
        }
    )
    assert weights_version(card) == hashlib.sha256(b"weights v7").hexdigest()[:12]
    rules = build_rules(
        RulesConfig.model_validate(
            {"no_helmet": {"confidence": 0.55, "k_of_n": [2, 3], "min_duration": 0.5}}
        )
    )
    pipeline = CameraPipeline("gate-3", rules, [BareHead(card)], fps=2)  # type: ignore[list-item]
    opened = []
    for i in range(6):
        frame = Frame(np.zeros((200, 200, 3), np.uint8), i * 0.5, 1e9 + i * 0.5, "gate-3", i)
        opened += [e.violation for e in pipeline.analyse(frame).events if e.phase is Phase.OPENED]
    assert len(opened) == 1
    model = opened[0].model
    assert model is not None
    assert (model.name, model.version) == ("ppe", weights_version(card))
    assert model.threshold == 0.55  # the rule's confidence, above the card's 0.4
    assert model.thresholds == {"head_bare": 0.4, "head_helmet": 0.25}

    with EventStore("sqlite://") as store:
        with store.unit_of_work() as w:
            w.opened(opened[0])
        record = store.get_event(opened[0].id)
        outbox = store.outbox_since(0)[0].payload["after"]
    assert (record.model_card, record.model_version) == ("ppe", model.version)
    assert (record.model_threshold, record.model_thresholds) == (0.55, model.thresholds)
    assert outbox["model_card"] == "ppe"  # alerts carry it too


def test_missing_weights_give_a_version_that_says_so() -> None:
    card = ModelCard.model_validate(
        {
            "name": "x",
            "weights": {"path": "/nowhere/x.pt"},
            "licence": "x",
            "source": "x",
            "class_map": {},
        }
    )
    assert weights_version(card) == "missing"


def test_the_card_survives_the_outage_journal() -> None:
    import json

    from vigil.events.store.changes import Change
    from vigil.events.violation import ModelRef, Violation

    v = Violation(
        "cam",
        "fall",
        "person_fallen",
        "track:1",
        "high",
        1,
        2,
        3,
        4,
        0.9,
        3,
        (0, 0, 1, 1),
        model=ModelRef("fall", "0123456789ab", 0.5, {"person": 0.35}),
    )
    line = json.dumps(Change.opened(v, source="f.mp4").to_json())  # what the journal writes
    assert Change.from_json(json.loads(line)).violation.model == v.model
