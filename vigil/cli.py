"""The `vigil` command line.

Every command's bad input is a :class:`vigil.VigilError` (or an OS or database error), turned
into one line on stderr and the error's exit status in one place, :class:`VigilGroup`; logging
is configured for every command by the global options (``--log-level``, ``--version``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import av
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import ArgumentError, OperationalError
from typer.core import TyperGroup

from vigil import VigilError, __version__
from vigil.config import camera_id_for, load_detect_site, load_site_config
from vigil.events.store.records import EventRecord

out = Console()
err = Console(stderr=True)
MAX_EVENTS_LISTED = 50  # past this, only the summary per rule


def print_error(message: str) -> None:
    """One line on stderr: ``error: <message>`` (the message is printed as is, not as markup)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def as_user_error(exc: Exception) -> VigilError | None:
    """The error to show for ``exc`` if it is the user's to fix, else None (a bug: traceback).

    Besides :class:`VigilError`, a file the system refuses and a database that cannot be
    reached or named are the user's to fix.
    """
    if isinstance(exc, VigilError):
        return exc
    if isinstance(exc, BrokenPipeError):  # `vigil … | head`: the reader left, nothing to say
        return None
    if isinstance(exc, OSError):
        return VigilError(f"{exc.filename or 'file'}: {exc.strerror or exc}")
    if isinstance(exc, ArgumentError | OperationalError):
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return VigilError(f"database: {reason}")
    return None


class VigilGroup(TyperGroup):
    """The `vigil` command group: every subcommand runs inside :meth:`invoke`, so user errors
    are reported here once, whether `vigil` runs from a shell or from a test's CliRunner."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = as_user_error(exc)
            if error is None:
                raise
            print_error(str(error))
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=VigilGroup,
    help="Vigil: safety violations from plant cameras and recorded video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def configure_logging(level: LogLevel) -> None:
    """Log lines to stderr at ``level`` (stdout stays for results such as --json)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Migrations say what they run at INFO: only worth seeing when debugging.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def _show_version(value: bool) -> None:
    if value:
        out.print(f"vigil {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def global_options(
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="log lines on stderr from this level on")
    ] = LogLevel.info,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Vigil: safety violations from plant cameras and recorded video."""
    configure_logging(log_level)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def event_json(record: EventRecord) -> dict[str, Any]:
    """The documented JSON shape of one event (`vigil detect --json`)."""
    return {
        "id": record.id,
        "rule": record.rule,
        "camera": record.camera,
        "label": record.label,
        "start_pts": round(record.start_pts, 3),
        "end_pts": round(record.end_pts, 3),
        "start_time": _iso(record.start_wall),
        "end_time": _iso(record.end_wall),
        "peak_confidence": round(record.peak_confidence, 4),
        "bbox": [round(v, 1) for v in record.bbox],
        "track_id": record.track_id,
        "severity": record.severity,
        "snapshot": str(record.snapshot_path),
        "clip": str(record.clip_path),
        "clip_sha256": record.clip_sha256,
    }


def events_table(events: list[EventRecord]) -> Table:
    table = Table(title="Events")
    for column in ("start", "end", "rule", "label", "peak", "track", "clip (in media/)"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(
            f"{e.start_pts:.1f} s",
            f"{e.end_pts:.1f} s",
            e.rule,
            e.label,
            f"{e.peak_confidence:.2f}",
            "" if e.track_id is None else str(e.track_id),
            e.clip_path.name if e.clip_path else "",
        )
    return table


def summary_table(events: list[EventRecord]) -> Table:
    table = Table(title="Violations")
    for column in ("rule", "count", "first", "last"):
        table.add_column(column, justify="right" if column != "rule" else "left")
    by_rule: dict[str, list[EventRecord]] = {}
    for event in events:
        by_rule.setdefault(event.rule, []).append(event)
    for rule, group in sorted(by_rule.items()):
        first = min(e.start_pts for e in group)
        last = max(e.start_pts for e in group)
        table.add_row(rule, str(len(group)), f"{first:.1f} s", f"{last:.1f} s")
    return table


@app.command()
def detect(
    video: Annotated[Path, typer.Argument(help="a video file (mp4, mkv, avi, ...)")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config: short form or a site")
    ] = None,
    camera: Annotated[
        str | None, typer.Option("--camera", help="the site camera whose rules and zones apply")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per event")] = False,
) -> None:
    """Run detection on a recorded video and store each violation with its evidence."""
    from vigil.detect import DetectJob
    from vigil.events.store.store import EventStore

    site = load_detect_site(config, camera=camera, default_id=camera_id_for(video.stem))
    with err.status("loading models"):
        job = DetectJob(video, site)
    data_dir = data or site.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    url = site.storage.database_url
    store = EventStore(url) if url else EventStore.for_data_dir(data_dir)
    with store, _progress(video, job.video.duration) as (progress, task):
        result = job.run(store, data_dir, lambda pts: progress.update(task, completed=pts))

    if as_json:
        for record in result.events:
            sys.stdout.write(json.dumps(event_json(record)) + "\n")
        return
    if result.events and len(result.events) <= MAX_EVENTS_LISTED:
        out.print(events_table(result.events))
    out.print(summary_table(result.events))
    out.print(
        f"{len(result.events)} events from {result.frames_analysed} analysed frames of "
        f"{result.video.duration:.1f} s in {result.seconds:.1f} s; data in {data_dir}"
    )


@contextmanager
def _progress(video: Path, seconds: float) -> Iterator[tuple[Progress, TaskID]]:
    """A progress bar over the video's seconds, on stderr so stdout stays clean for --json."""
    progress = Progress(
        TextColumn(f"[bold]{video.name}"),
        BarColumn(),
        TextColumn("{task.completed:.1f} s"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with progress:
        yield progress, progress.add_task("detect", total=seconds)


models_app = typer.Typer(
    help="The model cards; `vigil models export NAME` exports one for OpenVINO.",
    invoke_without_command=True,
)
app.add_typer(models_app, name="models")

CardDirs = Annotated[list[Path] | None, typer.Option("--cards", help="extra folder of model cards")]


@models_app.callback()
def models(
    ctx: typer.Context,
    card_dir: CardDirs = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per card")] = False,
) -> None:
    """List the model cards: the labels each serves by default and so the rules it runs for,
    the cards it supersedes, where its weights resolved."""
    if ctx.invoked_subcommand:
        return
    from vigil.catalogue import card_rows, cards_table, unservable_rules
    from vigil.detector.cards import load_cards

    rows = card_rows(card_dir or [])
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row.as_dict()) + "\n")
    else:
        console = out if sys.stdout.isatty() else Console(width=160)
        console.print(cards_table(rows))
        for rule, labels in unservable_rules(load_cards(card_dir or [])).items():
            console.print(f"{rule}: no card provides {labels}; add a card for such a model")
    problems = [row.weights_error for row in rows if row.weights_error]
    for problem in problems:
        print_error(problem)
    if problems:
        raise typer.Exit(1)


