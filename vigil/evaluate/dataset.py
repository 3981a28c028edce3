"""YOLO-format labelled image folders and class maps onto canonical labels.

A set is either a folder with a ``data.yaml`` (ultralytics style: ``path``, ``train``/``val``
split folders, ``names``) or a folder holding ``images/`` and ``labels/`` (class names then come
from a ``data.yaml`` beside them or from ``names``). Labels live where ultralytics looks:
``.../images/x.jpg`` -> ``.../labels/x.txt``.

>>> parse_class_map(["Hardhat=head_helmet", "NO-Hardhat=head_bare"])
{'Hardhat': 'head_helmet', 'NO-Hardhat': 'head_bare'}
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from vigil import VigilError
from vigil.detector.labels import CANONICAL_LABELS, IGNORE
from vigil.streams.sources import IMAGE_SUFFIXES


class DatasetError(VigilError, ValueError):
    """A set or class map that cannot be used: one line, for the user."""


@dataclass(frozen=True, slots=True)
class LabelledImage:
    image: Path
    labels: Path

    def boxes(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(class ids (N,), xyxy pixel boxes (N, 4)) from the YOLO txt; empty if no file."""
        rows = []
        if self.labels.is_file():
            for line in self.labels.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 5:
                    rows.append([float(p) for p in parts[:5]])
        if not rows:
            return np.zeros(0, dtype=int), np.zeros((0, 4))
        arr = np.array(rows)
        cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
        xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        return arr[:, 0].astype(int), xyxy


@dataclass(frozen=True, slots=True)
class LabelledSet:
    root: Path
    names: list[str]
    images: list[LabelledImage]

    def __iter__(self) -> Iterator[LabelledImage]:
        return iter(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def part(self, spec: str) -> LabelledSet:
        """The images whose index (sorted by name) modulo N is K, for ``spec`` "K/N": a fixed,
        reproducible split into a dev part (thresholds) and a test part (reporting)."""
        try:
            k, n = (int(v) for v in spec.split("/"))
        except ValueError:
            raise DatasetError(f"--part {spec!r}: expected K/N, e.g. 0/2") from None
        if not 0 <= k < n:
            raise DatasetError(f"--part {spec!r}: K must be in 0..N-1")
        return LabelledSet(self.root, self.names, self.images[k::n])


def _names(raw: object) -> list[str]:
    if isinstance(raw, dict):
        return [str(raw[k]) for k in sorted(raw)]
    if isinstance(raw, list):
        return [str(n) for n in raw]
    raise DatasetError("data.yaml: 'names' must be a list or a mapping")


def _images_in(folder: Path) -> list[LabelledImage]:
    found = []
    for image in sorted(folder.iterdir()):
        if image.suffix.lower() in IMAGE_SUFFIXES:
            label_dir = Path(*[("labels" if p == "images" else p) for p in image.parent.parts])
            found.append(LabelledImage(image, label_dir / f"{image.stem}.txt"))
    return found


def load_set(root: Path, split: str | None = None, names: list[str] | None = None) -> LabelledSet:
    """The labelled images of ``root`` (its ``split``: a data.yaml key such as ``val`` or a folder
    such as ``valid``; default ``val``, else the folder's own ``images/``)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    data_yaml = root / "data.yaml"
    data: dict = {}
    if data_yaml.is_file():
        try:
            data = yaml.safe_load(data_yaml.read_text()) or {}
        except yaml.YAMLError as exc:
            raise DatasetError(f"{data_yaml}: {exc}") from None
    if names is None:
        if "names" not in data:
            raise DatasetError(f"{root}: no data.yaml with 'names'; give the class names")
        names = _names(data["names"])
    base = (root / data.get("path", ".")).resolve()
    if split and (base / split / "images").is_dir():
        folder = base / split / "images"
    elif split and split in data:
        folder = base / str(data[split])
    elif split:
        raise DatasetError(f"{root}: no split {split!r} (no {split}/images, no key in data.yaml)")
    elif (root / "images").is_dir():
        folder = root / "images"
    elif "val" in data:
        folder = base / str(data["val"])
    else:
        raise DatasetError(f"{root}: no images/ folder and no 'val' in data.yaml")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: images folder not found")
    images = _images_in(folder)
    if not images:
        raise DatasetError(f"{folder}: no images")
    return LabelledSet(root, names, images)


def parse_class_map(items: list[str]) -> dict[str, str]:
    """``["SetClass=label", ...]`` as a dict; each label canonical (or ``ignore``)."""
    mapping = {}
    for item in items:
        if "=" not in item:
            raise DatasetError(f"class map entry {item!r}: expected SetClass=label")
        cls, label = (s.strip() for s in item.rsplit("=", 1))
        mapping[cls] = label
    return check_class_map(mapping)


def load_class_map(path: Path) -> dict[str, str]:
    """A YAML mapping ``{set class: canonical label}`` (or a ``class_map:`` key holding one)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"class map {path}: {exc}") from None
    if isinstance(raw, dict) and isinstance(raw.get("class_map"), dict):
        raw = raw["class_map"]
    if not isinstance(raw, dict):
        raise DatasetError(f"class map {path}: expected a mapping of set class -> label")
    return check_class_map({str(k): str(v) for k, v in raw.items()})


def check_class_map(mapping: dict[str, str]) -> dict[str, str]:
    known = set(CANONICAL_LABELS) | {IGNORE}
    for cls, label in mapping.items():
        if label not in known:
            raise DatasetError(
                f"class map: {cls!r} -> {label!r} is not a canonical label "
                f"({', '.join(CANONICAL_LABELS)} or ignore)"
            )
    return mapping
