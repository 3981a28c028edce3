"""`vigil eval` on real weights and real data from ../shared/data (a handful of images, one
short clip), checking the plumbing, not the accuracy (that lives in datasets/RESULTS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import detect_site
from vigil.evaluate.groundtruth import load_ground_truth
from vigil.evaluate.videos import evaluate_videos

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data(videos: Path) -> Path:
    return videos.parent


def test_eval_images_reports_each_mapped_label(data: Path, tmp_path: Path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "eval", "images", str(data / "fire_smoke" / "roboflow_fire_wrpgm_v8_abonia1"),
            "--split", "valid", "--model", "fire", "--limit", "4",
            "--map-file", str(REPO / "datasets" / "class_maps" / "abonia1_fire.yaml"),
            "--out", str(out), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert json.loads(result.stdout) == report  # --json: the report alone on stdout
    assert report["n_images"] == 4
    by_label = {r["label"]: r for r in report["labels"]}
    assert set(by_label) == {"fire", "smoke"}
    for r in by_label.values():
        assert 0.0 <= r["ap50"] <= 1.0
        assert r["threshold"] > 0 and r["gt_boxes"] >= 0
    assert report["ms_per_image"]["fire@640"] > 0


def test_eval_images_bad_class_map_is_one_line(data: Path):
    result = CliRunner().invoke(
        app,
        [
            "eval", "images", str(data / "fire_smoke" / "roboflow_fire_wrpgm_v8_abonia1"),
            "--split", "valid", "--model", "fire", "--map", "Flame=fire",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Flame" in result.output and "Traceback" not in result.output


def test_eval_videos_scores_a_fall(videos: Path, tmp_path: Path):
    gt = load_ground_truth(REPO / "datasets" / "ground_truth" / "fall_01.yaml")
    config = detect_site({"fps": 2, "rules": {"fall": {}}})
    gt.rules = ["fall"]
    gt.ignore = []
    report = evaluate_videos([gt], videos, config, cache_dir=tmp_path)
    fall = report.scores["fall"]
    assert fall.gt_events == 1 and fall.gt_matched == 1 and fall.recall == 1.0
    assert fall.true_predictions >= 1
    # The cache makes a re-run skip the model and give the same events.
    again = evaluate_videos([gt], videos, config, cache_dir=tmp_path)
    assert again.predictions == report.predictions
    assert list(tmp_path.glob("fall_01.fall.*.pkl"))
