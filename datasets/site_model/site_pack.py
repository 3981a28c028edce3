"""Pack the merged set, the base weights and ultralytics for the GPU machine, in chunks.

The device machine gets only the repository's working tree (64 MiB in all, tracked files
included) and has no ultralytics. So: images resized to the training size (long side) and
re-saved as WebP, their labels, the fall card's YOLOv8s and the installed ultralytics package go
into one tar, cut into chunks that each fit beside the tree; each device call carries one chunk
(gpu_run.sh stores it), the last one unpacks and trains. The pack lives in the cache; the repo
only gets a git-ignored link ``.site_model_pack`` to it. Example::

    python datasets/site_model/site_pack.py ~/.cache/vigil/site_model/data
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_train import base_weights  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REMOTE = "/tmp/site_model"  # where gpu_run.sh unpacks on the device machine
LIMIT_MIB = 64


def tree_mib(repo: Path = REPO) -> float:
    """MiB of what a device call sends: tracked and untracked-not-ignored files."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    files = [repo / p for p in out.decode().split("\0") if p]
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _webp(image: Path, imgsz: int, quality: int) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(image) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((imgsz, imgsz))
        out = io.BytesIO()
        im.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


def _package_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).origin).parent


def write_tar(data: Path, tar_path: Path, imgsz: int, quality: int) -> int:
    """One tar: data/ (images as WebP, labels, data.yaml, sources), base.pt, py/. Images count."""
    n = 0
    no_cache = lambda t: None if "__pycache__" in t.name else t  # noqa: E731
    with tarfile.open(tar_path, "w:gz", compresslevel=6) as tar:
        tar.add(base_weights(), "base.pt")
        for pkg in ("ultralytics", "thop"):
            tar.add(_package_dir(pkg), f"py/{pkg}", filter=no_cache)
        spec = yaml.safe_load((data / "data.yaml").read_text())
        spec["path"] = f"{REMOTE}/data"
        _add_bytes(tar, "data/data.yaml", yaml.safe_dump(spec, sort_keys=False).encode())
        for extra in ("sources.json", "sources.md"):
            tar.add(data / extra, f"data/{extra}")
        for split in ("train", "val"):
            for image in sorted((data / split / "images").iterdir()):
                stem = image.stem
                _add_bytes(tar, f"data/{split}/images/{stem}.webp", _webp(image, imgsz, quality))
                tar.add(data / split / "labels" / f"{stem}.txt", f"data/{split}/labels/{stem}.txt")
                n += 1
    return n


def cut(tar_path: Path, chunk_mib: float) -> list[Path]:
    """Cut the tar into part01, part02, ... of at most chunk_mib each (bytes, not members)."""
    size, chunks = int(chunk_mib * 2**20), []
    with tar_path.open("rb") as f:
        while block := f.read(size):
            chunks.append(tar_path.parent / f"part{len(chunks) + 1:02d}")
            chunks[-1].write_bytes(block)
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder written by site_train.py build")
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache/vigil/site_model/pack")
    parser.add_argument("--imgsz", type=int, default=416, help="long side of the packed images")
    parser.add_argument("--quality", type=int, default=75, help="WebP quality")
    parser.add_argument("--chunk-mib", type=float, help="default: what fits beside the tree")
    args = parser.parse_args()
    if not (args.data / "data.yaml").is_file():
        sys.exit(f"no data.yaml in {args.data}: run site_train.py build first")
    tree = tree_mib()
    chunk = args.chunk_mib or LIMIT_MIB - tree - 1.5  # slack: small untracked files, sha file
    if chunk < 4:
        sys.exit(f"the working tree takes {tree:.1f} MiB of {LIMIT_MIB}: no room for chunks")
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("part*"):
        old.unlink()
    tar_path = args.out / "pack.tar.gz"
    n = write_tar(args.data, tar_path, args.imgsz, args.quality)
    digest = hashlib.sha256(tar_path.read_bytes()).hexdigest()
    (args.out / "pack.sha256").write_text(f"{digest}  pack.tar.gz\n")
    chunks = cut(tar_path, chunk)
    tar_path.unlink()
    link = REPO / ".site_model_pack"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(args.out.resolve())
    total = sum(c.stat().st_size for c in chunks) / 2**20
    print(
        f"{n} images, {total:.1f} MiB in {len(chunks)} chunks of <= {chunk:.1f} MiB "
        f"(tree {tree:.1f} MiB); sha256 {digest}"
    )
    for i, c in enumerate(chunks, 1):
        last = i == len(chunks)
        carry = [f".site_model_pack/{c.name}"] + ([".site_model_pack/pack.sha256"] if last else [])
        cmd = "train" if last else "store"
        print(
            f"call {i}: carry={carry} command='bash datasets/site_model/gpu_run.sh {cmd} "
            f".site_model_pack/{c.name}'"
        )


if __name__ == "__main__":
    main()
