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


class DetectJob:
    """A video checked and its models loaded, ready to run: every check on the user's input
    (config, cards, the file itself) happens here, before anything is written.

    Example:
        >>> job = DetectJob(Path("fall_01.mp4"), VigilConfig())  # doctest: +SKIP
        >>> store = EventStore.for_data_dir(Path("vigil-data"))  # doctest: +SKIP
        >>> result = job.run(store, Path("vigil-data"))  # doctest: +SKIP
    """

    def __init__(self, path: Path, config: VigilConfig) -> None:
        self.path = path
        self.config = config
        self.source = FileSource(path, camera=config.camera)
        rules = build_rules(config.rules)
        cards = cards_for_rules(rules, config.models.cards())
        detectors = load_detectors(cards)
        self.pipeline = CameraPipeline(self.source.camera, rules, detectors, fps=config.fps)

    @property
    def video(self) -> VideoInfo:
        return self.source.info

    def run(
        self, store: EventStore, data_dir: Path, on_progress: Progress | None = None
    ) -> DetectResult:
        """Analyse every frame at ``config.fps`` and store the violations found."""
        began = time.monotonic()
        sampler = Sampler(self.config.fps)
        ended: list[Violation] = []
        analysed = 0
        last = None
        for frame in self.source:
            last = frame
            if not sampler.take(frame.pts):
                continue
            analysed += 1
            analysis = self.pipeline.analyse(frame)
            ended += [e.violation for e in analysis.events if e.phase is Phase.ENDED]
            if on_progress:
                on_progress(frame.pts)
        ended += [e.violation for e in self.pipeline.finish(last.pts, last.wall)]
        ended.sort(key=lambda v: v.start_pts)
        records = _store_with_evidence(ended, self.path, self.config, store, data_dir, self.video)
        return DetectResult(self.video, records, analysed, time.monotonic() - began)


def detect_video(
    path: Path, config: VigilConfig, store: EventStore, data_dir: Path
) -> DetectResult:
    """Check ``path``, analyse it and store its violations (see :class:`DetectJob`)."""
    return DetectJob(path, config).run(store, data_dir)


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
