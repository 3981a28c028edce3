"""Cards that run an exported model (``runtime: openvino``) without PyTorch.

An export is made offline by ``vigil models export NAME`` (:mod:`vigil.detector.export`, which
needs torch and ultralytics) and cached by the weights' hash (:func:`export_dir`). At run time
:class:`OpenVinoDetector` reads it with OpenVINO alone: letterbox, one inference, then the YOLOv8
head's output decoded and suppressed with numpy, as ultralytics' predict does it. Nothing here
imports torch or ultralytics, so a worker whose cards are all exported never loads them.

A card whose export is missing or broken is run by PyTorch instead (``detector.load_detector``
logs one line saying why): :class:`ExportMissing` carries the reason.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
import yaml

from vigil import VigilError
from vigil.detector.cards import CardError, ModelCard, weights_version
from vigil.detector.detector import CardDetector, inference_threads

PAD_VALUE = 114  # ultralytics' letterbox grey
IOU = 0.7  # ultralytics' predict default
MAX_DET = 300
MAX_WH = 7680  # class offset for class-aware NMS, as in ultralytics
EXPORT_INFO = "vigil-export.json"
# A card's precision -> OpenVINO's inference precision for the float parts (int8: its default,
# bf16 where the CPU has it, for the few layers NNCF leaves in float).
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16"}


log = logging.getLogger(__name__)


@functools.cache
def cpu_precisions() -> frozenset[str]:
    """What OpenVINO computes in on this CPU (``FP32``, ``INT8``, ``BF16`` where the CPU has
    AVX512-BF16 or AMX): a card's ``bf16`` runs in float32 where ``BF16`` is missing, at two to
    three times the CPU (datasets/RESULTS.md, section 21)."""
    import openvino as ov

    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return frozenset(c for c in capabilities if c in {"FP32", "FP16", "BF16", "INT8"})


@functools.cache
def _note_float32() -> None:
    log.info(
        "this CPU has no BF16: cards with precision bf16 run in float32, at two to three times "
        "the CPU per frame (README, Which CPU matters)"
    )


class ExportMissing(VigilError):
    """The card's export is not there, or cannot be read: one line saying which and why."""


def cache_root() -> Path:
    """Where exports are kept: ``$VIGIL_CACHE_DIR/exports``, else ``~/.cache/vigil/exports``
    (``$XDG_CACHE_HOME`` honoured). Not ``models/``: an export is 10-45 MB, made per machine,
    and the installed package folder may be read-only."""
    base = os.environ.get("VIGIL_CACHE_DIR")
    if base:
        return Path(base) / "exports"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vigil" / "exports"


def export_dir(card: ModelCard, precision: str | None = None, imgsz: int | None = None) -> Path:
    """The folder of the card's export, keyed by the weights' sha256, format, precision, size.

    >>> from vigil.detector.cards import load_cards
    >>> export_dir(load_cards()["site_ppe"], "int8").name
    'site_ppe_yolov8s-78d9a83ab622-openvino-int8-416'
    """
    precision = precision or card.precision
    precision = "fp32" if precision == "bf16" else precision  # one export, run two ways
    imgsz = imgsz or card.imgsz
    stem = Path(card.weights.path or card.weights.resource or card.name).stem
    return cache_root() / f"{stem}-{weights_version(card)}-openvino-{precision}-{imgsz}"


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was fitted into the model's square input: scale, then padding."""

    gain: float
    pad_x: int
    pad_y: int


