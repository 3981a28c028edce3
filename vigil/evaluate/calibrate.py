"""Calibrate one rule's threshold and confirmation parameters on videos with ground truth,
with leave-one-video-out cross-validation so the reported numbers come from clips not tuned on.

The models run once (per-frame boxes cached by :mod:`vigil.evaluate.videos`); each candidate is
a replay of the pipeline over those boxes. A candidate's objective is event F1 of the rule
(ground-truth events found, raised events true), ties broken by fewer false alarms, then by
shorter confirmation (faster alerts).

Example:
    >>> result = calibrate("smoke", truths, videos_dir, detect_site(), grid)  # doctest: +SKIP
    >>> result.held_out.recall, result.held_out.false_alarms  # doctest: +SKIP
    (1.0, 0)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from vigil.config import SiteConfig
from vigil.evaluate.groundtruth import GroundTruth, Predicted, RuleScore, score
from vigil.evaluate.videos import FrameBoxes, evaluate_videos
from vigil.events.rules import RulesConfig


@dataclass(frozen=True, slots=True)
class Candidate:
    threshold: float | None  # of the rule's triggering label; None keeps the card's
    k_of_n: tuple[int, int]
    min_duration: float
    extra: tuple[tuple[str, float], ...] = ()  # other rule parameters, e.g. min_area

    def rules(self, rule: str, base: dict) -> dict:
        params = {**base, "k_of_n": list(self.k_of_n), "min_duration": self.min_duration}
        return {rule: {**params, **dict(self.extra)}}

    def as_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "k_of_n": list(self.k_of_n),
            "min_duration": self.min_duration,
            **dict(self.extra),
        }


def objective(s: RuleScore) -> tuple[float, int]:
    """Event F1 (0 when undefined) and minus the false alarms: bigger is better."""
    r = s.recall if s.recall is not None else 1.0
    p = s.precision if s.precision is not None else (1.0 if s.gt_events == 0 else 0.0)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return (round(f1, 6), -s.false_alarms)


@dataclass(slots=True)
class CalibrationResult:
    rule: str
    label: str
    best: Candidate  # chosen on all clips: what to ship
    best_score: RuleScore  # its (tuned-on) score, for reference only
    held_out: RuleScore  # leave-one-video-out: each clip scored with params tuned on the rest
    default_score: RuleScore
    chosen_per_fold: dict[str, Candidate]


def calibrate(
    rule: str,
    label: str,
    truths: list[GroundTruth],
    videos_dir: Path,
    config: SiteConfig,
    thresholds: list[float | None],
    k_of_n: list[tuple[int, int]],
    min_durations: list[float],
    cache_dir: Path | None = None,
    base: dict | None = None,
    extra: dict[str, list[float]] | None = None,
) -> CalibrationResult:
    """Grid-search ``rule`` (see module docstring); ``label`` is the box label it triggers on."""
    truths = [gt for gt in truths if rule in gt.rules]
    frames: dict[tuple[str, str], list[FrameBoxes]] = {}
    base = base or {}

    def run(c: Candidate | None) -> dict[str, list[Predicted]]:
        rules = c.rules(rule, base) if c else {rule: base}
        camera = config.camera.model_copy(update={"rules": RulesConfig.model_validate(rules)})
        cfg = config.model_copy(update={"cameras": [camera]})
        overrides = {label: c.threshold} if c and c.threshold is not None else None
        report = evaluate_videos(truths, videos_dir, cfg, cache_dir, overrides, frames_cache=frames)
        return report.predictions

    default = run(None)
    extra = extra or {}
    extras = [
        tuple(zip(extra, values, strict=True)) for values in itertools.product(*extra.values())
    ]
    grid = [
        Candidate(t, kn, d, e)
        for t, kn, d, e in itertools.product(thresholds, k_of_n, min_durations, extras)
        if kn[0] <= kn[1]
    ]
    predictions = {c: run(c) for c in grid}

    def pick(clips: list[GroundTruth]) -> Candidate:
        def key(c: Candidate) -> tuple:
            s = score(clips, predictions[c], rules={rule})[rule]
            return (*objective(s), -c.min_duration, -c.k_of_n[0])

        return max(grid, key=key)

    chosen: dict[str, Candidate] = {}
    held_preds: dict[str, list[Predicted]] = {}
    for gt in truths:
        rest = [t for t in truths if t is not gt]
        chosen[gt.video] = pick(rest)
        held_preds[gt.video] = predictions[chosen[gt.video]][gt.video]
    best = pick(truths)
    return CalibrationResult(
        rule=rule,
        label=label,
        best=best,
        best_score=score(truths, predictions[best], rules={rule})[rule],
        held_out=score(truths, held_preds, rules={rule})[rule],
        default_score=score(truths, default, rules={rule})[rule],
        chosen_per_fold=chosen,
    )
