"""`vigil detect`: one recorded video in, violation events with evidence out.

The whole file is analysed first; then every violation gets its snapshot and clip, and all events
are written in one transaction. A file that turns out truncated or corrupt halfway therefore
leaves nothing behind: no event rows, no media.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.config import VigilConfig
from vigil.detector.cards import load_cards
from vigil.events.evidence import Evidence, cut_clip, media_paths, write_snapshot
from vigil.events.rules import build_rules
from vigil.events.store.records import EventRecord
from vigil.events.store.store import EventStore
from vigil.events.violation import Phase, Violation
from vigil.pipeline import CameraPipeline, cards_for_rules, load_detectors
from vigil.streams.file import FileSource, Sampler, VideoInfo

Progress = Callable[[float], None]  # called with the pts reached, in seconds


@dataclass(frozen=True, slots=True)
class DetectResult:
    video: VideoInfo
    events: list[EventRecord]
    frames_analysed: int
    seconds: float  # wall-clock time the analysis and evidence took


def detect_video(
    path: Path,
    config: VigilConfig,
    store: EventStore,
    data_dir: Path,
    on_progress: Progress | None = None,
    on_start: Progress | None = None,
) -> DetectResult:
    """Analyse every frame of ``path`` at ``config.fps`` and store the violations found."""
    began = time.monotonic()
    source = FileSource(path, camera=config.camera)
    rules = build_rules(config.rules)
    detectors = load_detectors(cards_for_rules(rules, load_cards(config.models.card_dirs)))
    pipeline = CameraPipeline(source.camera, rules, detectors, fps=config.fps)
    sampler = Sampler(config.fps)
    if on_start:
        on_start(source.info.duration)

    ended: list[Violation] = []
    analysed = 0
    last = None
    for frame in source:
        last = frame
        if not sampler.take(frame.pts):
            continue
        analysed += 1
        analysis = pipeline.analyse(frame)
        ended += [e.violation for e in analysis.events if e.phase is Phase.ENDED]
        if on_progress:
            on_progress(frame.pts)
    ended += [e.violation for e in pipeline.finish(last.pts, last.wall)]
    if on_progress:
        on_progress(source.info.duration)

    records = _store_with_evidence(sorted(ended, key=lambda v: v.start_pts), path, config,
                                   store, data_dir, source.info)
    return DetectResult(source.info, records, analysed, time.monotonic() - began)


def _store_with_evidence(
    violations: list[Violation],
    path: Path,
    config: VigilConfig,
    store: EventStore,
    data_dir: Path,
    info: VideoInfo,
) -> list[EventRecord]:
    written: list[Path] = []
    try:
        evidence = []
        for v in violations:
            snapshot, clip_path = media_paths(data_dir, v)
            written += [snapshot, clip_path]
            evidence.append(_write_evidence(v, path, config, info, snapshot, clip_path))
        with store.unit_of_work() as writer:
            for v, ev in zip(violations, evidence, strict=True):
                writer.opened(v, source=str(path.resolve()))
                writer.ended(v, ev)
    except BaseException:
        for media in written:
            media.unlink(missing_ok=True)
        raise
    return [store.get_event(v.id) for v in violations]


def _write_evidence(
    v: Violation, path: Path, config: VigilConfig, info: VideoInfo, snapshot: Path, clip: Path
) -> Evidence:
    write_snapshot(v.peak_image, v, snapshot)
    start = max(0.0, v.start_pts - config.evidence.pre_seconds)
    end = min(info.duration, v.end_pts + config.evidence.post_seconds)
    # A violation seen on one analysed frame still gets a clip of at least one analysis step.
    end = max(end, min(info.duration, start + 1.0 / config.fps))
    cut = cut_clip(path, start, end, clip)
    return Evidence(snapshot, cut.path, cut.sha256, cut.start_pts, cut.end_pts)
