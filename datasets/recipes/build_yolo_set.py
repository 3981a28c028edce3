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


def add_negatives(images: Path, split_dir: Path, count: int) -> int:
    """Symlink up to ``count`` images, one per source frame, with empty labels; return how many."""
    seen: set[str] = set()
    added = 0
    for image in sorted(images.iterdir()):
        source = image.name.split(".rf.")[0]
        if image.suffix.lower() not in IMAGE_SUFFIXES or source in seen or added >= count:
            continue
        seen.add(source)
        link = split_dir / "images" / f"neg_{image.name}"
        if not link.exists():
            link.symlink_to(image.resolve())
        (split_dir / "labels" / f"neg_{image.stem}.txt").write_text("")
        added += 1
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="folder with data.yaml and <split>/images|labels")
    parser.add_argument("out", type=Path)
    parser.add_argument("--map", action="append", required=True, help="SetClass=target_name")
    parser.add_argument("--splits", nargs="+", default=["train", "valid"])
    parser.add_argument("--negatives", type=Path, help="folder of background images (no labels)")
    parser.add_argument("--negatives-count", type=int, default=200)
    args = parser.parse_args()
    mapping = [tuple(m.split("=", 1)) for m in args.map]
    data_yaml = build(args.src, args.out, mapping, args.splits)
    if args.negatives:
        added = add_negatives(args.negatives, args.out / args.splits[0], args.negatives_count)
        print(f"negatives {added}")
    print(data_yaml)


if __name__ == "__main__":
    main()
