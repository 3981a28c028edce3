"""Ground truth for videos, and event-level scoring of predicted violations against it.

A predicted event and a ground-truth event match when they are of the same rule (and zone, if
the ground truth names one) and their time intervals overlap, each widened by ``tolerance``
seconds. Recall counts ground-truth events matched by at least one prediction; precision counts
predictions matching some ground-truth event. Predictions that only touch an ``ignore`` interval
count neither way; the rest are false alarms. False alarms per hour are counted over the
violation-free footage of each rule (seconds scored minus its events and ignore intervals),
with an exact 95 % Poisson interval: a few clean minutes cannot pin a rate down, and the
interval says how little they show.

>>> gt = GroundTruth.model_validate({"video": "a.mp4", "duration": 10, "rules": ["fall"],
...     "events": [{"rule": "fall", "start": 3, "end": 10}]})
>>> score([gt], {"a.mp4": [Predicted("fall", 4.0, 9.0)]})["fall"].recall
1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.stats import chi2

from vigil import VigilError


class GroundTruthError(VigilError, ValueError):
    """A ground-truth file that cannot be used: one line, for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GtEvent(_Strict):
    rule: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    zone: str | None = None
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> GtEvent:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) before start ({self.start})")
        return self


class GtIgnore(_Strict):
    rule: str
    start: float | None = None
    end: float | None = None
    why: str = ""


class GroundTruth(_Strict):
    video: str
    duration: float = Field(gt=0)
    rules: list[str] = Field(min_length=1, description="rules scored on this clip")
    events: list[GtEvent] = Field(default_factory=list)
    ignore: list[GtIgnore] = Field(default_factory=list)
    config: dict = Field(default_factory=dict, description="rule settings merged for this clip")
    tolerance: float | None = Field(
        None, ge=0, description="matching slack in seconds for this clip (hard cuts: 0)"
    )

    @model_validator(mode="after")
    def _events_scored(self) -> GroundTruth:
        for item in [*self.events, *self.ignore]:
            if item.rule not in self.rules:
                raise ValueError(f"rule {item.rule!r} is used but not listed in rules")
        return self

    def ignored(self, rule: str) -> list[tuple[float, float]]:
        return [
            (i.start or 0.0, self.duration if i.end is None else i.end)
            for i in self.ignore
            if i.rule == rule
        ]

    def negative_seconds(self, rule: str) -> float:
        """Seconds of this clip without any event or ignore interval of ``rule``."""
        if rule not in self.rules:
            return 0.0
        spans = [(e.start, e.end) for e in self.events if e.rule == rule] + self.ignored(rule)
        return max(0.0, self.duration - _union_length(spans, self.duration))


