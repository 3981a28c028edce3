"""`vigil eval` on real weights and real data from ../shared/data.

The shipped defaults must raise, on every ground-truth video, the events that
datasets/results/videos_defaults_openvino.json records (the run behind datasets/RESULTS.md's
summary: the default cards on OpenVINO, fall in motion mode; videos_defaults_float32.json on a
CPU without BF16; PyTorch's run of the same rules is videos_defaults_fall_motion.json): a change
of model, runtime, threshold or rule that moves an event fails here until the results are
measured again. The few events that flip with the CPU's BF16 kernels
(datasets/results/videos_defaults_borderline.yaml) are accepted either way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vigil.cli import app
from vigil.config import detect_site
from vigil.detector.exported import cpu_precisions
from vigil.evaluate.groundtruth import load_ground_truth, load_ground_truth_dir
from vigil.evaluate.videos import VideosReport, evaluate_videos

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
GROUND_TRUTH = REPO / "datasets" / "ground_truth"
RESULTS = REPO / "datasets" / "results"
# The run behind the summary was in bfloat16 (AVX512-BF16); where the CPU lacks BF16 the cards
# run in float32, whose confidences differ by up to 0.013 (same events): recorded on an AMD EPYC
# with AVX2 only (datasets/RESULTS.md, section 21). float32 on an Intel Xeon with AVX-512 but no
# BF16 gives the same events with confidences up to 0.013 from that recording (1 Dec), so the
# float32 pin allows 0.02: the events are what it guards.
PRECISION = "bf16" if "BF16" in cpu_precisions() else "f32"
RECORDED_FILE = {"bf16": "videos_defaults_openvino.json", "f32": "videos_defaults_float32.json"}
CONFIDENCE_SLACK = {"bf16": 0.01, "f32": 0.02}
RECORDED = json.loads((RESULTS / RECORDED_FILE[PRECISION]).read_text())
BORDERLINE = yaml.safe_load((RESULTS / "videos_defaults_borderline.yaml").read_text())


@pytest.fixture(scope="session")
def data(videos: Path) -> Path:
    return videos.parent


@pytest.fixture(scope="module")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-cache")


@pytest.fixture(scope="module")
def defaults_on_every_video(videos: Path, eval_cache: Path) -> dict:
    """`vigil eval videos` with the shipped defaults on every ground-truth clip."""
    truths = load_ground_truth_dir(GROUND_TRUTH)
    return evaluate_videos(truths, videos, detect_site(), cache_dir=eval_cache).as_dict()


@pytest.mark.parametrize("video", sorted(RECORDED["predictions"]))
def test_the_defaults_raise_the_recorded_events_on_each_video(defaults_on_every_video, video):
    got = [p for p in defaults_on_every_video["predictions"][video] if not _borderline(video, p)]
    expected = [p for p in RECORDED["predictions"][video] if not _borderline(video, p)]
    assert [_when(p) for p in got] == [_when(p) for p in expected]
    assert [p["confidence"] for p in got] == pytest.approx(
        [p["confidence"] for p in expected], abs=CONFIDENCE_SLACK[PRECISION]
    )


def test_the_defaults_score_as_recorded(defaults_on_every_video):
    def counts(scores: dict) -> dict:
        keys = ("gt_events", "gt_matched", "predicted", "false_alarms")
        return {rule: [s[k] for k in keys] for rule, s in scores.items()}

    expected = counts(RECORDED["scores"])
    for video, events in defaults_on_every_video["predictions"].items():
        for p in events:  # a borderline false alarm the recorded run did not raise
            recorded = [_when(r) for r in RECORDED["predictions"][video]]
            if _borderline(video, p) and _when(p) not in recorded:
                expected[p["rule"]][2] += 1
                expected[p["rule"]][3] += 1
    assert counts(defaults_on_every_video["scores"]) == expected
    # What the summary says in words: the fire card finds both fires of the drone clips.
    assert defaults_on_every_video["scores"]["fire"]["gt_matched"] == 2
    assert defaults_on_every_video["skipped"] == {
        "no_harness": "no installed model card provides the labels it needs"
    }


def test_the_clips_add_up_to_the_totals(defaults_on_every_video):
    totals: dict[str, list[int]] = {}
    keys = ("gt_events", "gt_matched", "predicted", "false_alarms")
    for rules in defaults_on_every_video["by_video"].values():
        for rule, counts in rules.items():
            row = totals.setdefault(rule, [0, 0, 0, 0])
            for i, key in enumerate(keys):
                row[i] += counts[key]
    scores = defaults_on_every_video["scores"]
    assert totals == {rule: [s[k] for k in keys] for rule, s in scores.items()}
    assert set(defaults_on_every_video["by_video"]) == set(defaults_on_every_video["predictions"])


def test_a_rerun_replays_the_cached_boxes(defaults_on_every_video, videos, eval_cache):
    truths = load_ground_truth_dir(GROUND_TRUTH)
    assert len(list(eval_cache.glob("fall_01.fall.*.pkl"))) == 1
    again = evaluate_videos(truths, videos, detect_site(), cache_dir=eval_cache)
    assert again.as_dict()["predictions"] == defaults_on_every_video["predictions"]
    assert again.ms_per_frame == {}  # no model ran


def test_a_wide_views_input_size_finds_the_crowds_small_people(videos, eval_cache):
    """site_ppe at 640 on the overhead plaza (this camera only) sees the group standing on
    its post that 416 misses (datasets/RESULTS.md, section 19)."""
    truths = [load_ground_truth(GROUND_TRUTH / "people_walking_01.yaml")]
    default = evaluate_videos(truths, videos, detect_site(), cache_dir=eval_cache)
    site = detect_site({"input_size": {"site_ppe": 640}})
    wide = evaluate_videos(truths, videos, site, cache_dir=eval_cache)
    assert default.scores["inactive_on_post"].gt_matched == 0
    assert wide.scores["inactive_on_post"].gt_matched == 1
    assert len(list(eval_cache.glob("people_walking_01.site_ppe.*.pkl"))) == 2  # one per size
    assert set(wide.ms_per_frame) == {"site_ppe"}  # fall and fire: their cached boxes reused


def _when(p: dict) -> tuple:
    return p["rule"], p["start"], p["end"], p["zone"]


def _borderline(video: str, p: dict) -> bool:
    return any(_when(p) == _when(b) for b in BORDERLINE.get(video, []))


def test_only_false_alarms_are_taken_as_borderline():
    for video, events in BORDERLINE.items():
        assert video in RECORDED["predictions"]
        assert all(b["false_alarm"] for b in events)  # the score test counts them as false


def test_the_fire_rules_motion_filter_drops_a_still_and_keeps_the_flames(videos: Path):
    """The fire card finds the flames of fire_01 and calls an orange hi-vis still of the
    slideshow fire; the fire rule's motion filter (``min_motion``, 1.0 by default) drops that
    still and keeps the flames (a drone view moves): datasets/RESULTS.md, sections 3 and 16."""
    truths = [
        load_ground_truth(GROUND_TRUTH / name)
        for name in ("fire_01.yaml", "workers_no_hardhat_slideshow_01.yaml")
    ]
    for gt in truths:
        gt.rules = ["fire"]

    shared: dict = {}  # the model runs once; the second run replays its boxes and frames

    def fires(fire: dict) -> VideosReport:
        config = detect_site({"fps": 2, "rules": {"fire": fire}})
        return evaluate_videos(truths, videos, config, frames_cache=shared)

    unfiltered, default = fires({"min_motion": 0.0}), fires({})
    for report in (unfiltered, default):
        [flames] = report.predictions["fire_01.mp4"]
        assert flames.start <= 3.0 and flames.end >= 15.0
    [still] = unfiltered.predictions["workers_no_hardhat_slideshow_01.mp4"]
    assert 15.0 <= still.start < 17.0  # a still of workers in orange hi-vis
    assert default.predictions["workers_no_hardhat_slideshow_01.mp4"] == []
    assert unfiltered.scores["fire"].false_alarms == 1 and default.scores["fire"].false_alarms == 0


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
    # The first four validation images (pins the plumbing: mapping, matching, AP).
    assert {k: by_label[k]["gt_boxes"] for k in by_label} == GT_BOXES
    # The card asks for bf16, which OpenVINO runs only where the CPU has it (float32 elsewhere);
    # BF16 kernels also differ a little between CPUs: a looser pin than the PyTorch one was.
    expected = AP50[PRECISION]
    assert {k: by_label[k]["ap50"] for k in by_label} == pytest.approx(expected, abs=0.03)
    assert report["ms_per_image"]["fire@416"] > 0


# `vigil eval images ... --model fire --limit 4` measured once per precision (the fire card as
# shipped: OpenVINO at 416, card thresholds): bf16 on an AMD EPYC with AVX512-BF16, float32 on
# an Intel Xeon without it. Three fire boxes: one box crossing IoU 0.5 moves AP by 0.08.
GT_BOXES = {"fire": 3, "smoke": 1}
AP50 = {"bf16": {"fire": 0.163, "smoke": 0.498}, "f32": {"fire": 0.244, "smoke": 0.498}}


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
