"""The no_vest slideshow clips: built from the shared stills, scored by their ground truth."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import pytest

from vigil.evaluate.groundtruth import load_ground_truth

REPO = Path(__file__).resolve().parents[2]
COMPOSITE = REPO / "datasets" / "ground_truth" / "composite"
sys.path.insert(0, str(REPO / "datasets" / "recipes"))

import vest_slideshow as recipe  # noqa: E402


def test_the_ground_truth_has_one_event_per_slide_without_vests():
    for name, slides in recipe.CLIPS.items():
        gt = load_ground_truth(COMPOSITE / name.replace(".mp4", ".yaml"))
        assert gt.video == name and gt.rules == ["no_vest"]
        assert gt.duration == len(slides) * recipe.SECONDS
        expected = (
            [(i * recipe.SECONDS, (i + 1) * recipe.SECONDS) for i in range(len(slides))]
            if "no_vest" in name
            else []
        )
        assert [(e.start, e.end) for e in gt.events] == expected


@pytest.mark.needs_footage
def test_the_slideshows_are_built_from_the_shared_stills(tmp_path: Path):
    clips = recipe.build(tmp_path)
    for clip in clips:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == (recipe.SIZE, recipe.SIZE)
            frames = sum(1 for _ in container.decode(stream))
        slides = recipe.CLIPS[clip.name]
        assert frames == len(slides) * recipe.SECONDS * recipe.FPS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(recipe.CLIPS)  # no partials