@models_app.command("export")
def models_export(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="the cards to export (default: every card naming runtime openvino)",
            show_default=False,
        ),
    ] = None,
    int8: Annotated[
        bool,
        typer.Option(
            "--int8",
            help="quantise to INT8 with NNCF (needs calibration images); default: the card's "
            "precision for a card naming runtime openvino, else fp32",
        ),
    ] = False,
    imgsz: Annotated[
        int | None, typer.Option("--imgsz", min=32, max=4096, help="input size (card's)")
    ] = None,
    calib: Annotated[
        Path | None,
        typer.Option("--calib", help="--int8: folder of calibration images (default: card's)"),
    ] = None,
    data: Annotated[
        Path, typer.Option("--data", help="shared data folder the card's calibration is under")
    ] = Path("../shared/data"),
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="--int8: at most this many calibration images")
    ] = 300,
    force: Annotated[bool, typer.Option("--force", help="export again if cached")] = False,
    card_dir: CardDirs = None,
) -> None:
    """Export cards' weights for OpenVINO (offline, with PyTorch) into the export cache, keyed
    by the weights' hash; a card naming `runtime: openvino` then runs without PyTorch. Prints
    each export's folder."""
    from vigil.detector.cards import load_cards
    from vigil.detector.export import export_card, plan_exports

    for planned in plan_exports(load_cards(card_dir or []), names or [], int8, calib, data):
        card, precision = planned.card, planned.precision
        with err.status(f"exporting {card.name} ({precision})"):
            folder = export_card(card, precision, imgsz, planned.calibration, limit, force)
        out.print(str(folder), highlight=False, soft_wrap=True)


@app.command()
def demo(
    data: Annotated[Path, typer.Option("--data", help="data folder (db + media)")] = Path(
        "vigil-data"
    ),
) -> None:
    """Make a sample video from photos that ultralytics ships, and run detect on it."""
    from vigil.demo import make_sample_video, sample_config_path

    video = make_sample_video(data / "demo" / "sample.mp4")
    err.print(f"sample video: {video}; config: {sample_config_path()}")
    detect(video, config=sample_config_path(), camera=None, data=data, as_json=False)


