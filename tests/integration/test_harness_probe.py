"""The opt-in harness classifier card (datasets/harness_probe) through the crop-classifier
runtime and the no_harness rule, on one real frame (its accuracy is in datasets/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config import detect_site
from vigil.detector.cards import load_cards
from vigil.events.rules import build_rules
from vigil.pipeline import CameraPipeline, cards_for_rules, load_detectors
from vigil.streams.file import FileSource

pytestmark = pytest.mark.slow
CARDS = Path(__file__).resolve().parents[2] / "datasets" / "harness_probe"


def test_harness_probe_serves_no_harness_on_a_rig_frame(videos: Path):
    config = detect_site(
        {
            "models": {"card_dirs": [str(CARDS)]},
            "rules": {
                "no_harness": {
                    "zones": [{"name": "rig", "polygon": [[0, 0], [360, 0], [360, 640], [0, 640]]}]
                }
            },
        }
    )
    rules = build_rules(config.camera.rules)
    cards = cards_for_rules(rules, load_cards(config.models.card_dirs))
    assert {"fall", "harness_probe"} <= {c.name for c in cards}
    detectors = load_detectors(cards)
    frame = next(f for f in FileSource(videos / "workers_harness_01.mp4") if f.pts >= 8.0)
    harness = detectors[[c.name for c in cards].index("harness_probe")](frame.image)
    assert set(harness.data["label"]) <= {"harness"}
    assert ((harness.confidence >= 0.5) & (harness.confidence <= 1.0)).all()
    analysis = CameraPipeline("rig", rules, detectors, fps=2).analyse(frame)
    assert analysis.events == []  # one frame never confirms a violation
