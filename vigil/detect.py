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

from vigil.config import EvidenceConfig, SiteConfig, camera_id_for, detect_site
from vigil.events.evidence import Evidence, cut_clip, media_paths, write_snapshot
from vigil.events.rules import build_rules
from vigil.events.store.records import EventRecord
from vigil.events.store.store import EventStore
from vigil.events.violation import Phase, Violation
from vigil.pipeline import CameraPipeline, camera_detectors, cards_for_rules, input_sizes
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

    ``site`` is a one-camera site (:func:`vigil.config.detect_site`): the camera's rules, zones
    and fps apply to the video, which is analysed as that camera.

    Example:
        >>> job = DetectJob(Path("fall_01.mp4"), detect_site())  # doctest: +SKIP
        >>> result = job.run(EventStore.for_data_dir(Path("data")), Path("data"))  # doctest: +SKIP
    """

    def __init__(self, path: Path, site: SiteConfig) -> None:
        self.path = path
        self.site = site
        camera = site.camera
        self.fps = camera.fps
        self.evidence = site.evidence_of(camera)
        self.source = FileSource(path, camera=camera.id)
        rules = build_rules(camera.rules)
        all_cards = site.models.cards()
        cards = cards_for_rules(rules, all_cards)
        detectors = camera_detectors(camera.id, cards, input_sizes(camera, all_cards))
        self.pipeline = CameraPipeline(camera.id, rules, detectors, fps=camera.fps)

    @property
    def video(self) -> VideoInfo:
        return self.source.info

    def run(
        self, store: EventStore, data_dir: Path, on_progress: Progress | None = None
    ) -> DetectResult:
        """Analyse every frame at the camera's fps and store the violations found."""
        began = time.monotonic()
        sampler = Sampler(self.fps)
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
        records = _store_with_evidence(
            ended, self.path, self.evidence, self.fps, store, data_dir, self.video
        )
        return DetectResult(self.video, records, analysed, time.monotonic() - began)


def detect_video(
    path: Path, site: SiteConfig | None, store: EventStore, data_dir: Path
) -> DetectResult:
    """Check ``path``, analyse it and store its violations (see :class:`DetectJob`);
    ``site`` None: the defaults, as camera ``path``'s stem."""
    if site is None:
        site = detect_site(default_id=camera_id_for(path.stem))
    return DetectJob(path, site).run(store, data_dir)


def _store_with_evidence(
    violations: list[Violation],
    path: Path,
    evidence_config: EvidenceConfig,
    fps: float,
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
            evidence.append(
                _write_evidence(v, path, evidence_config, fps, info, snapshot, clip_path)
            )
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
    v: Violation,
    path: Path,
    config: EvidenceConfig,
    fps: float,
    info: VideoInfo,
    snapshot: Path,
    clip: Path,
) -> Evidence:
    write_snapshot(v.peak_image, v, snapshot)
    start = max(0.0, v.start_pts - config.pre_seconds)
    end = min(info.duration, v.end_pts + config.post_seconds)
    # A violation seen on one analysed frame still gets a clip of at least one analysis step.
    end = max(end, min(info.duration, start + 1.0 / fps))
    cut = cut_clip(path, start, end, clip)
    return Evidence(snapshot, cut.path, cut.sha256, cut.start_pts, cut.end_pts)