@app.command()
def bench(
    videos: Annotated[
        Path, typer.Option("--videos", help="folder of H.264 MP4 videos to loop as cameras")
    ] = Path("../shared/data/videos"),
    cameras: Annotated[int, typer.Option("--cameras", help="cameras to serve over RTSP")] = 4,
    fps: Annotated[
        float, typer.Option("--fps", help="analysed frames per second per camera")
    ] = 2.0,
    seconds: Annotated[float, typer.Option("--seconds", help="seconds measured")] = 60.0,
    warmup: Annotated[
        float, typer.Option("--warmup", help="seconds run before measuring (connect, settle)")
    ] = 10.0,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="'naive': also run the naive stack and compare"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="site YAML whose rules, models and gating apply"),
    ] = None,
    threads: Annotated[
        int, typer.Option("--threads", help="threads per model inference (PyTorch or OpenVINO)")
    ] = 1,
    ground_truth: Annotated[
        Path, typer.Option("--gt", help="ground truth for the recall of --baseline naive")
    ] = Path("datasets/ground_truth"),
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    substream: Annotated[
        str | None,
        typer.Option(
            "--substream",
            help="WxH: also serve each video scaled to fit WxH and detect on it (detect_source)",
        ),
    ] = None,
) -> None:
    """Measure a `vigil run` worker on N looped videos served over RTSP (see vigil/bench.py).

    Example: vigil bench --cameras 4 --fps 2 --seconds 60 --baseline naive
    """
    from vigil.bench import BenchError, BenchPlan, format_report, pick_videos, run_bench
    from vigil.streams.rtsp_loop import parse_size

    if baseline not in (None, "naive"):
        raise BenchError(f"--baseline {baseline!r}: the only baseline is 'naive'")
    if config is not None:
        load_site_config(config)  # checked before anything starts
    size = None
    if substream is not None:
        try:
            size = parse_size(substream)
        except ValueError as exc:
            raise BenchError(f"--substream {exc}") from None
    plan = BenchPlan(
        cameras=cameras,
        fps=fps,
        seconds=seconds,
        warmup=warmup,
        videos=pick_videos(videos, cameras),
        threads=threads,
        config=config,
        substream=size,
    )
    gt = ground_truth if ground_truth.is_dir() else None
    if baseline and gt is None:
        err.print(f"{ground_truth}: no ground truth there; recall not measured")
    report = run_bench(plan, baseline, gt)
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_report(report) + "\n")


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="site YAML: cameras, rules")],
    data: Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")] = None,
    duration: Annotated[
        float | None, typer.Option("--for", help="stop after this many seconds")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve", help="serve the API too (site's api:)")] = False,
) -> None:
    """Watch every camera of a site until SIGINT/SIGTERM, storing events with evidence."""
    import threading

    from vigil.run import SiteRunner
    from vigil.service_cli import serve_beside
    from vigil.stopping import StopOnSignals

    site = load_site_config(config)
    stop = threading.Event()
    with StopOnSignals(stop, on_first=lambda name: err.print(f"{name}: stopping (again to force)")):
        with err.status("loading models"):
            runner = SiteRunner(site, data_dir=data)
        if stop.is_set():  # told to stop while the models loaded: nothing was started
            return
        api = serve_beside(site, runner.data_dir) if serve else None
        summary = runner.run(stop, duration)
        if api is not None:
            api.stop()
    analysed = sum(summary.frames_analysed.values())
    err.print(
        f"stopped after {summary.seconds:.0f} s: {analysed} frames analysed on "
        f"{len(summary.frames_analysed)} cameras, {summary.events_written} events stored"
    )


@app.command()
def status(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="site YAML")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per camera")] = False,
) -> None:
    """Show each camera's health as its worker (`vigil run`) last stored it, and which worker
    holds it."""
    from vigil.status import (
        drops_line,
        health_json,
        health_table,
        read_drops,
        read_status,
        workers_table,
    )

    storage = load_site_config(config).storage if config else None
    url = storage.database_url if storage else None
    data_dir = data or (storage.data_dir if storage else Path("vigil-data"))
    url = url or f"sqlite:///{data_dir.resolve() / 'vigil.db'}"
    site = read_status(url)
    if as_json:
        for row in site.health:
            sys.stdout.write(json.dumps(health_json(row, lease=site.leases.get(row.camera))) + "\n")
        return
    if not site.health:
        out.print("no camera health stored yet")
        return
    # Outside a terminal (logs, watch, CI) do not squeeze the table into 80 columns.
    console = out if sys.stdout.isatty() else Console(width=160)
    console.print(health_table(site.health, leases=site.leases))
    if site.workers:
        console.print(workers_table(site.workers, site.leases))
    drops = read_drops(url)
    if drops is not None:
        console.print(drops_line(drops))


def _mount_eval() -> None:
    from vigil.evaluate.cli import eval_app

    app.add_typer(eval_app, name="eval")


_mount_eval()


def _mount_recording() -> None:
    from vigil.recording_cli import register

    register(app)


_mount_recording()


def _mount_service() -> None:
    from vigil.service_cli import mount

    mount(app)


_mount_service()


def main() -> None:
    av.logging.set_level(av.logging.PANIC)
    try:
        app()
    except BrokenPipeError:  # stdout closed early (`vigil models --json | head -1`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
