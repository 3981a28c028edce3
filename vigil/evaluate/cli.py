"""`vigil eval images|videos`: the evaluation commands (mounted by vigil/cli.py).

As everywhere in `vigil`: ``--json`` prints the report as JSON on stdout (and nothing else
there), ``--out FILE`` writes it to a file; errors are reported by the `vigil` command group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.detector.cards import CardError, ModelCard, load_card, load_cards
from vigil.evaluate.dataset import DatasetError

if TYPE_CHECKING:
    from vigil.evaluate.groundtruth import RuleScore

eval_app = typer.Typer(
    help="Measure accuracy: detectors on labelled images, the pipeline on videos.",
    no_args_is_help=True,
)
# Tables are wide: outside a terminal (logs, CI) do not squeeze them into 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)


AsJson = Annotated[bool, typer.Option("--json", help="print the report as JSON on stdout")]
Out = Annotated[Path | None, typer.Option("--out", help="also write the report (JSON) here")]


def _report(report: dict, as_json: bool, out_file: Path | None) -> None:
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(report, indent=1))
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")


def _cards(names: list[str], card_files: list[Path], card_dirs: list[Path]) -> list[ModelCard]:
    available = load_cards(card_dirs)
    chosen = [load_card(p) for p in card_files]
    for name in names:
        if name not in available:
            raise CardError(f"no model card named {name!r} (have: {', '.join(available)})")
        chosen.append(available[name])
    if not chosen:
        raise CardError("give at least one --model NAME or --card FILE")
    return chosen


def _f(x: float) -> str:
    return f"{x:.3f}"


def _thresholds(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        label, _, value = item.partition("=")
        try:
            out[label.strip()] = float(value)
        except ValueError:
            raise DatasetError(f"--threshold {item!r}: expected label=number") from None
    return out


def _paths(detectors, path: str, imgsz, person_model: str, crop_imgsz: int, tiles: int) -> list:
    from vigil.evaluate.cascade import PersonCascade, Tiled
    from vigil.evaluate.images import FullFrame
    from vigil.pipeline import load_detectors

    if path == "full":
        return [FullFrame(d, imgsz) for d in detectors]
    if path == "tiled":
        return [Tiled(d, tiles) for d in detectors]
    if path == "cascade":
        (people,) = load_detectors(_cards([person_model], [], []))
        return [PersonCascade(people, d, imgsz=crop_imgsz) for d in detectors]
    raise DatasetError(f"--path {path!r}: use full, cascade or tiled")


@eval_app.command("images")
def images(
    folder: Annotated[Path, typer.Argument(help="YOLO set: data.yaml, or images/ + labels/")],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="model card name (repeatable)")
    ] = None,
    card: Annotated[
        list[Path] | None, typer.Option("--card", help="a model card file (repeatable)")
    ] = None,
    cards_dir: Annotated[
        list[Path] | None, typer.Option("--cards", help="extra folder of model cards")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="split folder or data.yaml key (default val)")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="SetClass=canonical_label (repeatable)"),
    ] = None,
    map_file: Annotated[
        Path | None, typer.Option("--map-file", help="YAML {SetClass: canonical_label}")
    ] = None,
    imgsz: Annotated[
        int | None, typer.Option("--imgsz", help="input size (default: card's)")
    ] = None,
    path: Annotated[
        str,
        typer.Option(
            "--path", help="full (whole frame), cascade (people first, then heads), tiled"
        ),
    ] = "full",
    person_model: Annotated[
        str, typer.Option("--person-model", help="cascade: card that finds people")
    ] = "fall",
    crop_imgsz: Annotated[
        int, typer.Option("--crop-imgsz", help="cascade: input size for each crop")
    ] = 320,
    tiles: Annotated[int, typer.Option("--tiles", help="tiled: N x N tiles")] = 2,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help="label=value: operating threshold to report at"),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="first N images only")] = None,
    part: Annotated[
        str | None,
        typer.Option("--part", help="K/N: only images whose index modulo N is K (dev/test halves)"),
    ] = None,
    as_json: AsJson = False,
    out_file: Out = None,
) -> None:
    """Per-label AP50, P/R/F1 at the card's threshold and at the F1-best one, and ms/image.

    Example: vigil eval images ../shared/data/helmet/construction_site_safety_v28_medoju
    --split valid --model helmet --map Hardhat=head_helmet --map NO-Hardhat=head_bare
    """
    from vigil.evaluate.dataset import load_class_map, load_set, parse_class_map
    from vigil.evaluate.images import evaluate_images, set_name
    from vigil.pipeline import load_detectors

    class_map = parse_class_map(map_ or [])
    if map_file:
        class_map = {**load_class_map(map_file), **class_map}
    if not class_map:
        raise DatasetError("give a class map: --map SetClass=label or --map-file FILE")
    labelled = load_set(folder, split)
    if part:
        labelled = labelled.part(part)
    cards = _cards(model or [], card or [], cards_dir or [])
    with err.status("loading models"):
        paths = _paths(load_detectors(cards), path, imgsz, person_model, crop_imgsz, tiles)
    operating = _thresholds(threshold or [])
    for p in paths:
        p.operating = operating
    with err.status(f"evaluating {len(labelled)} images") as status:
        report = evaluate_images(
            labelled,
            class_map,
            paths,
            limit,
            on_image=lambda n: status.update(f"evaluating: image {n}/{len(labelled)}"),
        )
    report.set = (
        f"{set_name(folder)}" + (f"/{split}" if split else "") + (f" part {part}" if part else "")
    )
    _report(report.as_dict(), as_json, out_file)
    if as_json:
        return
    table = Table(title=f"{report.set}: {report.n_images} images")
    for column in (
        "label",
        "model",
        "boxes",
        "AP50",
        "thr",
        "P",
        "R",
        "F1",
        "R@.3",
        "best thr",
        "P",
        "R",
        "F1",
    ):
        table.add_column(column, justify="left" if column in ("label", "model") else "right")
    for r in report.labels:
        a, b = r.at_threshold, r.at_best
        table.add_row(
            r.label,
            r.path,
            str(r.gt_boxes),
            _f(r.ap50),
            f"{r.threshold:.2f}",
            _f(a.precision),
            _f(a.recall),
            _f(a.f1),
            _f(r.recall_iou30),
            f"{r.best_threshold:.2f}",
            _f(b.precision),
            _f(b.recall),
            _f(b.f1),
        )
    out.print(table)
    out.print(
        "CPU ms per image (process time; 1 thread unless OMP_NUM_THREADS says more): "
        + ", ".join(f"{k} {v}" for k, v in report.ms_per_image.items())
    )
    if report.persons:
        out.print("per person (helmet status of labelled people): " + ", ".join(
            f"{k} {v}" for k, v in report.persons.items()
        ))  # fmt: skip


def _opt(x: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if x is None else fmt.format(x)


def _per_hour(s: RuleScore) -> str:
    """False alarms per hour with its 95 % interval, e.g. ``35 (0.9-195)``."""
    interval = s.false_alarms_per_hour_95
    if interval is None:
        return "—"
    low, high = interval
    return f"{s.false_alarms_per_hour:.0f} ({low:.2g}-{high:.0f})"


def _by_video_table(by_video: dict[str, dict[str, RuleScore]]) -> Table:
    """One row per clip and rule with an event, expected or raised."""
    table = Table(title="Per clip")
    for column in ("video", "rule", "GT events", "found", "raised", "false", "clean s"):
        table.add_column(column, justify="left" if column in ("video", "rule") else "right")
    for video, scores in sorted(by_video.items()):
        for rule, s in sorted(scores.items()):
            if s.gt_events or s.predicted:
                row = (s.gt_events, s.gt_matched, s.predicted, s.false_alarms)
                table.add_row(video, rule, *map(str, row), f"{s.negative_seconds:.0f}")
    return table


@eval_app.command("videos")
def videos(
    ground_truth: Annotated[
        Path, typer.Option("--gt", help="folder of ground-truth YAML files")
    ] = Path("datasets/ground_truth"),
    videos_dir: Annotated[Path, typer.Option("--videos", help="folder holding the videos")] = Path(
        "../shared/data/videos"
    ),
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (default: rule defaults)")
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="cache of per-frame boxes (re-runs skip the models)"),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", help="label=value overriding a card threshold (repeatable)"),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="seconds of slack when matching events")
    ] = 1.0,
    gating: Annotated[
        bool,
        typer.Option(
            "--gating/--no-gating",
            help="run each model only on the frames the config's gating picks, as `vigil run`",
        ),
    ] = False,
    per_video: Annotated[
        bool,
        typer.Option("--per-video", help="also a table per clip: which clip raised what"),
    ] = False,
    as_json: AsJson = False,
    out_file: Out = None,
) -> None:
    """Event precision/recall per rule against ground truth, and false alarms per hour.

    Example: vigil eval videos --gt datasets/ground_truth --videos ../shared/data/videos
    """
    from vigil.config import load_detect_site
    from vigil.evaluate.groundtruth import load_ground_truth_dir
    from vigil.evaluate.videos import evaluate_videos

    site = load_detect_site(config)
    overrides = _thresholds(threshold or [])
    truths = load_ground_truth_dir(ground_truth)
    with err.status("evaluating") as status:
        report = evaluate_videos(
            truths,
            videos_dir,
            site,
            cache_dir=cache,
            thresholds=overrides,
            tolerance=tolerance,
            on_video=lambda what: status.update(f"detecting: {what}"),
            gating=site.gating_of(site.camera).settings() if gating else None,
        )
    _report(report.as_dict(), as_json, out_file)
    if as_json:
        return
    table = Table(title=f"Events on {len(truths)} videos ({report.frames} analysed frames)")
    for column in (
        "rule",
        "GT events",
        "found",
        "recall",
        "raised",
        "true",
        "false",
        "ignored",
        "precision",
        "clean min",
        "false/h (95 %)",
        "delay s",
    ):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule, s in sorted(report.scores.items()):
        d = s.as_dict()
        table.add_row(
            rule,
            str(s.gt_events),
            str(s.gt_matched),
            _opt(s.recall),
            str(s.predicted),
            str(s.true_predictions),
            str(s.false_alarms),
            str(s.ignored),
            _opt(s.precision),
            f"{s.negative_seconds / 60:.1f}",
            _per_hour(s),
            _opt(d["median_delay_s"], "{:.1f}"),
        )
    out.print(table)
    if per_video:
        out.print(_by_video_table(report.by_video))
    for rule, why in report.skipped.items():
        out.print(f"not scored: {rule}: {why}")
    for model, row in sorted(report.gate.items()):
        out.print(
            f"gate {model}: {row['frames']:.0f} frames, full {row['full']:.0f}, regions "
            f"{row['regions']:.0f}, still {row['still']:.0f}, rate {row['rate']:.0f}"
            + (f", crops {row['crop_cpu_s']:.1f} CPU s" if row["regions"] else "")
        )
    if report.ms_per_frame:
        out.print(
            "CPU ms per frame (process time): "
            + ", ".join(f"{k} {v}" for k, v in report.ms_per_frame.items())
        )
