"""Build a training set in a temp folder from a YOLO-format set in ../shared, remapping classes.

Images are symlinked (nothing from ../shared is copied into the repository); label files are
rewritten with only the kept classes, renumbered in the order given by ``--map``.

Example (the recipe in datasets/recipes/site_ppe_yolov8s.md)::

    python datasets/recipes/build_yolo_set.py \
        ../shared/data/helmet/construction_site_safety_v28_medoju /tmp/vigil_ft/site_ppe \
        --map Hardhat=head_helmet --map NO-Hardhat=head_bare --map Person=person \
        --splits train valid

``--negatives DIR`` adds background images (empty label files) to the first split, one per
source frame (Roboflow's ``<frame>_jpg.rf.<hash>`` augmentations count once), up to
``--negatives-count``: the fire recipe uses construction-site photos so that hi-vis and sunlit
dust are seen as "no smoke".
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import yaml

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def build(src: Path, out: Path, mapping: list[tuple[str, str]], splits: list[str]) -> Path:
    """Write ``out/<split>/{images,labels}`` and ``out/data.yaml``; return the yaml's path."""
    names = yaml.safe_load((src / "data.yaml").read_text())["names"]
    if isinstance(names, dict):
        names = [names[i] for i in sorted(names)]
    targets: list[str] = []
    for _, target in mapping:
        if target not in targets:
            targets.append(target)
    remap = {names.index(cls): targets.index(target) for cls, target in mapping}
    for split in splits:
        img_out, lbl_out = out / split / "images", out / split / "labels"
        img_out.mkdir(parents=True, exist_ok=True)
        lbl_out.mkdir(parents=True, exist_ok=True)
        for image in sorted((src / split / "images").iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            link = img_out / image.name
            if not link.exists():
                link.symlink_to(image.resolve())
            label = src / split / "labels" / f"{image.stem}.txt"
            rows = label.read_text().splitlines() if label.exists() else []
            kept = []
            for row in rows:
                parts = row.split()
                if parts and int(parts[0]) in remap:
                    kept.append(" ".join([str(remap[int(parts[0])]), *parts[1:5]]))
            (lbl_out / f"{image.stem}.txt").write_text("\n".join(kept) + ("\n" if kept else ""))
    data = {
        "path": str(out.resolve()),
        "train": f"{splits[0]}/images",
        "val": f"{splits[-1]}/images",
        "names": dict(enumerate(targets)),
    }
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def source_of(image_name: str) -> str:
    """The source a Roboflow export's image came from: its video (``fire1_mp4-24_jpg.rf.x``
    -> ``fire1_mp4``); numbered stills by hundreds (``img_343_jpg`` -> ``img_3xx``), as runs
    of consecutive numbers are frames of one scene."""
    stem = image_name.split(".rf.")[0]
    if "_mp4-" in stem:
        return stem.split("_mp4-")[0] + "_mp4"
    numbered = re.match(r"img_(\d+)", stem)
    return f"img_{int(numbered.group(1)) // 100}xx" if numbered else stem


def hold_out_sources(out: Path, split: str, every: int, dev: str = "dev") -> tuple[int, int]:
    """Move whole sources (every ``every``-th by a stable hash) from ``split`` into ``dev``, so
    that no video has frames on both sides; return (images kept, images moved)."""
    moved = kept = 0
    for sub in ("images", "labels"):
        (out / dev / sub).mkdir(parents=True, exist_ok=True)
    for image in sorted((out / split / "images").iterdir()):
        digest = hashlib.sha1(source_of(image.name).encode()).digest()
        if digest[0] % every:
            kept += 1
            continue
        label = out / split / "labels" / f"{image.stem}.txt"
        image.rename(out / dev / "images" / image.name)
        label.rename(out / dev / "labels" / label.name)
        moved += 1
    return kept, moved


def add_negatives(
    images: Path, split_dir: Path, count: int, skip: frozenset[str] = frozenset()
) -> set[str]:
    """Symlink up to ``count`` images, one per source frame, with empty labels; return the
    source frames taken. Frames in ``skip`` are left out (no frame on both sides)."""
    taken: set[str] = set()
    for image in sorted(images.iterdir()):
        source = image.name.split(".rf.")[0]
        if image.suffix.lower() not in IMAGE_SUFFIXES or source in skip | taken:
            continue
        if len(taken) >= count:
            break
        taken.add(source)
        link = split_dir / "images" / f"neg_{image.name}"
        if not link.exists():
            link.symlink_to(image.resolve())
        (split_dir / "labels" / f"neg_{image.stem}.txt").write_text("")
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder with data.yaml and <split>/images|labels")
    parser.add_argument("out", type=Path)
    parser.add_argument("--map", action="append", required=True, help="SetClass=target_name")
    parser.add_argument("--splits", nargs="+", default=["train", "valid"])
    parser.add_argument(
        "--holdout-sources",
        type=int,
        default=0,
        help="N: move every N-th source video of the first split into a 'dev' split "
        "(validation during training on sources it never sees)",
    )
    parser.add_argument(
        "--negatives-dev", type=int, default=0, help="background images added to 'dev'"
    )
    parser.add_argument("--negatives", type=Path, help="folder of background images (no labels)")
    parser.add_argument("--negatives-count", type=int, default=200)
    args = parser.parse_args()
    mapping = [tuple(m.split("=", 1)) for m in args.map]
    data_yaml = build(args.src, args.out, mapping, args.splits)
    if args.holdout_sources:
        kept, moved = hold_out_sources(args.out, args.splits[0], args.holdout_sources)
        print(f"{args.splits[0]}: {kept} images, dev: {moved} images from held-out sources")
        data = yaml.safe_load(data_yaml.read_text())
        data_yaml.write_text(yaml.safe_dump({**data, "val": "dev/images"}, sort_keys=False))
    if args.negatives:
        taken = add_negatives(args.negatives, args.out / args.splits[0], args.negatives_count)
        print(f"negatives {len(taken)}")
        if args.negatives_dev:
            dev = add_negatives(
                args.negatives, args.out / "dev", args.negatives_dev, skip=frozenset(taken)
            )
            print(f"dev negatives {len(dev)}")
    print(data_yaml)


if __name__ == "__main__":
    main()
