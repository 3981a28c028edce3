"""`vigil eval videos`: event-level accuracy of the whole pipeline (models + rules) on videos.

Two stages, so rule parameters and thresholds can be calibrated without re-running models:

1. :func:`detect_frames` runs each model card on the frames the sampler picks (``fps``), keeping
   every box above a low floor (``CACHE_CONF``), and caches them per (video, card, fps, imgsz).
2. :func:`replay` feeds those frames through the real :class:`~vigil.pipeline.CameraPipeline`
   (tracking, rules, violation lifecycle) with :class:`CachedDetector` in place of the models,
   which applies the card's per-label thresholds (or overrides) to the cached boxes.

Example:
    >>> truths = load_ground_truth_dir(Path("datasets/ground_truth"))  # doctest: +SKIP
    >>> videos = Path("../shared/data/videos")
    >>> report = evaluate_videos(truths, videos, detect_site())  # doctest: +SKIP
    >>> report.scores["fall"].recall  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from vigil.config import ConfigError, SiteConfig
from vigil.detector.cards import ModelCard
from vigil.detector.detector import Detector, empty_detections
from vigil.evaluate.groundtruth import GroundTruth, Predicted, RuleScore, score
from vigil.evaluate.images import FullFrame
from vigil.events.rules import RulesConfig, build_rules
from vigil.gating import GatingSettings
from vigil.pipeline import (
    CameraPipeline,
    camera_detectors,
    cards_for_rules,
    input_sizes,
    load_detectors,
)
from vigil.streams.file import FileSource, Sampler
from vigil.streams.frame import Frame

CACHE_CONF = 0.05  # boxes kept in the cache; thresholds under this cannot be replayed
CACHE_VERSION = 1


@dataclass(slots=True)
class FrameBoxes:
    """One analysed frame's raw boxes from one model (labels canonical, no thresholds)."""

    pts: float
    wall: float
    shape: tuple[int, int]
    xyxy: np.ndarray
    confidence: np.ndarray
    label: np.ndarray

    def detections(self) -> sv.Detections:
        if len(self.xyxy) == 0:
            return empty_detections()
        d = sv.Detections(
            xyxy=self.xyxy.astype(float),
            confidence=self.confidence.astype(float),
            class_id=np.zeros(len(self.xyxy), dtype=int),
        )
        d.data["label"] = self.label.astype(object)
        return d


def _cache_key(video: Path, card: ModelCard, fps: float, imgsz: int) -> str:
    # The card's contents and weight file, not its name: a variant card is another cache.
    stamp = f"{video.resolve()}|{video.stat().st_size}|{card.fingerprint()}|{fps}|{imgsz}"
    stamp += f"|{CACHE_VERSION}"
    return hashlib.sha1(stamp.encode()).hexdigest()[:16]


def _cache_file(
    video: Path, card: ModelCard, fps: float, imgsz: int, cache_dir: Path | None
) -> Path | None:
    if cache_dir is None:
        return None
    key = _cache_key(video, card, fps, imgsz)
    return Path(cache_dir) / f"{video.stem}.{card.name}.{key}.pkl"


def detect_frames(
    video: Path,
    detector: Detector,
    fps: float,
    cache_dir: Path | None = None,
    imgsz: int | None = None,
) -> list[FrameBoxes]:
    """The model's boxes (conf >= CACHE_CONF) on each frame the sampler takes at ``fps``."""
    imgsz = imgsz or detector.card.imgsz
    cache = _cache_file(video, detector.card, fps, imgsz, cache_dir)
    if cache is not None and cache.is_file():
        return pickle.loads(cache.read_bytes())
    path = FullFrame(detector, imgsz, conf=CACHE_CONF)
    sampler = Sampler(fps)
    frames = []
    for frame in FileSource(video):
        if not sampler.take(frame.pts):
            continue
        det = path(frame.image)
        frames.append(
            FrameBoxes(
                frame.pts,
                frame.wall,
                frame.shape,
                det.xyxy.astype(np.float32),
                det.confidence.astype(np.float32),
                np.asarray(det.data["label"], dtype=object),
            )
        )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(frames))
    return frames


