"""Box matching, PR/F1/AP counting and class maps of `vigil eval images` (no models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.evaluate.dataset import DatasetError, load_set, parse_class_map
from vigil.evaluate.metrics import LabelCounts, match_boxes


def test_match_is_one_to_one_and_by_confidence():
    gt = np.array([[0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 9]], float)
    # The more confident of two duplicates takes the box; the other is a false positive.
    assert match_boxes(pred, np.array([0.4, 0.9]), gt).tolist() == [False, True]


def test_match_respects_iou_threshold():
    gt = np.array([[0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 4]], float)  # IoU 0.4
    assert match_boxes(pred, np.array([0.9]), gt, iou=0.5).tolist() == [False]
    assert match_boxes(pred, np.array([0.9]), gt, iou=0.3).tolist() == [True]


def test_match_with_nothing_to_match():
    assert match_boxes(np.zeros((0, 4)), np.zeros(0), np.ones((2, 4))).tolist() == []
    assert match_boxes(np.ones((1, 4)), np.ones(1), np.zeros((0, 4))).tolist() == [False]


def test_counts_at_threshold_and_best_f1():
    counts = LabelCounts()
    counts.add(np.array([True, True, False, False]), np.array([0.9, 0.6, 0.5, 0.2]), n_gt=3)
    at = counts.at(0.55)
    assert (at.tp, at.fp, at.precision, at.recall) == (2, 0, 1.0, pytest.approx(0.6667, abs=1e-4))
    threshold, best = counts.best_f1()
    assert threshold == pytest.approx(0.6)
    assert best.f1 == pytest.approx(0.8)


def test_ap50_perfect_and_empty():
    perfect = LabelCounts.from_arrays(np.array([True, True]), np.array([0.9, 0.8]), n_gt=2)
    assert perfect.ap50() == pytest.approx(0.995, abs=0.01)  # COCO 101-point interpolation
    half = LabelCounts.from_arrays(np.array([True]), np.array([0.9]), n_gt=2)
    assert 0.45 < half.ap50() < 0.55
    assert LabelCounts().ap50() == 0.0


def test_class_map_rejects_unknown_labels():
    assert parse_class_map(["Hardhat=head_helmet", "Mask=ignore"]) == {
        "Hardhat": "head_helmet",
        "Mask": "ignore",
    }
    with pytest.raises(DatasetError, match="not a canonical label"):
        parse_class_map(["Hardhat=helmet"])
    with pytest.raises(DatasetError, match="SetClass=label"):
        parse_class_map(["Hardhat"])


def _tiny_set(root: Path) -> None:
    (root / "valid" / "images").mkdir(parents=True)
    (root / "valid" / "labels").mkdir(parents=True)
    (root / "valid" / "images" / "a.jpg").write_bytes(b"")
    (root / "valid" / "labels" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    (root / "data.yaml").write_text("path: .\nval: valid/images\nnames: [Hardhat, NO-Hardhat]\n")


def test_load_set_by_split_folder_and_key(tmp_path: Path):
    _tiny_set(tmp_path)
    by_folder = load_set(tmp_path, "valid")
    by_key = load_set(tmp_path)
    assert by_folder.names == ["Hardhat", "NO-Hardhat"]
    assert [i.image.name for i in by_folder] == [i.image.name for i in by_key] == ["a.jpg"]
    cls, xyxy = by_folder.images[0].boxes(100, 50)
    assert cls.tolist() == [1]
    assert xyxy.tolist() == [[40.0, 15.0, 60.0, 35.0]]


def test_load_set_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match="not a folder"):
        load_set(tmp_path / "missing")
    _tiny_set(tmp_path)
    with pytest.raises(DatasetError, match="no split 'test'"):
        load_set(tmp_path, "test")


def test_per_person_helmet_status_ignores_box_style():
    from vigil.evaluate.persons import PersonCounts

    c = PersonCounts()
    persons = np.array([[0, 0, 20, 100], [100, 0, 120, 100], [200, 0, 220, 100]], float)
    # GT: hat-only boxes; person 1 bare, person 2 helmet, person 3 no head label (unknown).
    gt = np.array([[5, 0, 15, 5], [105, 0, 115, 5]], float)
    gt_labels = np.array(["head_bare", "head_helmet"])
    # Predictions: whole-head boxes (IoU with the hat boxes < 0.5); person 2 wrongly bare too.
    pred = np.array([[3, 0, 17, 20], [103, 0, 117, 20], [104, 0, 116, 19]], float)
    pred_labels = np.array(["head_bare", "head_bare", "head_helmet"])
    c.add(persons, gt, gt_labels, pred, pred_labels)
    d = c.as_dict()
    assert (d["persons_bare"], d["persons_helmet"], d["persons_unknown"]) == (1, 1, 1)
    assert d["violation_recall"] == 1.0 and d["false_flag_rate"] == 1.0
    assert d["helmet_confirmed"] == 1.0
