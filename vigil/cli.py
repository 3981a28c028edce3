"""The `vigil` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import av
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import ArgumentError, OperationalError

from vigil.config import ConfigError, load_config, load_site_config
from vigil.detector.cards import CardError, load_cards
from vigil.events.evidence import EvidenceError
from vigil.events.store.records import EventRecord
from vigil.streams.file import SourceError

app = typer.Typer(
    help="Vigil: safety violations from plant cameras and recorded video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

# Problems with what the user gave us: one line on stderr and exit 2, never a traceback.
USER_ERRORS = (ConfigError, CardError, SourceError, EvidenceError)
MAX_EVENTS_LISTED = 50  # past this, only the summary per rule


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@contextmanager
def user_errors(subject: Path | None = None) -> Iterator[None]:
    """Turn what a user's input can go wrong with into one line on stderr and exit 2."""
    try:
        yield
    except USER_ERRORS as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or subject}: {exc.strerror or exc}") from None
    except (ArgumentError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"database: {reason}") from None


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
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per event")] = False,
) -> None:
    """Run detection on a recorded video and store each violation with its evidence."""
    from vigil.detect import DetectJob
    from vigil.events.store.store import EventStore

    with user_errors(video):
        settings = load_config(config)
        with err.status("loading models"):
            job = DetectJob(video, settings)
        data_dir = data or settings.storage.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.storage.database_url
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


@app.command()
def models(
    card_dir: Annotated[
        list[Path] | None, typer.Option("--cards", help="extra folder of model cards")
    ] = None,
) -> None:
    """List the model cards, where their weights resolved and the labels they provide."""
    try:
        cards = load_cards(card_dir or [])
    except CardError as exc:
        raise fail(str(exc)) from None
    table = Table(title="Model cards")
    for column in ("name", "labels", "weights", "licence"):
        table.add_column(column, overflow="fold")
    problems = []
    for card in cards.values():
        try:
            weights = str(card.resolve_weights())
        except CardError as exc:
            weights = "[red]missing[/]"
            problems.append(str(exc))
        table.add_row(card.name, ", ".join(sorted(card.labels)), weights, card.licence)
    out.print(table)
    for problem in problems:
        err.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


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
    detect(video, config=sample_config_path(), data=data, as_json=False)


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
    import logging
    import os
    import signal
    import threading

    from vigil.run import SiteRunner

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with user_errors(config):
        site = load_site_config(config)
        with err.status("loading models"):
            runner = SiteRunner(site, data_dir=data)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second signal: the operator will not wait for the clips
            os._exit(128 + signum)
        err.print(f"{signal.Signals(signum).name}: stopping (again to force)")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    from vigil.service_cli import serve_beside

    api = serve_beside(site, runner.data_dir, config) if serve else None
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
    """Show each camera's health as its worker (`vigil run`) last stored it."""
    from vigil.status import health_json, health_table, read_health

    with user_errors(config):
        storage = load_site_config(config).storage if config else None
        url = storage.database_url if storage else None
        data_dir = data or (storage.data_dir if storage else Path("vigil-data"))
        rows = read_health(url or f"sqlite:///{data_dir.resolve() / 'vigil.db'}")
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(health_json(row)) + "\n")
        return
    if not rows:
        out.print("no camera health stored yet")
        return
    # Outside a terminal (logs, watch, CI) do not squeeze the table into 80 columns.
    (out if sys.stdout.isatty() else Console(width=160)).print(health_table(rows))


def _mount_eval() -> None:
    from vigil.evaluate.cli import eval_app

    app.add_typer(eval_app, name="eval")


_mount_eval()


def _mount_service() -> None:
    from vigil.service_cli import mount

    mount(app)


_mount_service()


def main() -> None:
    av.logging.set_level(av.logging.PANIC)
    app()


if __name__ == "__main__":
    main()