def _union_length(spans: list[tuple[float, float]], limit: float) -> float:
    total, reach = 0.0, 0.0
    for start, end in sorted((max(0.0, s), min(limit, e)) for s, e in spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def load_ground_truth(path: Path) -> GroundTruth:
    try:
        raw = yaml.safe_load(Path(path).read_text())
        return GroundTruth.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise GroundTruthError(f"{path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise GroundTruthError(f"{path}: {where}: {first['msg']}") from None


def load_ground_truth_dir(folder: Path) -> list[GroundTruth]:
    files = sorted(Path(folder).glob("*.yaml"))
    if not files:
        raise GroundTruthError(f"{folder}: no ground-truth *.yaml files")
    return [load_ground_truth(p) for p in files]


@dataclass(frozen=True, slots=True)
class Predicted:
    """A violation the pipeline raised, reduced to what scoring needs."""

    rule: str
    start: float
    end: float
    zone: str | None = None
    confidence: float = 0.0


def _overlaps(a: tuple[float, float], b: tuple[float, float], tolerance: float) -> bool:
    return a[0] - tolerance <= b[1] and b[0] - tolerance <= a[1]


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean, from an observed ``count``.

    >>> [round(x, 3) for x in poisson_interval(0)]
    [0.0, 3.689]
    >>> [round(x, 3) for x in poisson_interval(1)]
    [0.025, 5.572]
    """
    tail = (1.0 - confidence) / 2
    low = 0.0 if count == 0 else float(chi2.ppf(tail, 2 * count)) / 2
    return low, float(chi2.ppf(1.0 - tail, 2 * count + 2)) / 2


@dataclass(slots=True)
class RuleScore:
    rule: str
    gt_events: int = 0
    gt_matched: int = 0
    predicted: int = 0
    true_predictions: int = 0
    false_alarms: int = 0
    ignored: int = 0
    negative_seconds: float = 0.0
    false_alarms_on_negative: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.gt_matched / self.gt_events if self.gt_events else None

    @property
    def precision(self) -> float | None:
        scored = self.true_predictions + self.false_alarms
        return self.true_predictions / scored if scored else None

    @property
    def false_alarms_per_hour(self) -> float | None:
        if self.negative_seconds <= 0:
            return None
        return self.false_alarms_on_negative * 3600.0 / self.negative_seconds

    @property
    def false_alarms_per_hour_95(self) -> tuple[float, float] | None:
        """The exact 95 % interval of :attr:`false_alarms_per_hour`."""
        if self.negative_seconds <= 0:
            return None
        low, high = poisson_interval(self.false_alarms_on_negative)
        per_hour = 3600.0 / self.negative_seconds
        return low * per_hour, high * per_hour

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "gt_events": self.gt_events,
            "gt_matched": self.gt_matched,
            "recall": self.recall,
            "predicted": self.predicted,
            "true_predictions": self.true_predictions,
            "false_alarms": self.false_alarms,
            "ignored": self.ignored,
            "precision": self.precision,
            "negative_seconds": round(self.negative_seconds, 1),
            "false_alarms_on_negative": self.false_alarms_on_negative,
            "false_alarms_per_hour": self.false_alarms_per_hour,
            "false_alarms_per_hour_95": self.false_alarms_per_hour_95,
            "median_delay_s": sorted(self.delays)[len(self.delays) // 2] if self.delays else None,
        }


def score(
    truths: list[GroundTruth],
    predictions: dict[str, list[Predicted]],
    tolerance: float = 1.0,
    rules: set[str] | None = None,
) -> dict[str, RuleScore]:
    """Per-rule event scores of ``predictions`` (by video file name) against ``truths``."""
    scores: dict[str, RuleScore] = {}
    for gt in truths:
        for rule in gt.rules:
            if rules is not None and rule not in rules:
                continue
            s = scores.setdefault(rule, RuleScore(rule))
            events = [e for e in gt.events if e.rule == rule]
            preds = [p for p in predictions.get(gt.video, []) if p.rule == rule]
            ignored = gt.ignored(rule)
            slack = tolerance if gt.tolerance is None else gt.tolerance
            # Violation-free footage: clips with no event of the rule, less its ignore intervals.
            s.negative_seconds += 0.0 if events else gt.negative_seconds(rule)
            s.gt_events += len(events)
            s.predicted += len(preds)
            for e in events:
                hits = [
                    p
                    for p in preds
                    if (e.zone is None or e.zone == p.zone)
                    and _overlaps((e.start, e.end), (p.start, p.end), slack)
                ]
                if hits:
                    s.gt_matched += 1
                    s.delays.append(round(min(p.start for p in hits) - e.start, 2))
            for p in preds:
                span = (p.start, p.end)
                if any(
                    (e.zone is None or e.zone == p.zone)
                    and _overlaps((e.start, e.end), span, slack)
                    for e in events
                ):
                    s.true_predictions += 1
                elif any(_overlaps(i, span, 0.0) for i in ignored):
                    s.ignored += 1
                else:
                    s.false_alarms += 1
                    if not events:
                        s.false_alarms_on_negative += 1
    return scores
