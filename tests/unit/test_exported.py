"""The OpenVINO runtime's own pre- and post-processing (detector/exported.py), checked against
known tensors and against ultralytics' LetterBox and non_max_suppression, which the PyTorch
path runs; and the export cache's keys and its checks of a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ultralytics.data.augment import LetterBox
from ultralytics.utils.nms import non_max_suppression
from ultralytics.utils.ops import scale_boxes

from vigil.detector.cards import CardError, ModelCard, load_cards
from vigil.detector.export import plan_exports
from vigil.detector.exported import (
    ExportMissing,
    Letterbox,
    decode,
    export_dir,
    letterbox,
    nms,
    read_export,
)


def _head(rows: list[list[float]]) -> np.ndarray:
    """A 1 x (4+classes) x anchors head output from one row per anchor."""
    return np.array(rows, dtype=np.float32).T[None]


def test_decode_keeps_best_class_over_conf_and_maps_back() -> None:
    out = _head(
        [
            [100, 60, 40, 20, 0.1, 0.9],  # class 1 at 0.9
            [102, 61, 40, 20, 0.2, 0.6],  # same place, same class: suppressed
            [300, 200, 10, 10, 0.3, 0.1],  # class 0 at 0.3: under conf 0.5
            [20, 200, 60, 20, 0.7, 0.0],  # class 0, hangs over the left edge
        ]
    )
    fit = Letterbox(gain=0.5, pad_x=10, pad_y=20)  # a 2x image, padded 10 / 20 px
    d = decode(out, 0.5, fit, shape=(1000, 800))
    assert d.class_id.tolist() == [1, 0]
    assert d.confidence.tolist() == pytest.approx([0.9, 0.7])
    # (100-20-10)/0.5 = 140, (60-10-20)/0.5 = 60, ... ; the second box is clipped at x = 0
    assert d.xyxy.tolist() == [[140.0, 60.0, 220.0, 100.0], [0.0, 340.0, 80.0, 380.0]]


def test_decode_is_class_aware_unless_agnostic() -> None:
    out = _head([[50, 50, 20, 20, 0.9, 0.1], [51, 50, 20, 20, 0.1, 0.8]])
    fit = Letterbox(1.0, 0, 0)
    assert decode(out, 0.25, fit, (100, 100)).class_id.tolist() == [0, 1]
    assert decode(out, 0.25, fit, (100, 100), agnostic=True).class_id.tolist() == [0]


def test_decode_of_nothing_is_empty() -> None:
    out = _head([[50, 50, 20, 20, 0.01, 0.02]])
    assert len(decode(out, 0.25, Letterbox(1.0, 0, 0), (100, 100))) == 0


def test_nms_keeps_overlaps_at_the_iou_limit() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 10, 9]], float)
    # IoU(0,1) = 50/150 = 0.33; IoU(0,2) = 0.9
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1]
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.3).tolist() == [0]
    assert nms(boxes, np.array([0.5, 0.8, 0.9]), 0.95).tolist() == [2, 1, 0]


@pytest.mark.parametrize("hw", [(1080, 810), (360, 640), (640, 640), (300, 1000), (100, 90)])
def test_letterbox_is_ultralytics_letterbox(hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*hw, 3), dtype=np.uint8)
    tensor, _ = letterbox(image, 416)
    theirs = LetterBox((416, 416), auto=True, stride=32)(image=image)
    expected = theirs[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255
    assert tensor.shape == expected.shape
    np.testing.assert_array_equal(tensor, expected)


@pytest.mark.parametrize("agnostic", [False, True])
def test_decode_agrees_with_ultralytics_nms(agnostic: bool) -> None:
    """Random heads through both decoders: same boxes, scores and classes."""
    rng = np.random.default_rng(1)
    anchors, classes = 2000, 3
    xy = rng.uniform(0, 416, (anchors, 2))
    wh = rng.uniform(8, 120, (anchors, 2))
    scores = rng.uniform(0, 1, (anchors, classes)) ** 4
    out = np.concatenate([xy, wh, scores], axis=1).T[None].astype(np.float32)
    shape = (720, 1280)
    tensor, fit = letterbox(np.zeros((*shape, 3), np.uint8), 416)  # 416x234, padded to 256

    ours = decode(out, 0.05, fit, shape, agnostic=agnostic)
    (theirs,) = non_max_suppression(torch.from_numpy(out), 0.05, 0.7, agnostic=agnostic)
    theirs[:, :4] = scale_boxes(tensor.shape[2:], theirs[:, :4], shape)
    order = np.lexsort((ours.xyxy[:, 0], -ours.confidence))
    theirs = theirs.numpy()
    theirs = theirs[np.lexsort((theirs[:, 0], -theirs[:, 4]))]
    assert len(ours) == len(theirs) > 10
    np.testing.assert_allclose(ours.xyxy[order], theirs[:, :4], atol=0.01)
    np.testing.assert_allclose(ours.confidence[order], theirs[:, 4], atol=1e-6)
    assert ours.class_id[order].tolist() == theirs[:, 5].astype(int).tolist()


def _card(tmp_path: Path, weights: bytes) -> ModelCard:
    (tmp_path / "w.pt").write_bytes(weights)
    card = ModelCard.model_validate(
        {
            "name": "demo",
            "weights": {"path": "w.pt"},
            "licence": "x",
            "source": "x",
            "class_map": {"a": "person"},
            "imgsz": 320,
        }
    )
    card.card_path = tmp_path / "demo.yaml"
    return card


def test_export_dir_is_keyed_by_the_weights_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = _card(tmp_path / "one", b"one"), _card(tmp_path / "two", b"two")
    assert export_dir(one).parent == tmp_path / "cache" / "exports"
    assert export_dir(one).name.endswith("-openvino-fp32-320")
    assert export_dir(one, "int8", 640).name.endswith("-openvino-int8-640")
    assert export_dir(one) != export_dir(two)
    (tmp_path / "two" / "w.pt").write_bytes(b"one")  # same bytes: same export
    assert export_dir(one).name == export_dir(two).name


def test_read_export_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ExportMissing, match="no export at"):
        read_export(tmp_path / "absent")
    (tmp_path / "m.xml").write_text("<net/>")
    with pytest.raises(ExportMissing, match="incomplete"):
        read_export(tmp_path)
    (tmp_path / "m.bin").write_bytes(b"")
    (tmp_path / "metadata.yaml").write_text("names: [unclosed")
    with pytest.raises(ExportMissing, match="unreadable metadata.yaml"):
        read_export(tmp_path)
    (tmp_path / "metadata.yaml").write_text("names: {0: a, 1: b}\nimgsz: [320, 320]\n")
    xml, meta = read_export(tmp_path)
    assert xml.name == "m.xml" and meta["names"] == {0: "a", 1: "b"}


def _data_with_calibration(tmp_path: Path, cards: dict[str, ModelCard]) -> Path:
    for card in cards.values():
        if card.calibration:
            (tmp_path / card.calibration).mkdir(parents=True, exist_ok=True)
    return tmp_path


def test_export_plan_defaults_to_the_cards_that_run_openvino_at_their_precision(
    tmp_path: Path,
) -> None:
    cards = load_cards()
    data = _data_with_calibration(tmp_path, cards)
    plan = plan_exports(cards, [], data=data)
    openvino = sorted(n for n, c in cards.items() if c.runtime == "openvino")
    assert openvino, "the default cards name runtime openvino"
    assert sorted(p.card.name for p in plan) == openvino
    for planned in plan:
        assert planned.precision == ("int8" if planned.card.precision == "int8" else "fp32")
        if planned.precision == "int8":
            assert planned.calibration == data / planned.card.calibration


def test_export_plan_names_cards_and_checks_everything_first(tmp_path: Path) -> None:
    cards = load_cards()
    fp32 = cards["site_ppe"].model_copy(update={"precision": "fp32"})
    (planned,) = plan_exports({**cards, "site_ppe": fp32}, ["site_ppe"], data=tmp_path)
    assert (planned.precision, planned.calibration) == ("fp32", None)
    (planned,) = plan_exports(cards, ["helmet"], int8=True, calibration=tmp_path)
    assert (planned.precision, planned.calibration) == ("int8", tmp_path)
    with pytest.raises(CardError, match="no model card named 'nosuch'"):
        plan_exports(cards, ["site_ppe", "nosuch"], data=tmp_path)
    # A calibration folder is missing: the plan fails before any export starts.
    with pytest.raises(CardError, match="is not a folder"):
        plan_exports(cards, [], int8=True, data=tmp_path / "nowhere")


def test_importing_openvino_through_vigil_sends_no_telemetry(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import threading, vigil, openvino; from openvino.tools.ovc import utils; "
        "print(utils.tm.__name__, [t.name for t in threading.enumerate()])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "['MainThread']"]
    assert not (tmp_path / "intel").exists()  # no client id written either
