"""The opt-in harness classifier card (datasets/harness_probe) through the crop-classifier
runtime and the no_harness rule, on real frames (its accuracy is in datasets/RESULTS.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.config import detect_site
from vigil.detector.cards import load_cards
from vigil.events.rules import NoHarnessRule, build_rules
from vigil.pipeline import CameraPipeline, cards_for_rules, load_detectors
from vigil.streams.file import FileSource, Sampler

pytestmark = pytest.mark.slow
CARDS = Path(__file__).resolve().parents[2] / "datasets" / "harness_probe"
RIG = {"name": "rig", "polygon": [[0, 0], [360, 0], [360, 640], [0, 640]]}


def test_harness_probe_clears_the_harnessed_worker_on_a_rig_frame(videos: Path):
    config = detect_site(
        {"models": {"card_dirs": [str(CARDS)]}, "rules": {"no_harness": {"zones": [RIG]}}}
    )
    rules = build_rules(config.camera.rules)
    cards = cards_for_rules(rules, load_cards(config.models.card_dirs))
    assert {c.name for c in cards} == {"fall", "harness_probe"}
    pipeline = CameraPipeline("rig", rules, load_detectors(cards), fps=2)
    # From 0.5 s a close cut shows the derrick-man's full-body harness from the front; the
    # tracker gives him an id on the second frame it sees him.
    sampler = Sampler(2.0)
    frames = [f for f in FileSource(videos / "workers_harness_01.mp4") if sampler.take(f.pts)]
    analyses = [pipeline.analyse(frame) for frame in frames[:3]]  # 0, 0.5 and 1 s
    assert all(a.events == [] for a in analyses)
    frame, found = analyses[-1].frame, analyses[-1].detections
    labels = found.data["label"]
    person = found[labels == "person"]
    harness = found[labels == "harness"]
    assert len(person) == 1 and len(harness) == 1 and person.tracker_id[0] >= 0
    assert harness.confidence[0] >= load_cards([CARDS])["harness_probe"].threshold("harness")
    # The probe's box is the top of the person box it classified.
    px1, py1, px2, _ = person.xyxy[0]
    hx1, hy1, hx2, _ = harness.xyxy[0]
    assert np.allclose([hx1, hy1, hx2], [px1, py1, px2])
    [rule] = rules
    assert isinstance(rule, NoHarnessRule)
    assert rule.observe(found, frame) == []  # the harness clears him
    # Without the probe's box the same person is observed: the harness is what cleared him.
    [seen] = rule.observe(found[labels != "harness"], frame)
    assert seen.label == "person" and seen.zone == "rig"
    assert seen.track_id == person.tracker_id[0]