class CachedDetector:
    """Stands in for a :class:`Detector` in the pipeline: the current frame's cached boxes,
    through the card's per-label thresholds (``thresholds`` overrides some labels)."""

    def __init__(
        self,
        card: ModelCard,
        thresholds: dict[str, float] | None = None,
        live: Detector | None = None,
    ) -> None:
        self.card = card
        self.name = card.name
        self.thresholds = thresholds or {}
        self.current: FrameBoxes | None = None
        self.live = live  # the real model, for crops (motion regions): nothing cached there
        self.crop_seconds = 0.0  # process CPU of the crops the live model ran on
        self.crop_pixels = 0  # their model input pixels

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.card.threshold(label))

    def __call__(self, image: np.ndarray) -> sv.Detections:
        if self.current is None:
            return empty_detections()
        return self._thresholded(self.current.detections())

    def at_size(self, image: np.ndarray, imgsz: int) -> sv.Detections:
        """The live model on a crop (cache floor, then this card's thresholds)."""
        if self.live is None:
            raise ConfigError(f"{self.name}: no model loaded to run on motion regions")
        began = time.process_time()
        found = FullFrame(self.live, imgsz, conf=CACHE_CONF)(image)
        self.crop_seconds += time.process_time() - began
        self.crop_pixels += imgsz * imgsz
        return self._thresholded(found)

    def _thresholded(self, det: sv.Detections) -> sv.Detections:
        if len(det) == 0:
            return empty_detections()
        limits = np.array([self.threshold(str(lb)) for lb in det.data["label"]])
        kept = det[det.confidence >= limits]
        kept.data["model"] = np.full(len(kept), self.name, dtype=object)
        return kept

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return [self(image) for image in images]


def replay(
    frames: dict[str, list[FrameBoxes]],
    cards: list[ModelCard],
    rules: RulesConfig,
    fps: float,
    thresholds: dict[str, float] | None = None,
    images: list[np.ndarray] | None = None,
    gating: GatingSettings | None = None,
    live: dict[str, Detector] | None = None,
    gate_stats: dict[str, dict[str, float]] | None = None,
) -> list[Predicted]:
    """Run the pipeline (trackers, rules, lifecycle) over cached boxes; the violations raised.

    ``frames`` maps card name to that card's frames of one video (same sampling for all);
    ``images`` are those frames' pixels (needed by the smoke/fire motion filter and by motion
    gating), if kept. With ``gating``, a model's cached boxes are used only on the frames the
    gate runs it on (:mod:`vigil.gating`), as `vigil run` would; on the frames it runs a model
    on motion regions only (``gating.crop``), the ``live`` model runs on the crops. Per model,
    ``gate_stats`` adds up the frames run in full, on regions, skipped, and the crops' CPU.
    """
    rule_objs = build_rules(rules)
    if not rule_objs:
        return []
    needed = {c.name for c in cards_for_rules(rule_objs, {c.name: c for c in cards})}
    live = live or {}
    stand_ins = [CachedDetector(c, thresholds, live.get(c.name)) for c in cards if c.name in needed]
    pipeline = CameraPipeline("eval", rule_objs, stand_ins, fps=fps, gating=gating)
    timeline = frames[stand_ins[0].name]
    ended = []
    for i, step in enumerate(timeline):
        for d in stand_ins:
            d.current = frames[d.name][i]
        # Without pixels, a zero-depth image gives the pipeline the frame's shape only.
        image = images[i] if images is not None else np.zeros((*step.shape, 0), np.uint8)
        analysis = pipeline.analyse(Frame(image, step.pts, step.wall, "eval", i))
        ended += [e.violation for e in analysis.events if e.phase.value == "ended"]
    if timeline:
        ended += [e.violation for e in pipeline.finish(timeline[-1].pts, timeline[-1].wall)]
    if gate_stats is not None:
        _add_gate_stats(gate_stats, pipeline, stand_ins, len(timeline))
    return [
        Predicted(v.rule, v.start_pts, v.end_pts, v.zone, v.peak_confidence)
        for v in sorted(ended, key=lambda v: v.start_pts)
    ]


