"""`vigil models export`: a card's weights exported for OpenVINO, offline, into the cache.

Uses ultralytics' exporter (so PyTorch) on the card's model as the card loads it (its compat
fix-up applied), with dynamic input shapes so that the runtime can letterbox as PyTorch does
(:mod:`vigil.detector.exported`). ``int8`` quantises with NNCF, calibrated on the images the
card's ``calibration`` names (or ``calibration`` given here): up to ``CALIBRATION_IMAGES`` of
them, spread evenly over the sorted folder. The result lands in :func:`export_dir` atomically
(built beside it, then renamed), with ``vigil-export.json`` saying how it was made.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from vigil.detector.cards import CardError, ModelCard, weights_version
from vigil.detector.exported import (
    EXPORT_INFO,
    ExportMissing,
    OpenVinoDetector,
    export_dir,
    read_export,
)

log = logging.getLogger(__name__)

CALIBRATION_IMAGES = 300  # NNCF's default subset size
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def calibration_images(folder: Path, limit: int) -> list[Path]:
    """Up to ``limit`` images of ``folder`` (or of its ``images/``), spread evenly over the
    sorted list; CardError if there are none.

    >>> calibration_images(Path("/nowhere"), 5)
    Traceback (most recent call last):
    ...
    vigil.detector.cards.CardError: calibration images: /nowhere is not a folder
    """
    if (folder / "images").is_dir():
        folder = folder / "images"
    if not folder.is_dir():
        raise CardError(f"calibration images: {folder} is not a folder")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise CardError(f"calibration images: no images in {folder}")
    step = max(1, len(images) / max(1, limit))
    return [images[int(i * step)] for i in range(min(limit, len(images)))]


def calibration_folder(card: ModelCard, calibration: Path | None, data: Path) -> Path:
    """The folder an INT8 export of ``card`` is calibrated on: ``calibration`` if given, else
    the card's ``calibration`` under ``data``; CardError if neither."""
    if calibration is not None:
        return calibration
    if not card.calibration:
        raise CardError(
            f"model {card.name!r}: its card names no calibration images; give --calib FOLDER "
            "(images like those the model will see, not a set it is measured on)"
        )
    return data / card.calibration


@dataclass(frozen=True, slots=True)
class PlannedExport:
    """One export to make: the card, its precision, and (int8) its calibration folder."""

    card: ModelCard
    precision: str
    calibration: Path | None


def plan_exports(
    cards: dict[str, ModelCard],
    names: list[str],
    int8: bool = False,
    calibration: Path | None = None,
    data: Path = Path("../shared/data"),
) -> list[PlannedExport]:
    """What `vigil models export` makes, all checked before the first export starts: the named
    cards, or every card naming ``runtime: openvino``; each at int8 if asked or if the card
    runs int8, else fp32 (the export fp32 and bf16 both run). CardError on an unknown name, a
    crop classifier, or an int8 export without a calibration folder."""
    unknown = [name for name in names if name not in cards]
    if unknown:
        raise CardError(f"no model card named {unknown[0]!r} (have: {', '.join(sorted(cards))})")
    chosen = [cards[n] for n in names] or [c for c in cards.values() if c.runtime == "openvino"]
    if not chosen:
        raise CardError("no card names runtime openvino: name the cards to export")
    plan = []
    for card in chosen:
        if card.runtime == "crop_classifier":
            raise CardError(f"model {card.name!r}: a crop classifier cannot be exported")
        runs_int8 = card.runtime == "openvino" and card.precision == "int8"
        precision = "int8" if int8 or runs_int8 else "fp32"
        folder = calibration_folder(card, calibration, data) if precision == "int8" else None
        if folder is not None and not folder.is_dir():
            raise CardError(f"model {card.name!r}: calibration images: {folder} is not a folder")
        plan.append(PlannedExport(card, precision, folder))
    return plan


def export_card(
    card: ModelCard,
    precision: str = "fp32",
    imgsz: int | None = None,
    calibration: Path | None = None,
    limit: int = CALIBRATION_IMAGES,
    force: bool = False,
) -> Path:
    """Export ``card`` for OpenVINO at ``precision`` and ``imgsz`` (default: the card's) into
    the cache and return its folder; an existing complete export is reused unless ``force``.
    ``calibration``: the folder of images (int8 only)."""
    imgsz = imgsz or card.imgsz
    target = export_dir(card, precision, imgsz)
    images: list[Path] = []
    if precision == "int8":
        if not _installed("nncf"):
            raise CardError("--int8 needs NNCF: pip install 'vigil[export]'")
        if calibration is None:
            raise CardError(f"model {card.name!r}: an int8 export needs calibration images")
        images = calibration_images(calibration, limit)
    if not force:
        with contextlib.suppress(ExportMissing):
            read_export(target)
            log.info("model %r: export at %s is there already (--force to redo)", card.name, target)
            return target
    from vigil.detector.compat import load_yolo

    model = load_yolo(card)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        stem = Path(card.resolve_weights()).stem
        # ultralytics writes the export beside the weights' path: make that the stage.
        model.model.pt_path = str(stage / f"{stem}.pt")
        args = {"format": "openvino", "imgsz": imgsz, "dynamic": True, "device": "cpu"}
        info = {"card": card.name, "weights": str(card.resolve_weights())}
        if precision == "int8":
            import nncf

            nncf.set_log_level(logging.WARNING)  # its INFO lines go to stdout, one per layer
            args |= {"int8": True, "data": str(_calibration_set(stage, images, model.names))}
            args |= {"batch": 1}
            info |= {"calibration": str(calibration), "calibration_images": len(images)}
        began = time.monotonic()
        # stdout is the caller's (`vigil models export` prints the folder there): NNCF's
        # progress bars go to stderr.
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace's, from ultralytics
            produced = Path(model.export(**args))
        info |= _versions() | {
            "weights_sha256_12": weights_version(card),
            "precision": precision,
            "imgsz": imgsz,
            "seconds": round(time.monotonic() - began, 1),
        }
        (produced / EXPORT_INFO).write_text(json.dumps(info, indent=1))
        OpenVinoDetector(card, produced)  # it loads and compiles, or ExportMissing says why
        if target.exists():
            shutil.rmtree(target)
        os.replace(produced, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


def _calibration_set(stage: Path, images: list[Path], names: dict[int, str]) -> Path:
    """A YOLO data.yaml whose val split is ``images`` (linked, unlabelled: calibration only
    needs pixels), for ultralytics' exporter."""
    folder = stage / "calibration" / "images"
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        (folder / f"{i:05d}{image.suffix.lower()}").symlink_to(image.resolve())
    data = stage / "calibration" / "data.yaml"
    data.write_text(
        yaml.safe_dump(
            {"path": str(folder.parent), "train": "images", "val": "images", "names": names}
        )
    )
    return data


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {p: md.version(p) for p in ("ultralytics", "openvino", "torch")} | (
        {"nncf": md.version("nncf")} if _installed("nncf") else {}
    )


def _installed(package: str) -> bool:
    import importlib.metadata as md

    try:
        md.version(package)
    except md.PackageNotFoundError:
        return False
    return True
