"""`vigil recordings`, `vigil export`, `vigil search`: continuous recordings from the shell.

Mounted into :mod:`vigil.cli` by :func:`register`. Times are ISO 8601 (UTC when no zone is
written), epoch seconds, ``now`` or ``today``; bad input is one line and exit status 2.

Example::

    vigil recordings gate-3 --start 2026-11-29T14:00Z --end 2026-11-29T15:00Z
    vigil export gate-3 2026-11-29T14:05Z 2026-11-29T14:15Z -o near-miss.mp4
    vigil search --camera gate-3 --label person --zone tank-farm --start today --end now
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil import VigilError
from vigil.config import load_site_config
from vigil.events.objectstore import ObjectStore
from vigil.events.replay import export_range, parse_time, read_uploaded_from, recorded_spans
from vigil.events.seen import search_seen
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.store import EventStore

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="site YAML")]
DataOption = Annotated[Path | None, typer.Option("--data", help="data folder (db + media)")]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout")]


def _open(config: Path | None, data: Path | None) -> tuple[RecordingIndex, Path]:
    """The recording index and data folder of a site (``--config``) or a data folder."""
    storage = load_site_config(config).storage if config else None
    data_dir = data or (storage.data_dir if storage else Path("vigil-data"))
    url = storage.database_url if storage else None
    if url is None and not (data_dir / "vigil.db").exists():
        raise VigilError(f"no store in {data_dir} (no vigil.db): give --data or --config")
    store = EventStore(url) if url else EventStore.for_data_dir(data_dir)
    settings = storage.object_store() if storage else None
    if settings is not None:  # uploaded segments are read from the object store
        read_uploaded_from(data_dir, ObjectStore(settings))
    return RecordingIndex(store), data_dir


def _range(start: str | None, end: str | None) -> tuple[float, float]:
    first = parse_time(start) if start is not None else -math.inf
    last = parse_time(end) if end is not None else math.inf
    if not last > first:
        raise VigilError(f"bad range: --end ({end}) is not after --start ({start})")
    return first, last


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def recordings(
    camera: Annotated[str, typer.Argument(help="camera id")],
    start: Annotated[str | None, typer.Option(help="from (ISO 8601, epoch, today)")] = None,
    end: Annotated[str | None, typer.Option(help="until (ISO 8601, epoch, now)")] = None,
    config: ConfigOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a camera's recorded segments and the spans they cover."""
    first, last = _range(start, end)
    index, _ = _open(config, data)
    segments = index.segments(
        camera, None if math.isinf(first) else first, None if math.isinf(last) else last
    )
    spans = recorded_spans(segments)
    if as_json:
        document = {
            "camera": camera,
            "spans": [{"start": _iso(s.start), "end": _iso(s.end)} for s in spans],
            "segments": [
                {
                    "id": s.id,
                    "start": _iso(s.start_wall),
                    "end": _iso(s.end_wall),
                    "path": s.path,
                    "bytes": s.bytes,
                    "keyframes": len(s.keyframes),
                }
                for s in segments
            ],
        }
        sys.stdout.write(json.dumps(document) + "\n")
        return
    if not segments:
        out.print(f"no recording of camera {camera} in that range")
        return
    table = Table(title=f"Recorded spans of {camera}")
    for column in ("start", "end", "seconds"):
        table.add_column(column)
    for s in spans:
        table.add_row(_iso(s.start), _iso(s.end), f"{s.end - s.start:.1f}")
    out.print(table)
    out.print(f"{len(segments)} segments, {sum(s.bytes for s in segments) / 1e6:.1f} MB")


def export(
    camera: Annotated[str, typer.Argument(help="camera id")],
    start: Annotated[str, typer.Argument(help="from (ISO 8601 or epoch seconds)")],
    end: Annotated[str, typer.Argument(help="until (ISO 8601 or epoch seconds)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the MP4 to write")],
    exact: Annotated[
        bool, typer.Option("--exact", help="re-encode to cut exactly at START and END")
    ] = False,
    config: ConfigOption = None,
    data: DataOption = None,
) -> None:
    """Export a camera's recording of a range as one MP4 (cut at keyframes, no re-encode)."""
    first, last = parse_time(start), parse_time(end)
    if output.suffix.lower() != ".mp4":
        raise VigilError(f"output {output}: must end in .mp4")
    if not output.parent.is_dir():
        raise VigilError(f"output {output}: folder {output.parent} does not exist")
    index, data_dir = _open(config, data)
    result = export_range(index, data_dir, camera, first, last, output, exact=exact)
    err.print(
        f"{output}: {_iso(result.start_wall)} to {_iso(result.end_wall)} "
        f"({result.duration:.1f} s, {result.frames} frames from {result.segments} segments)"
        + (f"; {result.note}" if result.note else ""),
        highlight=False,
    )


def search(
    camera: Annotated[str, typer.Option("--camera", help="camera id")],
    label: Annotated[str, typer.Option("--label", help="what the models saw, e.g. person")],
    zone: Annotated[str | None, typer.Option("--zone", help="only inside this zone")] = None,
    start: Annotated[str, typer.Option(help="from (ISO 8601, epoch, today)")] = "today",
    end: Annotated[str, typer.Option(help="until (ISO 8601, epoch, now)")] = "now",
    min_confidence: Annotated[float, typer.Option(help="at least this confidence")] = 0.0,
    config: ConfigOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """When did the models see LABEL (in ZONE) on a camera: spans of time to replay."""
    first, last = _range(start, end)
    index, _ = _open(config, data)
    spans = search_seen(index, camera, label, first, last, zone=zone, min_confidence=min_confidence)
    if as_json:
        for s in spans:
            row = {
                "camera": camera,
                "label": label,
                "zone": zone,
                "start": _iso(s.start),
                "end": _iso(s.end),
                "start_epoch": round(s.start, 3),
                "end_epoch": round(s.end, 3),
                "frames": s.frames,
                "best_confidence": s.best_confidence,
            }
            sys.stdout.write(json.dumps(row) + "\n")
        return
    if not spans:
        out.print(f"no frame of {camera} showed {label}" + (f" in {zone}" if zone else ""))
        return
    table = Table(title=f"{label} on {camera}" + (f" in {zone}" if zone else ""))
    for column in ("start", "end", "frames", "best"):
        table.add_column(column)
    for s in spans:
        table.add_row(_iso(s.start), _iso(s.end), str(s.frames), f"{s.best_confidence:.2f}")
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the recording commands to the `vigil` app."""
    app.command()(recordings)
    app.command()(export)
    app.command()(search)