def letterbox(image: np.ndarray, size: int, stride: int = 32) -> tuple[np.ndarray, Letterbox]:
    """``image`` (BGR, HxWx3) resized to fit ``size`` keeping its aspect, padded with grey to a
    multiple of ``stride`` on each side, as a 1x3xHxW float32 RGB tensor in 0..1: ultralytics'
    LetterBox as its predict runs a PyTorch model (auto), so both see the same pixels.

    >>> tensor, box = letterbox(np.zeros((480, 640, 3), np.uint8), 416)
    >>> tensor.shape, box
    ((1, 3, 320, 416), Letterbox(gain=0.65, pad_x=0, pad_y=4))
    """
    h, w = image.shape[:2]
    gain = min(size / h, size / w)
    new_w, new_h = round(w * gain), round(h * gain)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = ((size - new_w) % stride) / 2, ((size - new_h) % stride) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    tensor = padded[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(tensor), Letterbox(gain, left, top)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes (xyxy) kept by greedy non-maximum suppression, best first.

    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    >>> nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist()
    [0, 2]
    """
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size and len(keep) < MAX_DET:
        i, rest = order[0], order[1:]
        keep.append(i)
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.array(keep, dtype=int)


def decode(
    output: np.ndarray,
    conf: float,
    fit: Letterbox,
    shape: tuple[int, int],
    agnostic: bool = False,
    iou: float = IOU,
) -> sv.Detections:
    """A YOLOv8-style head's raw output (1 x (4+classes) x anchors: centre x, y, width, height in
    input pixels, then per-class scores) as Detections in the original image's pixels: the best
    class per anchor, scores >= ``conf``, NMS per class (or across classes when ``agnostic``),
    boxes mapped back through the letterbox and clipped to ``shape`` (height, width).

    >>> out = np.zeros((1, 6, 3), np.float32)
    >>> out[0, :, 0] = [50, 50, 20, 20, 0.9, 0.1]  # kept, class 0
    >>> out[0, :, 1] = [52, 50, 20, 20, 0.2, 0.8]  # kept: other class, class-aware NMS
    >>> out[0, :, 2] = [10, 10, 4, 4, 0.1, 0.05]   # under conf
    >>> d = decode(out, 0.25, Letterbox(0.5, 0, 10), (200, 200))
    >>> d.class_id.tolist(), d.xyxy[0].tolist()
    ([0, 1], [80.0, 60.0, 120.0, 100.0])
    >>> len(decode(out, 0.25, Letterbox(0.5, 0, 10), (200, 200), agnostic=True))
    1
    """
    pred = output[0].T  # anchors x (4 + classes)
    scores_all = pred[:, 4:]
    class_id = scores_all.argmax(1)
    scores = scores_all[np.arange(len(pred)), class_id]
    keep = scores >= conf
    pred, scores, class_id = pred[keep], scores[keep], class_id[keep]
    if not len(pred):
        return sv.Detections.empty()
    xy, wh = pred[:, :2], pred[:, 2:4]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1).astype(np.float64)
    offset = 0 if agnostic else class_id[:, None] * MAX_WH
    kept = nms(boxes + offset, scores, iou)
    boxes, scores, class_id = boxes[kept], scores[kept], class_id[kept]
    boxes -= [fit.pad_x, fit.pad_y, fit.pad_x, fit.pad_y]
    boxes /= fit.gain
    h, w = shape
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return sv.Detections(
        xyxy=boxes.astype(np.float32),
        confidence=scores.astype(np.float32),
        class_id=class_id.astype(int),
    )


def read_export(folder: Path) -> tuple[Path, dict]:
    """The model file (``*.xml``) of an export folder and its metadata (names, imgsz, ...)."""
    if not folder.is_dir():
        raise ExportMissing(f"no export at {folder}")
    xmls = sorted(folder.glob("*.xml"))
    meta_file = folder / "metadata.yaml"
    if len(xmls) != 1 or not xmls[0].with_suffix(".bin").is_file() or not meta_file.is_file():
        raise ExportMissing(f"export at {folder} is incomplete (model .xml/.bin or metadata)")
    try:
        meta = yaml.safe_load(meta_file.read_text())
        names = {int(k): str(v) for k, v in meta["names"].items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ExportMissing(f"export at {folder}: unreadable metadata.yaml ({exc})") from None
    return xmls[0], {**meta, "names": names}


def export_info(folder: Path) -> dict:
    """What ``vigil models export`` recorded about an export (empty if nothing)."""
    try:
        return json.loads((folder / EXPORT_INFO).read_text())
    except (OSError, ValueError):
        return {}


class OpenVinoDetector(CardDetector):
    """A card's export run by OpenVINO on the CPU: same labels, thresholds and output as
    :class:`~vigil.detector.detector.YoloDetector`, no PyTorch.

    The export takes any input size (exported with dynamic shapes); each image is letterboxed
    as ultralytics does for PyTorch (to the card's imgsz, padded to a multiple of 32 only), and
    the model is compiled once per input shape it meets (a camera's frames all have one).
    """

    def __init__(self, card: ModelCard, folder: Path) -> None:
        try:  # here, not at import: a PyTorch-only worker never loads it
            import openvino as ov
        except ImportError:
            raise ExportMissing("openvino is not installed (pip install openvino)") from None
        xml, meta = read_export(folder)
        super().__init__(card, meta["names"])
        self.folder = folder
        unknown = sorted(set(card.class_map) - set(self.names.values()))
        if unknown:
            raise CardError(
                f"model {card.name!r}: class_map names {unknown} that the export at {folder} "
                f"lacks (it has {sorted(self.names.values())})"
            )
        self.imgsz = int(max(meta.get("imgsz") or [card.imgsz]))
        self.stride = int(meta.get("stride") or 32)
        self._core = ov.Core()
        try:
            self._xml = xml
            model = self._core.read_model(xml)  # checks the weights file's size too
            rank = model.input(0).get_partial_shape().rank.get_length()
            classes = model.output(0).get_partial_shape()[1].get_length()
        except RuntimeError as exc:
            raise ExportMissing(f"export at {folder} cannot be read ({_first_line(exc)})") from None
        if rank != 4 or classes != 4 + len(self.names):
            raise ExportMissing(
                f"export at {folder} is not a YOLOv8-style detect head for {len(self.names)} "
                "classes"
            )
        if card.precision == "bf16" and "BF16" not in cpu_precisions():
            _note_float32()
        self._lock = threading.Lock()
        self._threads = inference_threads()
        self._requests: dict[tuple[int, int], object] = {}
        # Compiled now so that a bad export fails at load (and falls back), not at a frame;
        # dropped when the first frame of another shape comes (a copy of the weights each).
        self._probe: tuple[int, int] | None = (self.imgsz, self.imgsz)
        # One inference now, on this thread: the binding's first call initialises its statics,
        # and a first call made by two model threads at once is where a worker was seen to hang.
        blank = np.zeros((1, 3, *self._probe), np.float32)
        self._request(self._probe).infer({0: blank})

    @classmethod
    def load(cls, card: ModelCard) -> OpenVinoDetector:
        """The card's cached export; ExportMissing (why) if it is missing or unreadable."""
        return cls(card, export_dir(card))

    def set_threads(self, threads: int | None) -> None:
        """Recompile for ``threads`` cores (None: OpenVINO's choice, every core)."""
        with self._lock:
            self._threads = threads
            self._requests.clear()

    def _request(self, hw: tuple[int, int]):
        """An infer request for input height x width, compiled the first time it is asked."""
        request = self._requests.get(hw)
        if request is not None:
            return request
        if self._probe is not None and hw != self._probe:  # a real frame, of another shape
            self._requests.pop(self._probe, None)
            self._probe = None
        config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
        # OpenVINO runs float models in bf16 by default where the CPU has it: say which.
        if self.card.precision in INFERENCE_PRECISION:
            config["INFERENCE_PRECISION_HINT"] = INFERENCE_PRECISION[self.card.precision]
        if self._threads:
            config["INFERENCE_NUM_THREADS"] = self._threads
        try:
            model = self._core.read_model(self._xml)
            model.reshape({0: [1, 3, *hw]})
            compiled = self._core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            raise ExportMissing(
                f"export at {self.folder} does not compile for {hw} ({_first_line(exc)})"
            ) from None
        self._requests[hw] = request = compiled.create_infer_request()
        return request

    def raw(
        self, images: list[np.ndarray], conf: float, imgsz: int | None = None
    ) -> list[sv.Detections]:
        """Each image's boxes with the model's class ids, scores >= ``conf``."""
        size = imgsz or self.card.imgsz
        out = []
        for image in images:
            tensor, fit = letterbox(image, size, self.stride)
            with self._lock:
                hw = tensor.shape[2:]
                if hw == self._probe:
                    self._probe = None  # frames of the probe's shape: keep it
                output = self._request(hw).infer({0: tensor})[0]
            out.append(decode(output, conf, fit, image.shape[:2], self.card.agnostic_nms))
        return out


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
