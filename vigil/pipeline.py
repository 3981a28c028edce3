"""The analysis chain for one camera: Detectors → trackers → rules → violation lifecycle.

>>> from vigil.detector.cards import load_cards
>>> from vigil.events.rules import RulesConfig
>>> rules = build_rules(RulesConfig.defaults())
>>> sorted(card.name for card in cards_for_rules(rules, load_cards()))
['fall', 'fire', 'site_ppe']
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import supervision as sv

from vigil.config import CameraConfig, ConfigError
from vigil.detector.cards import ModelCard, weights_version
from vigil.detector.detector import Detector, at_input_size, empty_detections, load_detector
from vigil.detector.tracking import ModelTracker
from vigil.events.lifecycle import ViolationTracker
from vigil.events.rules import Rule, build_rules
from vigil.events.violation import LifecycleEvent, ModelRef, Phase
from vigil.events.zones import warn_zones_off_frame
from vigil.gating import AnalysisGate, GatingSettings
from vigil.regions import Region, combine, shift_from
from vigil.streams.frame import Frame
from vigil.streams.timing import StageTimer, timed

log = logging.getLogger(__name__)

__all__ = [
    "CameraPipeline",
    "Analysis",
    "build_rules",
    "camera_detectors",
    "cards_for_rules",
    "input_sizes",
    "label_sources",
    "load_detectors",
    "merge_detections",
    "model_rates",
]


def cards_for_rules(rules: Iterable[Rule], cards: dict[str, ModelCard]) -> list[ModelCard]:
    """The cards to run for ``rules``: those serving a label some rule needs (see
    :func:`label_sources`, where ``supersedes`` is applied).

    Raises ConfigError naming the rule when no card provides a label it cannot do without.
    """
    provided = frozenset().union(*(card.labels for card in cards.values()))
    chosen: dict[str, ModelCard] = {}
    for rule in rules:
        for group in rule.requires:
            if not group & provided:
                raise ConfigError(
                    f"rule {rule.name!r} needs a model providing "
                    f"{' or '.join(sorted(group))}, and no installed model card provides it; "
                    "add a card for such a model or disable the rule"
                )
        chosen.update((card.name, card) for card in cards.values() if card.labels & rule.needs)
    serving = set(label_sources(rules, chosen.values()).values())
    return [card for card in chosen.values() if card.name in serving]


def label_sources(rules: Iterable[Rule], cards: Iterable[ModelCard]) -> dict[str, str]:
    """The one card that serves each label the rules need.

    Two models that both find people would make one person two subjects (two alerts), so each
    label comes from one card: not one that another provider of the label ``supersedes`` (it
    measured better on that label), then the ``people`` card of a crop classifier serving a
    needed label (its boxes are parts of that card's person boxes), then the card serving the
    most needed labels (fewest models to run), then the one with the smaller input (less work
    per frame), then by name. Labels no rule needs are not assigned.

    >>> from vigil.events.rules import FallRule
    >>> fall = ModelCard.model_validate({"name": "fall", "weights": {"path": "f.pt"},
    ...     "licence": "x", "source": "x", "class_map": {"a": "person", "b": "person_fallen"}})
    >>> label_sources([FallRule()], [fall])
    {'person': 'fall', 'person_fallen': 'fall'}
    >>> label_sources([FallRule(FallRule.Params(mode="pose"))], [fall])  # needs no person
    {'person_fallen': 'fall'}
    """
    needed = frozenset().union(*(rule.needs for rule in rules))
    cards = list(cards)
    anchors = {card.people for card in cards if card.people and card.labels & needed}

    def rank(card: ModelCard) -> tuple:
        return card.name not in anchors, -len(card.labels & needed), card.imgsz, card.name

    ranked = sorted(cards, key=rank)
    sources: dict[str, str] = {}
    for label in sorted(needed):
        providers = [card for card in ranked if label in card.labels]
        superseded = {old for card in providers for old in card.supersedes}
        preferred = [card for card in providers if card.name not in superseded] or providers
        if preferred:
            sources[label] = preferred[0].name
    return sources


def model_refs(
    rules: Iterable[Rule], cards: Iterable[ModelCard], sources: Mapping[str, str]
) -> dict[tuple[str, str], ModelRef]:
    """For each (rule, label) the card serving the label: its name, weights version, and the
    confidence a box needed (the card's threshold, or the rule's ``confidence`` if higher)."""
    by_name = {card.name: card for card in cards}
    refs: dict[tuple[str, str], ModelRef] = {}
    for rule in rules:
        for label, name in sources.items():
            card = by_name.get(name)
            if card is None or label not in rule.needs:
                continue
            threshold = max(card.threshold(label), rule.params.confidence or 0.0)
            thresholds = {lb: card.threshold(lb) for lb in sorted(card.labels)}
            refs[rule.name, label] = ModelRef(name, weights_version(card), threshold, thresholds)
    return refs


def model_rates(
    rules: Iterable[Rule],
    sources: Mapping[str, str],
    camera_fps: float,
    rule_fps: Mapping[str, float],
) -> dict[str, float]:
    """Each model's analysis rate: the highest rate of the rules it serves a label to (a rule
    without one in ``rule_fps`` runs at the camera's rate), at most the camera's.

    >>> from vigil.events.rules import FireRule, NoHelmetRule
    >>> sources = {"fire": "fire_smoke", "head_bare": "site_ppe", "head_helmet": "site_ppe"}
    >>> model_rates([FireRule(), NoHelmetRule()], sources, 2.0, {"fire": 1.0})
    {'fire_smoke': 1.0, 'site_ppe': 2.0}
    """
    rates: dict[str, float] = {}
    for rule in rules:
        fps = min(rule_fps.get(rule.name, camera_fps), camera_fps)
        for label, model in sources.items():
            if label in rule.needs:
                rates[model] = max(rates.get(model, 0.0), fps)
    return dict(sorted(rates.items()))


def load_detectors(cards: Iterable[ModelCard]) -> list[Detector]:
    """Each card's model, loaded once per process (see :func:`load_detector`)."""
    return [load_detector(card) for card in cards]


def input_sizes(camera: CameraConfig, cards: Mapping[str, ModelCard]) -> dict[str, int]:
    """The camera's ``input_size`` per model, checked against the site's ``cards``
    (ConfigError naming a model that is not a card, or that takes no input size).

    >>> from vigil.detector.cards import load_cards
    >>> plaza = {"id": "plaza", "source": "rtsp://h/plaza"}
    >>> input_sizes(CameraConfig(**plaza, input_size={"site_ppe": 640}), load_cards())
    {'site_ppe': 640}
    >>> input_sizes(CameraConfig(**plaza, input_size={"site_pp": 640}), load_cards())
    Traceback (most recent call last):
    ...
    vigil.config.ConfigError: camera plaza: input_size names site_pp, which is not a model card ...
    """
    for name in camera.input_size:
        card = cards.get(name)
        if card is None:
            raise ConfigError(
                f"camera {camera.id}: input_size names {name}, which is not a model card "
                f"(cards: {', '.join(sorted(cards))})"
            )
        if card.runtime == "crop_classifier":
            raise ConfigError(
                f"camera {camera.id}: input_size: model {name} classifies crops of "
                "detections and takes no input size"
            )
    return dict(camera.input_size)


def camera_detectors(
    camera: str, cards: Iterable[ModelCard], sizes: Mapping[str, int]
) -> list[Detector]:
    """Each card's model (loaded once per process), at the camera's input size for it where
    :func:`input_sizes` gives one; a size for a model the camera's rules do not run is logged,
    as it changes nothing."""
    detectors = load_detectors(cards)
    unused = sorted(set(sizes) - {d.name for d in detectors})
    if unused:
        log.warning(
            "camera %s: input_size for %s, which none of its rules runs (its models: %s)",
            camera,
            ", ".join(unused),
            ", ".join(d.name for d in detectors) or "none",
        )
    return [at_input_size(d, sizes[d.name]) if d.name in sizes else d for d in detectors]


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one analysed frame gave: its detections (tracked) and the lifecycle events."""

    frame: Frame
    detections: sv.Detections
    events: list[LifecycleEvent]


class CameraPipeline:
    """Analyses the frames of one camera.

    Example:
        >>> pipeline = CameraPipeline("cam1", rules, detectors, fps=2)  # doctest: +SKIP
        >>> for frame in source:  # doctest: +SKIP
        ...     analysis = pipeline.analyse(frame)
    """

    def __init__(
        self,
        camera: str,
        rules: list[Rule],
        detectors: list[Detector],
        fps: float,
        clock: str = "pts",
        gating: GatingSettings | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        self.camera = camera
        self.rules = rules
        self.detectors = detectors
        self._clock = clock
        self._gating, self._fps = gating, fps
        self.timer = timer
        track_ids = itertools.count(1)  # one id space per camera, across its models
        self._trackers = {d.name: ModelTracker(fps, track_ids) for d in detectors}
        self._lifecycles = {
            rule.name: ViolationTracker(camera, rule.name, rule.params, clock=clock)
            for rule in rules
        }
        self._route_labels()
        self._frame_checked = False
        self._staged: tuple[list[Rule], int] | None = None
        self.zone_revision = 0  # the saved zones in force (0: the site file's)
        self._held: dict[str, sv.Detections] = {}  # each model's last detections
        self._plan: tuple[Frame, dict[str, str | None]] | None = None

    def _gate(self, sources: dict[str, str]) -> AnalysisGate | None:
        """What decides which models run on a frame (None: all, always); rebuilt when the
        rules change, as the rates follow the rules."""
        if self._gating is None:
            return None
        rates = model_rates(self.rules, sources, self._fps, self._gating.rule_fps)
        rates = {d.name: rates.get(d.name, self._fps) for d in self.detectors}
        # Models that take an input size run on crops (a crop classifier does not).
        sizes = {d.name: d.card.imgsz for d in self.detectors if hasattr(d, "at_size")}
        return AnalysisGate(self._gating, rates, self._fps, sizes)

    def _route_labels(self) -> None:
        """Which model serves each label the rules need, and the card behind each rule."""
        sources = label_sources(self.rules, [d.card for d in self.detectors])
        self.gate = self._gate(sources)
        # Per model, the labels another model serves on this camera: dropped before tracking.
        self._foreign = {
            d.name: [label for label, name in sources.items() if name != d.name]
            for d in self.detectors
        }
        self._model_refs = model_refs(self.rules, [d.card for d in self.detectors], sources)

    def stage_rules(self, rules: list[Rule], revision: int) -> None:
        """Hand this camera new rules (from any thread): the next analysed frame swaps them in
        (:meth:`analyse`), so no frame sees half of them."""
        self._staged = (rules, revision)

    def _swap_rules(self, pts: float, wall: float) -> list[LifecycleEvent]:
        """Apply the staged rules: a rule whose parameters (zones) changed starts afresh, its
        open violations ended now; an unchanged one carries on. A rule that needs a model this
        worker did not load is left out, with a warning."""
        staged, self._staged = self._staged, None
        if staged is None:
            return []
        rules, revision = staged
        provided = frozenset().union(*(d.card.labels for d in self.detectors))
        current = {rule.name: rule for rule in self.rules}
        kept: list[Rule] = []
        for rule in rules:
            missing = [group for group in rule.requires if not group & provided]
            if missing:
                log.warning(
                    "camera %s: rule %s needs a model providing %s, which this worker did not "
                    "load; restart it to apply the rule",
                    self.camera,
                    rule.name,
                    " or ".join(sorted(missing[0])),
                )
                continue
            same = current.get(rule.name)
            kept.append(same if same is not None and same.params == rule.params else rule)
        events: list[LifecycleEvent] = []
        for name, rule in current.items():
            if not any(rule is k for k in kept):
                events += self._lifecycles.pop(name).finish(pts, wall)
        for rule in kept:
            if rule.name not in self._lifecycles:
                self._lifecycles[rule.name] = ViolationTracker(
                    self.camera, rule.name, rule.params, clock=self._clock
                )
        self.rules = kept
        self._route_labels()
        self._frame_checked = False  # new zones are checked against the frame too
        self.zone_revision = revision
        log.info("camera %s: zones updated (rev %d)", self.camera, revision)
        return events

    def plan(self, frame: Frame) -> list[Detector]:
        """The models to run on ``frame`` (the others carry their last detections to it, see
        :mod:`vigil.gating`). Called by :meth:`detect` unless the caller runs the models."""
        if self.gate is None:
            plan: dict[str, str | None] = {d.name: None for d in self.detectors}
        else:
            held = {name: found.xyxy for name, found in self._held.items()}
            with timed(self.timer, "motion"):
                plan = self.gate.plan(frame.image, frame.pts, held)
        self._plan = (frame, plan)
        return [d for d in self.detectors if plan.get(d.name) is None]

    def regions(self, name: str) -> list[Region] | None:
        """The regions model ``name`` runs on in the frame just planned (None: the whole
        frame, or skipped)."""
        return self.gate.regions.get(name) if self.gate is not None else None

    def detect_regions(self, detector: Detector, frame: Frame) -> sv.Detections:
        """``detector`` on the crops of its regions in ``frame``, in frame coordinates (those
        cut by a crop's inner edge dropped); what :meth:`detect` takes as its ``raw`` entry."""
        parts = []
        for region in self.regions(detector.name) or []:
            crop = region.crop(frame.image)
            found = detector.at_size(crop, region.imgsz)  # type: ignore[attr-defined]
            parts.append(shift_from(found, region, frame.shape))
        kept = [p for p in parts if len(p)]
        return merge_detections(kept) if kept else empty_detections()

    def detect(self, frame: Frame, raw: Mapping[str, sv.Detections] | None = None) -> sv.Detections:
        """Every model's tracked detections for the frame, merged.

        ``raw`` holds the detections (by card name) of the models :meth:`plan` chose when
        something else ran them already, e.g. the inference service that `vigil run` shares
        across cameras.
        """
        if self._plan is None or self._plan[0] is not frame:
            self.plan(frame)
        assert self._plan is not None
        plan, self._plan = self._plan[1], None
        found_by_model = {}
        for d in self.detectors:
            held = self._held.get(d.name)
            held = held if held is not None else empty_detections()
            regions = self.regions(d.name)
            if plan.get(d.name) is not None:
                found = held
            elif raw is not None:
                found = raw[d.name]
            else:
                with timed(self.timer, f"model:{d.name}"):
                    found = self._run(d, frame, regions)
            if regions is not None and plan.get(d.name) is None:
                found = combine(held, found, regions)
            if self.gate is not None:
                self._held[d.name] = found
            found_by_model[d.name] = found
        return self._track(frame, found_by_model)

    def run_model(self, detector: Detector, frame: Frame) -> sv.Detections:
        """``detector`` on the frame just planned (on its regions only, if the gate chose
        some): what :meth:`detect` takes as its ``raw`` entry for that model."""
        return self._run(detector, frame, self.regions(detector.name))

    def _run(self, d: Detector, frame: Frame, regions: list[Region] | None) -> sv.Detections:
        return d(frame.image) if regions is None else self.detect_regions(d, frame)

    def _track(self, frame: Frame, found_by_model: dict[str, sv.Detections]) -> sv.Detections:
        per_model = []
        with timed(self.timer, "tracking"):
            for name, found in found_by_model.items():
                if self._foreign[name] and len(found):
                    found = found[~np.isin(found.data["label"], self._foreign[name])]
                per_model.append(self._trackers[name].update(found, frame.pts))
        return merge_detections([d for d in per_model if len(d)])

    def analyse(self, frame: Frame, raw: Mapping[str, sv.Detections] | None = None) -> Analysis:
        """Detect, track, then each rule on the frame and its lifecycle (after swapping in
        rules staged by :meth:`stage_rules`)."""
        swapped = self._swap_rules(frame.pts, frame.wall) if self._staged is not None else []
        if not self._frame_checked:  # the frame size is known from the first frame on
            zones = [zone for rule in self.rules for zone in rule.params.zones or ()]
            warn_zones_off_frame(self.camera, zones, frame.shape)
            self._frame_checked = True
        detections = self.detect(frame, raw)
        events: list[LifecycleEvent] = swapped
        with timed(self.timer, "rules"):
            for rule in self.rules:
                observations = rule.observe(detections, frame)
                lifecycle = self._lifecycles[rule.name]
                events += lifecycle.update(frame.pts, frame.wall, frame.image, observations)
        for e in events:  # the card behind each new event, for its record
            if e.phase is Phase.OPENED:
                e.violation.model = self._model_refs.get((e.violation.rule, e.violation.label))
        return Analysis(frame, detections, events)

    def finish(self, pts: float, wall: float) -> list[LifecycleEvent]:
        """End every open violation (end of file or shutdown)."""
        events: list[LifecycleEvent] = []
        for lifecycle in self._lifecycles.values():
            events += lifecycle.finish(pts, wall)
        return events


def merge_detections(parts: list[sv.Detections]) -> sv.Detections:
    """Several models' detections as one, with the ``data`` fields they all carry (``label``,
    ``model``): supervision merges only detections whose data have the same keys, and a YOLO
    model's carry ``class_name`` where a crop classifier's do not.

    >>> yolo = sv.Detections(xyxy=np.zeros((1, 4)), data={"label": np.array(["person"]),
    ...     "model": np.array(["fall"]), "class_name": np.array(["Normal"])})
    >>> probe = sv.Detections(xyxy=np.zeros((1, 4)), data={"label": np.array(["harness"]),
    ...     "model": np.array(["probe"])})
    >>> merged = merge_detections([yolo, probe])
    >>> merged.data["label"].tolist(), sorted(merged.data)
    (['person', 'harness'], ['label', 'model'])
    """
    if not parts:
        return _empty_tracked()
    shared = set.intersection(*(set(part.data) for part in parts))
    for part in parts:
        part.data = {key: value for key, value in part.data.items() if key in shared}
    return sv.Detections.merge(parts)


def _empty_tracked() -> sv.Detections:
    detections = empty_detections()
    detections.tracker_id = np.array([], dtype=int)
    return detections