def _add_gate_stats(
    stats: dict[str, dict[str, float]],
    pipeline: CameraPipeline,
    stand_ins: list[CachedDetector],
    frames: int,
) -> None:
    gate = pipeline.gate
    for d in stand_ins:
        row = stats.setdefault(d.name, dict.fromkeys(_GATE_KEYS, 0.0))
        skipped = {why: gate.skipped[d.name, why] for why in ("still", "rate")} if gate else {}
        cropped = gate.cropped[d.name] if gate else 0
        row["frames"] += frames
        row["still"] += skipped.get("still", 0)
        row["rate"] += skipped.get("rate", 0)
        row["regions"] += cropped
        row["full"] += frames - cropped - sum(skipped.values())
        row["crop_cpu_s"] = round(row["crop_cpu_s"] + d.crop_seconds, 3)
        row["crop_input_px"] += d.crop_pixels


_GATE_KEYS = ("frames", "full", "regions", "still", "rate", "crop_cpu_s", "crop_input_px")


def rules_for(base: RulesConfig, gt: GroundTruth, provided: frozenset[str]) -> RulesConfig:
    """The rules to run on ``gt``'s clip: the base config's, merged with the clip's settings,
    limited to the rules it scores (and that some model can serve)."""
    raw = base.model_dump(exclude_none=True)
    for rule, extra in gt.config.items():
        raw[rule] = {**raw.get(rule, {}), **extra}
    raw = {k: v for k, v in raw.items() if k in gt.rules}
    cfg = RulesConfig.model_validate(raw)
    for name in list(cfg.enabled()):
        rule = build_rules(RulesConfig.model_validate({name: raw[name]}))[0]
        if not all(group & provided for group in rule.requires):
            setattr(cfg, name, None)
    return cfg


@dataclass(slots=True)
class VideosReport:
    scores: dict[str, RuleScore]
    predictions: dict[str, list[Predicted]]
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> why it was not scored
    ms_per_frame: dict[str, float] = field(default_factory=dict)
    frames: int = 0  # analysed frames, all clips
    gate: dict[str, dict[str, float]] = field(default_factory=dict)  # per model, with gating
    by_video: dict[str, dict[str, RuleScore]] = field(default_factory=dict)  # each clip alone

    def as_dict(self) -> dict:
        return {
            "scores": {k: v.as_dict() for k, v in self.scores.items()},
            "by_video": {
                video: {rule: s.as_dict() for rule, s in rules.items()}
                for video, rules in self.by_video.items()
            },
            "predictions": {
                video: [_pred(p) for p in preds] for video, preds in self.predictions.items()
            },
            "skipped": self.skipped,
            "ms_per_frame": self.ms_per_frame,
            "frames": self.frames,
            "gate": self.gate,
        }


def _pred(p: Predicted) -> dict:
    return {
        "rule": p.rule,
        "start": round(p.start, 2),
        "end": round(p.end, 2),
        "zone": p.zone,
        "confidence": round(p.confidence, 3),
    }


