"""A loaded model behind its card: images in, ``sv.Detections`` with canonical labels out."""

from __future__ import annotations

import numpy as np
import supervision as sv

from vigil.detector.cards import ModelCard
from vigil.detector.labels import IGNORE


def empty_detections() -> sv.Detections:
    detections = sv.Detections.empty()
    detections.data["label"] = np.array([], dtype=object)
    detections.data["model"] = np.array([], dtype=object)
    return detections


def class_labels(card: ModelCard, names: dict[int, str]) -> dict[int, str]:
    """A model's class ids -> canonical labels (``ignore`` for unmapped classes)."""
    return {i: card.class_map.get(name, IGNORE) for i, name in names.items()}


def with_labels(detections: sv.Detections, labels: dict[int, str]) -> sv.Detections:
    """``detections`` with ``data["label"]`` from class ids, ignored classes dropped."""
    if len(detections) == 0:
        return empty_detections()
    names = np.array([labels.get(int(c), IGNORE) for c in detections.class_id], dtype=object)
    kept = detections[names != IGNORE]
    kept.data["label"] = names[names != IGNORE]
    return kept


class Detector:
    """Runs one model card on BGR images.

    Each box gets ``data["label"]`` (canonical label from the card's class map) and
    ``data["model"]`` (the card's name); classes mapped to ``ignore`` and boxes under the card's
    per-label threshold are dropped.

    Example:
        >>> from vigil.detector.cards import load_cards
        >>> detector = Detector.load(load_cards()["fall"])  # doctest: +SKIP
        >>> detector(image).data["label"]  # doctest: +SKIP
        array(['person', 'person'], dtype=object)
    """

    def __init__(self, card: ModelCard, model) -> None:
        self.card = card
        self.model = model
        self._labels = class_labels(card, model.names)
        thresholds = [card.threshold(label) for label in card.labels]
        self._floor = min(thresholds or [card.default_threshold])

    @classmethod
    def load(cls, card: ModelCard) -> Detector:
        if card.runtime == "crop_classifier":
            from vigil.detector.crop_classifier import CropClassifierDetector

            return CropClassifierDetector.load(card)  # type: ignore[return-value]
        from vigil.detector.compat import load_yolo

        return cls(card, load_yolo(card))

    @property
    def name(self) -> str:
        return self.card.name

    def __call__(self, image: np.ndarray) -> sv.Detections:
        return self.batch([image])[0]

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        """Detections for several images in one predict call (e.g. one frame per camera)."""
        if not images:
            return []
        results = self.model.predict(
            images,
            imgsz=self.card.imgsz,
            conf=self._floor,
            agnostic_nms=self.card.agnostic_nms,
            device="cpu",
            verbose=False,
        )
        return [self.to_canonical(sv.Detections.from_ultralytics(r)) for r in results]

    def to_canonical(self, detections: sv.Detections) -> sv.Detections:
        """Map model classes to canonical labels, then apply the per-label thresholds."""
        labelled = with_labels(detections, self._labels)
        thresholds = np.array([self.card.threshold(lb) for lb in labelled.data["label"]])
        kept = labelled[labelled.confidence >= thresholds] if len(labelled) else labelled
        kept.data["model"] = np.full(len(kept), self.card.name, dtype=object)
        return kept
