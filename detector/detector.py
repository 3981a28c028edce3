"""A loaded model behind its card: images in, ``sv.Detections`` with canonical labels out.

:class:`Detector` is what the pipeline needs of a model; :func:`load_detector` gives the one a
card's ``runtime`` names (:class:`YoloDetector`; ``OpenVinoDetector`` in detector/exported.py,
or YoloDetector with one log line when its export is missing; or a crop classifier). Anything
with the same members stands in for one (the eval replay, test doubles).
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv

from vigil.detector.cards import CardError, ModelCard
from vigil.detector.labels import IGNORE

log = logging.getLogger(__name__)


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


@runtime_checkable
class Detector(Protocol):
    """A model behind its card: BGR images in, Detections with ``data["label"]`` (canonical)
    and ``data["model"]`` (the card's name) out, the card's per-label thresholds applied."""

    card: ModelCard

    @property
    def name(self) -> str:
        """The card's name."""
        ...

    def __call__(self, image: np.ndarray) -> sv.Detections:
        """One image's detections."""
        ...

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        """Several images' detections, in order."""
        ...


_loaded: dict[str, Detector] = {}


def load_detector(card: ModelCard) -> Detector:
    """The model of ``card``, loaded once per process however many cameras use it (a CardError
    names what is missing or broken).

    Loaded models are kept by the card's contents and weight file (``card.fingerprint()``), not
    its name: a variant card with other thresholds gets its own detector.

    >>> from vigil.detector.cards import load_cards
    >>> fall = load_cards()["fall"]
    >>> load_detector(fall) is load_detector(fall.model_copy())
    True
    >>> strict = fall.model_copy(update={"thresholds": {"person": 0.9}})
    >>> load_detector(strict).card.threshold("person"), load_detector(fall).card.threshold("person")
    (0.9, 0.35)
    """
    key = card.fingerprint()
    if key not in _loaded:
        _loaded[key] = _load(card)
    return _loaded[key]


def _load(card: ModelCard) -> Detector:
    if card.runtime == "crop_classifier":
        from vigil.detector.crop_classifier import CropClassifierDetector

        return CropClassifierDetector.load(card)
    if card.runtime == "openvino":
        from vigil.detector.exported import ExportMissing, OpenVinoDetector

        try:
            return OpenVinoDetector.load(card)
        except ExportMissing as exc:
            log.warning(
                "model %r: runtime openvino: %s; running it with PyTorch instead "
                "(make the export: vigil models export %s%s)",
                card.name,
                exc,
                card.name,
                " --int8" if card.precision == "int8" else "",
            )
    from vigil.detector.compat import load_yolo

    detector = YoloDetector(card, load_yolo(card))
    _apply_torch_threads()
    return detector


_threads: int | None = None


def inference_threads() -> int | None:
    """The cores one inference may use, as :func:`set_inference_threads` last set it."""
    return _threads


def set_inference_threads(threads: int) -> None:
    """Let each model inference use ``threads`` cores, in every runtime: PyTorch (only if it
    is loaded or gets loaded: a worker running exported models alone never imports it) and
    OpenVINO (models loaded already are recompiled)."""
    global _threads
    _threads = threads
    _apply_torch_threads()
    for detector in _loaded.values():
        retune = getattr(detector, "set_threads", None)
        if retune is not None:
            retune(threads)


def _apply_torch_threads() -> None:
    torch = sys.modules.get("torch")  # never imported here: only if a model needed it
    if _threads is not None and torch is not None:
        torch.set_num_threads(_threads)


class DetectorBase:
    """What a detector derives from its card and :meth:`batch`: its name, one image's
    detections."""

    card: ModelCard

    @property
    def name(self) -> str:
        return self.card.name

    def __call__(self, image: np.ndarray) -> sv.Detections:
        return self.batch([image])[0]

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        raise NotImplementedError


class CardDetector(DetectorBase):
    """What every YOLO-style runtime shares: model classes mapped to canonical labels, the
    card's per-label thresholds applied. A runtime gives ``names`` (class id -> model class)
    and :meth:`raw`."""

    card: ModelCard
    names: dict[int, str]

    def __init__(self, card: ModelCard, names: dict[int, str]) -> None:
        self.card = card
        self.names = names
        self._labels = class_labels(card, names)
        thresholds = [card.threshold(label) for label in card.labels]
        self._floor = min(thresholds or [card.default_threshold])

    def raw(
        self, images: list[np.ndarray], conf: float, imgsz: int | None = None
    ) -> list[sv.Detections]:
        """Each image's boxes with the model's class ids, all classes, scores >= ``conf``."""
        raise NotImplementedError

    def batch(self, images: list[np.ndarray], imgsz: int | None = None) -> list[sv.Detections]:
        """Detections for several images (e.g. one frame per camera), the model input's long
        side at ``imgsz`` (default: the card's)."""
        if not images:
            return []
        return [self.to_canonical(d) for d in self.raw(images, self._floor, imgsz)]

    def at_size(self, image: np.ndarray, imgsz: int) -> sv.Detections:
        """One image's detections with the model input's long side at ``imgsz`` (a crop at
        the scale of the full pass, :mod:`vigil.regions`)."""
        return self.to_canonical(self.raw([image], self._floor, imgsz)[0])

    def to_canonical(self, detections: sv.Detections) -> sv.Detections:
        """Map model classes to canonical labels, then apply the per-label thresholds."""
        labelled = with_labels(detections, self._labels)
        thresholds = np.array([self.card.threshold(lb) for lb in labelled.data["label"]])
        kept = labelled[labelled.confidence >= thresholds] if len(labelled) else labelled
        kept.data["model"] = np.full(len(kept), self.card.name, dtype=object)
        return kept


class ResizedDetector(DetectorBase):
    """A loaded model run at another input size than its card's, on one camera (its
    ``input_size``): a wide overhead view's small people need more pixels than the card's size
    gives them, at about ``(imgsz / card imgsz)²`` the cost, on that camera only. The model is
    shared with the cameras that run it at the card's size; :attr:`card` is the card with this
    size, so motion crops are cut at this scale too.

    >>> from vigil.detector.cards import load_cards
    >>> fall = load_detector(load_cards()["fall"])
    >>> wide = at_input_size(fall, 960)
    >>> wide.name, wide.card.imgsz, fall.card.imgsz, at_input_size(fall, 640) is fall
    ('fall', 960, 640, True)
    """

    def __init__(self, detector: CardDetector, imgsz: int) -> None:
        self.detector = detector
        self.card = detector.card.model_copy(update={"imgsz": imgsz})

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return self.detector.batch(images, self.card.imgsz)

    def at_size(self, image: np.ndarray, imgsz: int) -> sv.Detections:
        return self.detector.at_size(image, imgsz)


def at_input_size(detector: Detector, imgsz: int) -> Detector:
    """``detector`` with its model input's long side at ``imgsz`` (itself at the card's size);
    CardError for a model that takes no input size (a crop classifier)."""
    if imgsz == detector.card.imgsz:
        return detector
    if not isinstance(detector, CardDetector):
        raise CardError(f"model {detector.name!r} takes crops of detections, not an input size")
    return ResizedDetector(detector, imgsz)


class YoloDetector(CardDetector):
    """Runs one model card on BGR images.

    Each box gets ``data["label"]`` (canonical label from the card's class map) and
    ``data["model"]`` (the card's name); classes mapped to ``ignore`` and boxes under the card's
    per-label threshold are dropped.

    Example:
        >>> from vigil.detector.cards import load_cards
        >>> import cv2
        >>> from ultralytics.utils import ASSETS
        >>> from vigil.detector.cards import load_cards
        >>> detector = load_detector(load_cards()["fall"])
        >>> detector(cv2.imread(str(ASSETS / "bus.jpg"))).data["label"].tolist()
        ['person', 'person', 'person', 'person']
    """

    def __init__(self, card: ModelCard, model) -> None:
        super().__init__(card, model.names)
        self.model = model

    def raw(
        self, images: list[np.ndarray], conf: float, imgsz: int | None = None
    ) -> list[sv.Detections]:
        """One ultralytics predict call for all ``images``."""
        if not images:
            return []
        results = self.model.predict(
            images,
            imgsz=imgsz or self.card.imgsz,
            conf=conf,
            agnostic_nms=self.card.agnostic_nms,
            device="cpu",
            verbose=False,
        )
        return [sv.Detections.from_ultralytics(r) for r in results]