def evaluate_videos(
    truths: list[GroundTruth],
    videos_dir: Path,
    config: SiteConfig,
    cache_dir: Path | None = None,
    thresholds: dict[str, float] | None = None,
    tolerance: float = 1.0,
    on_video: Callable[[str], None] | None = None,
    frames_cache: dict[tuple[str, str], list[FrameBoxes]] | None = None,
    gating: GatingSettings | None = None,
    cards: dict[str, ModelCard] | None = None,
) -> VideosReport:
    """Score the pipeline's events on every ground-truth clip (see module docstring), each
    analysed as the one camera of ``config`` (:func:`vigil.config.detect_site`); with
    ``gating``, models run only on the frames the gate picks (:mod:`vigil.gating`); ``cards``
    replace the site's model cards."""

    all_cards = cards if cards is not None else config.models.cards()
    sizes = input_sizes(config.camera, all_cards)
    provided = frozenset().union(*(c.labels for c in all_cards.values()))
    base = config.camera.rules
    fps = config.camera.fps
    predictions: dict[str, list[Predicted]] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}
    n_frames: dict[str, int] = {}
    scored: set[str] = set()
    per_video: dict[str, int] = {}  # analysed frames per clip
    gate_stats: dict[str, dict[str, float]] = {}
    for gt in truths:
        video = Path(videos_dir) / gt.video
        if not video.is_file():
            raise ConfigError(f"{video}: video of ground truth {gt.video!r} not found")
        rules = rules_for(base, gt, provided)
        for name in gt.rules:
            if name not in rules.enabled():
                skipped.setdefault(name, _why_skipped(name, base, gt))
        enabled = rules.enabled()
        scored |= set(enabled)
        if not enabled:
            predictions[gt.video] = []
            continue
        cards = cards_for_rules(build_rules(rules), all_cards)
        frames: dict[str, list[FrameBoxes]] = {}
        for card in cards:
            size = sizes.get(card.name, card.imgsz)
            key = (gt.video, f"{card.name}@{size}")
            if frames_cache is not None and key in frames_cache:
                frames[card.name] = frames_cache[key]
                continue
            if on_video:
                on_video(f"{gt.video}: {card.name}")
            (detector,) = load_detectors([card])
            cache = _cache_file(video, card, fps, size, cache_dir)
            hit = cache is not None and cache.is_file()
            began = time.process_time()
            frames[card.name] = detect_frames(video, detector, fps, cache_dir, size)
            if not hit:  # CPU cost only when the model ran (decoding included)
                seconds[card.name] = seconds.get(card.name, 0.0) + time.process_time() - began
                n_frames[card.name] = n_frames.get(card.name, 0) + len(frames[card.name])
            per_video[gt.video] = max(per_video.get(gt.video, 0), len(frames[card.name]))
            if frames_cache is not None:
                frames_cache[key] = frames[card.name]
        images = None
        if _needs_pixels(rules) or (gating is not None and gating.motion):
            key = (gt.video, "_images")
            if frames_cache is None or key not in frames_cache:
                images = sampled_images(video, fps)
                if frames_cache is not None:
                    frames_cache[key] = images  # type: ignore[assignment]
            else:
                images = frames_cache[key]  # type: ignore[assignment]
        live = {}
        if gating is not None and gating.motion and gating.crop:
            live = {d.name: d for d in camera_detectors(gt.video, cards, sizes)}
        sized = [c.model_copy(update={"imgsz": sizes.get(c.name, c.imgsz)}) for c in cards]
        predictions[gt.video] = replay(
            frames, sized, rules, fps, thresholds, images, gating, live, gate_stats
        )
    scores = score(truths, predictions, tolerance, rules=scored)
    report = VideosReport(
        scores, predictions, {k: v for k, v in skipped.items() if k not in scored}
    )
    report.ms_per_frame = {
        k: round(1000 * s / n_frames[k], 1) for k, s in seconds.items() if n_frames.get(k)
    }
    report.frames = sum(per_video.values())
    report.gate = gate_stats if gating is not None else {}
    report.by_video = {gt.video: score([gt], predictions, tolerance, rules=scored) for gt in truths}
    return report


def _needs_pixels(rules: RulesConfig) -> bool:
    """Whether a rule reads pixels (the motion filter of smoke and fire)."""
    return any(getattr(p, "min_motion", 0) > 0 for p in rules.enabled().values())


def sampled_images(video: Path, fps: float) -> list[np.ndarray]:
    """The frames the sampler takes at ``fps`` (the ones :func:`detect_frames` analysed)."""
    sampler = Sampler(fps)
    return [f.image for f in FileSource(video) if sampler.take(f.pts)]


def _why_skipped(rule: str, base: RulesConfig, gt: GroundTruth) -> str:
    if rule not in base.model_dump(exclude_none=True) and rule not in gt.config:
        return "not enabled in the config"
    return "no installed model card provides the labels it needs"
