"""A linear classifier on pooled features of a YOLO backbone, for person crops.

Used for harness worn / not worn (no box-labelled harness data exists that we can reach): the
backbone is an installed detector's (the fall card's YOLOv8s, layers 0-9, frozen), the head a
logistic regression fitted by ``datasets/recipes/harness_probe.py``. Saved as a small ``.pt``
dict: {"backbone_card", "layers", "imgsz", "mean", "std", "weight", "bias", "classes"}.

>>> import torch
>>> head = LinearHead(torch.zeros(4), torch.ones(4), torch.tensor([1.0, 0, 0, 0]), 0.0)
>>> round(float(head(torch.tensor([[2.0, 0, 0, 0]]))[0]), 3)
0.881
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import supervision as sv
import torch

from vigil.detector.detector import DetectorBase

if TYPE_CHECKING:
    from vigil.detector.cards import ModelCard
    from vigil.detector.detector import Detector


class LinearHead(torch.nn.Module):
    """Standardise features, then logistic regression: P(positive class)."""

    def __init__(
        self, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor, bias: float
    ) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())
        self.register_buffer("weight", weight.float())
        self.bias = float(bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features - self.mean) / self.std
        return torch.sigmoid(z @ self.weight + self.bias)


class BackboneFeatures:
    """Pooled features of the first ``layers`` layers of an ultralytics detection model."""

    def __init__(self, yolo_model: torch.nn.Module, layers: int = 10, imgsz: int = 256) -> None:
        self.layers = list(yolo_model.model[:layers])
        self.imgsz = imgsz
        for m in self.layers:
            if getattr(m, "f", -1) != -1:
                raise ValueError("backbone layers must be sequential (from = -1)")

    def prepare(self, crop: np.ndarray) -> torch.Tensor:
        """BGR crop -> letterboxed RGB tensor (3, imgsz, imgsz) in 0..1."""
        h, w = crop.shape[:2]
        scale = self.imgsz / max(h, w, 1)
        resized = cv2.resize(crop, (max(1, round(w * scale)), max(1, round(h * scale))))
        canvas = np.full((self.imgsz, self.imgsz, 3), 114, np.uint8)
        top = (self.imgsz - resized.shape[0]) // 2
        left = (self.imgsz - resized.shape[1]) // 2
        canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
        return torch.from_numpy(canvas[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255.0

    @torch.inference_mode()
    def __call__(self, crops: list[np.ndarray]) -> torch.Tensor:
        """(N, C) features: global average and max pooling of the last layer, concatenated."""
        if not crops:
            return torch.zeros((0, 0))
        x = torch.stack([self.prepare(c) for c in crops])
        for m in self.layers:
            x = m(x)
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


class CropClassifierDetector(DetectorBase):
    """A card with ``runtime: crop_classifier``: finds people with the card named in
    ``people``, classifies each person crop with a :class:`LinearHead` on that card's own
    backbone (no second backbone in memory), and emits one box per person whose score passes
    the card's threshold: the top ``UPPER_BODY`` of the person box, labelled with the card's
    positive class (e.g. ``harness``), confidence = the classifier's score.

    A :class:`~vigil.detector.detector.Detector`. The weight file is a dict written by
    ``datasets/recipes/harness_probe.py``.
    """

    UPPER_BODY = 0.6

    def __init__(
        self,
        card: ModelCard,
        people: Detector,
        features: BackboneFeatures,
        head: LinearHead,
        label: str,
    ) -> None:
        self.card = card
        self.people = people
        self.features = features
        self.head = head
        self.label = label

    @classmethod
    def load(cls, card: ModelCard) -> CropClassifierDetector:
        from vigil.detector.cards import CardError, load_cards
        from vigil.detector.detector import YoloDetector, load_detector

        folders = [card.card_path.parent] if card.card_path else []
        cards = load_cards(folders)
        if card.people not in cards:
            raise CardError(f"model {card.name!r}: people card {card.people!r} not found")
        # The classifier reads the people model's PyTorch backbone, whatever its card runs on;
        # the person boxes are the people card's own (its runtime: the pipeline's boxes).
        backbone = load_detector(cards[card.people].model_copy(update={"runtime": "ultralytics"}))
        if not isinstance(backbone, YoloDetector):
            raise CardError(f"model {card.name!r}: people card {card.people!r} is not a YOLO model")
        people = load_detector(cards[card.people])
        path = card.resolve_weights()
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # many types for one user problem: an unreadable file
            raise CardError(f"model {card.name!r}: cannot load {path}: {exc}") from None
        positives = [c for c in saved["classes"] if card.class_map.get(c, "ignore") != "ignore"]
        if len(positives) != 1:
            raise CardError(f"model {card.name!r}: class_map must keep exactly one class")
        features = BackboneFeatures(backbone.model.model, saved["layers"], saved["imgsz"])
        head = LinearHead(saved["mean"], saved["std"], saved["weight"], saved["bias"])
        return cls(card, people, features, head, card.class_map[positives[0]])

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        from vigil.detector.detector import empty_detections
        from vigil.detector.labels import PERSON

        out = []
        for image, people in zip(images, self.people.batch(images), strict=True):
            people = people[people.data["label"] == PERSON] if len(people) else people
            boxes = [(int(x1), int(y1), int(x2), int(y2)) for x1, y1, x2, y2 in people.xyxy]
            keep = [i for i, (x1, y1, x2, y2) in enumerate(boxes) if x2 - x1 >= 8 and y2 - y1 >= 8]
            if not keep:
                out.append(empty_detections())
                continue
            crops = [image[boxes[i][1] : boxes[i][3], boxes[i][0] : boxes[i][2]] for i in keep]
            scores = self.head(self.features(crops)).numpy()
            xyxy = people.xyxy[keep].astype(float).copy()
            xyxy[:, 3] = xyxy[:, 1] + self.UPPER_BODY * (xyxy[:, 3] - xyxy[:, 1])
            passed = scores >= self.card.threshold(self.label)
            det = sv.Detections(
                xyxy=xyxy[passed], confidence=scores[passed].astype(float),
                class_id=np.zeros(int(passed.sum()), dtype=int),
            )  # fmt: skip
            det.data["label"] = np.full(len(det), self.label, dtype=object)
            det.data["model"] = np.full(len(det), self.card.name, dtype=object)
            out.append(det if len(det) else empty_detections())
        return out
