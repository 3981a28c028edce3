"""Merge the labelled sets in ../shared/data into one YOLO set on the site model's labels.

Images are symlinked into a cache folder outside the repository (never copied); label files
are rewritten to canonical ids. Each image's link is named ``<source>__<file>``, so a training
batch's ``im_file`` says which source it came from, and ``sources.json`` beside ``data.yaml``
says which labels that source boxes (the loss ignores the others there, site_loss.py).

Example::

    >>> rows = ["1 0.5 0.5 0.2 0.2", "0 0.1 0.1 0.1 0.1", "2 0.3 0.3 0.1 0.1"]
    >>> remap_rows(rows, {1: 4, 2: 0})
    ['4 0.5 0.5 0.2 0.2', '0 0.3 0.3 0.1 0.1']
    >>> source_of("/cache/train/images/kafeel__img_12.jpg")
    'kafeel'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SOURCES_YAML = HERE / "sources.yaml"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SEP = "__"  # between a source's name and the image's own name in a link's name


@dataclass(frozen=True)
class Source:
    """One labelled set: where it is, whether it is trained on, and its class map."""

    name: str
    path: str
    role: str
    class_map: dict[str, str]
    train: tuple[str, ...] = ()
    valid: str | None = None
    absent: tuple[str, ...] = field(default=())  # labels known not to occur on its images
    every: int = 1  # keep every n-th image (a large set used only as negatives)


def load_sources(path: Path = SOURCES_YAML, hold_out: tuple[str, ...] = ()) -> tuple:
    """(canonical labels, {name: Source}); names in ``hold_out`` become held out too."""
    raw = yaml.safe_load(path.read_text())
    labels = tuple(raw["labels"])
    sources = {}
    for name, s in raw["sources"].items():
        unknown = (set(s["map"].values()) | set(s.get("absent", ()))) - set(labels)
        if unknown:
            raise ValueError(f"source {name}: labels {sorted(unknown)} are not site-model labels")
        if s["role"] not in ("train", "held_out"):
            raise ValueError(f"source {name}: role must be train or held_out")
        role = "held_out" if name in hold_out else s["role"]
        sources[name] = Source(
            name,
            s["path"],
            role,
            dict(s["map"]),
            tuple(s.get("train", ())),
            s.get("valid"),
            tuple(s.get("absent", ())),
            int(s.get("every", 1)),
        )
    missing = set(hold_out) - set(sources)
    if missing:
        raise ValueError(f"no such source: {', '.join(sorted(missing))}")
    return labels, sources


def set_class_names(folder: Path) -> list[str]:
    """Class names of a YOLO set, in id order (data.yaml's list or {id: name} mapping)."""
    names = yaml.safe_load((folder / "data.yaml").read_text())["names"]
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)


def id_map(set_names: list[str], class_map: dict[str, str], labels: tuple) -> dict[int, int]:
    """Set class id -> canonical id, for the set's classes that the map names."""
    missing = set(class_map) - set(set_names)
    if missing:
        raise ValueError(f"classes {sorted(missing)} are not in the set ({set_names})")
    return {set_names.index(c): labels.index(target) for c, target in class_map.items()}


def labelled_ids(source: Source, labels: tuple) -> list[int]:
    """Canonical ids the source boxes or knows absent; every other label is unknown there."""
    return sorted({labels.index(t) for t in (*source.class_map.values(), *source.absent)})


def remap_rows(rows: list[str], ids: dict[int, int]) -> list[str]:
    """Keep the rows of mapped classes, renumbered; drop the rest."""
    kept = []
    for row in rows:
        parts = row.split()
        if len(parts) >= 5 and int(parts[0]) in ids:
            kept.append(" ".join([str(ids[int(parts[0])]), *parts[1:5]]))
    return kept


def source_of(im_file: str) -> str:
    """The source of a merged image, from its link's name."""
    return Path(im_file).name.split(SEP, 1)[0]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def add_split(src: Path, ids: dict[int, int], name: str, out: Path, every: int = 1) -> int:
    """Link ``src/images/*`` into ``out/images`` as ``<name>__<file>``, write remapped labels;
    ``every`` > 1 keeps every n-th image (tiny proof runs). Returns the number of images."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    images = _images(src / "images")[::every]
    for image in images:
        link = out / "images" / f"{name}{SEP}{image.name}"
        if not link.is_symlink():
            link.symlink_to(image.resolve())
        label = src / "labels" / f"{image.stem}.txt"
        rows = remap_rows(label.read_text().splitlines() if label.exists() else [], ids)
        text = "\n".join(rows) + ("\n" if rows else "")
        (out / "labels" / f"{name}{SEP}{image.stem}.txt").write_text(text)
    return len(images)


def build(
    shared: Path,
    out: Path,
    hold_out: tuple[str, ...] = (),
    every: int = 1,
    sources_yaml: Path = SOURCES_YAML,
) -> Path:
    """Write ``out/{train,val}``, ``data.yaml``, ``sources.json`` and ``sources.md``."""
    labels, sources = load_sources(sources_yaml, hold_out)
    counts: dict[str, dict[str, int]] = {}
    for s in sources.values():
        if s.role != "train":
            continue
        ids = id_map(set_class_names(shared / s.path), s.class_map, labels)
        counts[s.name] = {"train": 0, "val": 0}
        for split in s.train:
            counts[s.name]["train"] += add_split(
                shared / s.path / split, ids, s.name, out / "train", every * s.every
            )
        if s.valid:
            counts[s.name]["val"] = add_split(
                shared / s.path / s.valid, ids, s.name, out / "val", every * s.every
            )
    table = {s.name: labelled_ids(s, labels) for s in sources.values() if s.role == "train"}
    (out / "sources.json").write_text(json.dumps({"labels": labels, "labelled": table}, indent=1))
    (out / "sources.md").write_text(split_table(labels, sources, counts))
    data = {
        "path": str(out.resolve()),
        "train": "train/images",
        "val": "val/images",
        "names": dict(enumerate(labels)),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"


def split_table(labels: tuple, sources: dict, counts: dict) -> str:
    """Markdown: per label, the sources trained on and the whole sources held out."""
    lines = [
        "| label | trained on (images: train / in-source val) | held out (whole set) |",
        "|---|---|---|",
    ]
    for label in labels:
        boxed = [s for s in sources.values() if label in s.class_map.values()]
        negatives = [
            f"{s.name} ({counts[s.name]['train']} / {counts[s.name]['val']}, none boxed)"
            for s in sources.values()
            if label in s.absent and s.role == "train"
        ]
        train = [
            f"{s.name} ({counts[s.name]['train']} / {counts[s.name]['val']})"
            for s in boxed
            if s.role == "train"
        ]
        held = [s.name for s in boxed if s.role == "held_out"]
        trained = ", ".join(train + negatives) or "-"
        lines.append(f"| {label} | {trained} | {', '.join(held) or 'none'} |")
    return "\n".join(lines) + "\n"
