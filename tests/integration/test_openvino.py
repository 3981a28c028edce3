"""Cards run by OpenVINO (real weights, real export, real images): `vigil models export` makes
the export into a cache of the test's own, the OpenVINO detector finds what PyTorch finds on
ultralytics' bundled images, a worker using it never imports torch, and a missing or broken
export falls back to PyTorch with one log line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv
import yaml
from typer.testing import CliRunner
from ultralytics.utils import ASSETS

from vigil.cli import app
from vigil.detector.cards import ModelCard, load_cards
from vigil.detector.detector import Detector, YoloDetector, load_detector
from vigil.detector.export import export_card
from vigil.detector.exported import ExportMissing, OpenVinoDetector, export_dir

pytestmark = pytest.mark.slow
CARD = "site_ppe"  # the smallest default detector at its size (YOLOv8s at 416)
MEDOJU_TRAIN = (
    Path(__file__).resolve().parents[2].parent
    / "shared/data/helmet/construction_site_safety_v28_medoju/train"
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh export cache for this module (VIGIL_CACHE_DIR), never the user's."""
    folder = tmp_path_factory.mktemp("vigil-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def card(cache: Path) -> ModelCard:
    return load_cards()[CARD].model_copy(update={"runtime": "openvino", "precision": "fp32"})


@pytest.fixture(scope="module")
def exported(card: ModelCard) -> Path:
    return export_card(card, "fp32")


@pytest.fixture(scope="module")
def pytorch() -> Detector:
    return load_detector(load_cards()[CARD].model_copy(update={"runtime": "ultralytics"}))


def _image(name: str) -> np.ndarray:
    return cv2.imread(str(ASSETS / name))


def _matched(ours: sv.Detections, theirs: sv.Detections, iou: float) -> int:
    """How many of ``theirs`` have a box of ``ours`` with the same label at IoU > ``iou``."""
    if not len(ours) or not len(theirs):
        return 0
    overlaps = sv.box_iou_batch(theirs.xyxy, ours.xyxy)
    same = theirs.data["label"][:, None] == ours.data["label"][None, :]
    return int(((overlaps > iou) & same).any(axis=1).sum())


@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_export_finds_what_pytorch_finds(
    exported: Path, card: ModelCard, pytorch: Detector, image: str
) -> None:
    ov = load_detector(card)
    assert isinstance(ov, OpenVinoDetector) and ov.folder == exported
    ours, theirs = ov(_image(image)), pytorch(_image(image))
    assert len(theirs) >= 2
    assert sorted(ours.data["label"]) == sorted(theirs.data["label"])
    assert _matched(ours, theirs, 0.9) == len(theirs)
    # precision fp32 runs in float32 (OpenVINO's default here would be bf16: scores off by 0.01)
    np.testing.assert_allclose(sorted(ours.confidence), sorted(theirs.confidence), atol=2e-3)
    assert set(ours.data["model"]) == {CARD}
    # the card's per-label thresholds applied, as on the PyTorch path
    floors = [card.threshold(label) for label in ours.data["label"]]
    assert (ours.confidence >= np.array(floors)).all()


def test_export_is_reused_and_the_cli_says_where(
    card: ModelCard, exported: Path, tmp_path: Path
) -> None:
    stamp = (exported / "vigil-export.json").stat().st_mtime_ns
    # The built-in card runs int8; a copy in a card folder asks for the float export.
    weights = str(card.resolve_weights())
    (tmp_path / f"{CARD}.yaml").write_text(
        yaml.safe_dump(card.model_dump(mode="json") | {"weights": {"path": weights}})
    )
    result = CliRunner().invoke(app, ["models", "export", CARD, "--cards", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(exported)
    assert "is there already" in result.stderr
    assert (exported / "vigil-export.json").stat().st_mtime_ns == stamp
    info = json.loads((exported / "vigil-export.json").read_text())
    assert info["precision"] == "fp32" and info["imgsz"] == 416 and info["card"] == CARD


TORCH_FREE = """
import json, sys, cv2
from vigil.detector.cards import load_cards
from vigil.pipeline import load_detectors
card = load_cards()[sys.argv[1]].model_copy(update={"runtime": "openvino", "precision": "fp32"})
(detector,) = load_detectors([card])
found = detector(cv2.imread(sys.argv[2]))
print(json.dumps({"runtime": type(detector).__name__, "labels": sorted(found.data["label"]),
                  "loaded": sorted(m for m in ("torch", "ultralytics") if m in sys.modules)}))
"""


def test_a_worker_on_exports_never_imports_torch(exported: Path, pytorch: Detector) -> None:
    env = {**os.environ, "VIGIL_CACHE_DIR": str(exported.parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", TORCH_FREE, CARD, str(ASSETS / "bus.jpg")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["runtime"] == "OpenVinoDetector"
    assert result["loaded"] == []
    assert result["labels"] == sorted(pytorch(_image("bus.jpg")).data["label"])


DETECT = """
import json, sys
from typer.testing import CliRunner
from vigil.cli import app
done = CliRunner().invoke(app, ["detect", *sys.argv[1:], "--json"])
assert done.exit_code == 0, done.output
events = [json.loads(line) for line in done.stdout.splitlines()]
print(json.dumps({"rules": sorted({e["rule"] for e in events}),
                  "loaded": sorted(m for m in ("torch", "ultralytics") if m in sys.modules)}))
"""


def test_vigil_detect_on_exports_never_imports_torch(
    exported: Path, card: ModelCard, videos: Path, tmp_path: Path
) -> None:
    """The whole worker path (decode, model, tracking, rules, evidence, store) on a real clip
    with bare heads, its only model an exported card."""
    cards = tmp_path / "cards"
    cards.mkdir()
    weights = str(load_cards()[CARD].resolve_weights())
    (cards / "site_ppe.yaml").write_text(
        yaml.safe_dump(card.model_dump(mode="json") | {"weights": {"path": weights}})
    )
    config = tmp_path / "site.yaml"
    config.write_text(
        yaml.safe_dump({"models": {"card_dirs": [str(cards)]}, "rules": {"no_helmet": {}}})
    )
    clip = videos / "workers_no_hardhat_slideshow_01.mp4"
    env = {**os.environ, "VIGIL_CACHE_DIR": str(exported.parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", DETECT, str(clip), "-c", str(config), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"rules": ["no_helmet"], "loaded": []}


def _fallback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "vigil.detector.detector"]


def test_a_missing_export_falls_back_with_one_line(
    card: ModelCard, exported: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No int8 export in this cache: the card runs on PyTorch.
    int8 = card.model_copy(update={"precision": "int8"})
    with caplog.at_level(logging.INFO, logger="vigil.detector.detector"):
        detector = load_detector(int8)
    (record,) = _fallback_records(caplog)
    assert record.levelno == logging.WARNING and "\n" not in record.getMessage()
    assert "no export at" in record.getMessage() and "--int8" in record.getMessage()
    assert isinstance(detector, YoloDetector)
    assert "person" in detector(_image("bus.jpg")).data["label"]


def test_a_broken_export_falls_back_with_one_line(
    card: ModelCard, exported: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A copy of the export with its weights cut short, as an interrupted copy leaves it.
    variant = card.model_copy(update={"imgsz": 384})
    broken = export_dir(variant)
    broken.mkdir()
    for f in exported.iterdir():
        data = f.read_bytes()
        (broken / f.name).write_bytes(data[: len(data) // 3] if f.suffix == ".bin" else data)
    with pytest.raises(ExportMissing, match="cannot be read|does not compile"):
        OpenVinoDetector(variant, broken)
    with caplog.at_level(logging.INFO, logger="vigil.detector.detector"):
        detector = load_detector(variant)
    (record,) = _fallback_records(caplog)
    assert "running it with PyTorch" in record.getMessage()
    assert isinstance(detector, YoloDetector)
    assert len(detector(_image("zidane.jpg"))) > 0


@pytest.mark.needs_footage
def test_int8_export_on_a_tiny_calibration_set(card: ModelCard, pytorch: Detector) -> None:
    # 8 images only, to keep the test short; the real export calibrates on 300.
    folder = export_card(card, "int8", calibration=MEDOJU_TRAIN, limit=8)
    info = json.loads((folder / "vigil-export.json").read_text())
    assert info["calibration_images"] == 8 and info["precision"] == "int8"
    # (not load_detector: the fallback test above left this card's PyTorch stand-in loaded)
    detector = OpenVinoDetector.load(card.model_copy(update={"precision": "int8"}))
    assert detector.folder == folder
    theirs = pytorch(_image("bus.jpg"))
    people = theirs[theirs.data["label"] == "person"]
    # Quantised on so few images it may shift scores; the big people must still be there.
    assert _matched(detector(_image("bus.jpg")), people, 0.8) >= len(people) - 1


def test_export_errors_are_one_line(cache: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["models", "export", "nope"])
    assert result.exit_code == 2 and "no model card named 'nope'" in result.output
    result = runner.invoke(app, ["models", "export", "helmet", "--int8"])  # no calibration:
    assert result.exit_code == 2
    assert "names no calibration images; give --calib FOLDER" in result.output
    result = runner.invoke(app, ["models", "export", CARD, "--int8", "--calib", "/nowhere"])
    assert result.exit_code == 2 and "/nowhere is not a folder" in result.output
