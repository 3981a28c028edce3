"""Load a card's weights into a ready-to-predict ``ultralytics.YOLO`` on the CPU.

Two of the default checkpoints do not load as they are in ultralytics 8.4.190; the card's
``compat`` field names the fix-up, applied to that model only (nothing global is patched):

- ``fasternet_main``: the fire checkpoint pickles its FasterNet layers as ``__main__.*`` classes.
  We unpickle it with an Unpickler that maps those names onto ``vigil.detector.fasternet``.
- ``yolov12_aattn``: the helmet checkpoint was trained with the YOLOv12 fork, whose area-attention
  layers hold ``qk``/``v`` convs and a 5x5 ``pe``; ultralytics' ``AAttn.forward`` expects ``qkv``.
  Those instances get the fork's forward by switching their class to ``LegacyAAttn``.
- ``none``: ``YOLO(path)``.

>>> from vigil.detector.cards import load_card, builtin_cards_dir
>>> model = load_yolo(load_card(builtin_cards_dir() / "fall.yaml"))  # doctest: +SKIP
>>> model.names  # doctest: +SKIP
{0: 'Normal', 1: 'Fall'}
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from ultralytics import YOLO
from ultralytics.cfg import DEFAULT_CFG_DICT
from ultralytics.nn.modules.block import AAttn
from ultralytics.nn.tasks import guess_model_task

from vigil.detector import fasternet
from vigil.detector.cards import CardError, ModelCard

# Classes the fire checkpoint pickled from the training script's __main__.
_FASTERNET_CLASSES: dict[tuple[str, str], type] = {
    ("__main__", "FasterNetC2f"): fasternet.FasterNetC2f,
    ("__main__", "FasterNetBlock"): fasternet.FasterNetBlock,
    ("__main__", "PartialConv2d"): fasternet.PartialConv2d,
}


def load_yolo(card: ModelCard) -> YOLO:
    """The card's model, loaded on the CPU, its fix-up applied, its classes checked.

    Raises ``CardError`` (one line naming the file and the problem) if the weights are missing,
    unreadable, need a fix-up the card does not name, or have classes the card does not map.
    """
    path = card.resolve_weights()
    try:
        model = _LOADERS[card.compat](path)
    except CardError as exc:
        raise CardError(f"model {card.name!r}: {path}: {exc}") from None
    except Exception as exc:  # torch/pickle/ultralytics raise many types for one user problem
        raise CardError(f"model {card.name!r}: cannot load {path}: {_describe(exc)}") from None
    _check_class_map(card, model)
    return model


class LegacyAAttn(AAttn):
    """Area attention as the YOLOv12 fork computes it (its 2025-03-31 version).

    The fork keeps separate ``qk`` (dim -> 2*dim) and ``v`` (dim -> dim) 1x1 convs and adds a
    depthwise 5x5 positional conv ``pe`` of ``v``; ultralytics later fused these into ``qkv``
    with a 7x7 ``pe`` and a different channel order, so the weights need this forward. Tokens are
    split into ``area`` equal runs of the flattened map and attend only within their run, per
    head, with scale head_dim**-0.5. In that version the fork's CPU path (explicit softmax) and
    GPU path (flash attention) compute the same thing; the fork's older CPU path gives other
    scores (MODELS.md: bus.jpg 0.789 / 0.726, where this gives 0.788 / 0.756).
    Instances come from a checkpoint (class switched by ``_load_yolov12_aattn``), never built here.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        dim = self.num_heads * self.head_dim
        v_map = self.v(x)
        pos = self.pe(v_map)
        qk = self.qk(x).flatten(2).transpose(1, 2)  # (b, n, 2*dim)
        v = v_map.flatten(2).transpose(1, 2)  # (b, n, dim)
        # Areas are consecutive token runs, so they fold into the batch axis.
        groups, tokens = b * self.area, h * w // self.area
        q, k = qk.reshape(groups, tokens, 2 * dim).split([dim, dim], dim=2)
        v = v.reshape(groups, tokens, dim)
        q, k, v = (
            t.reshape(groups, tokens, self.num_heads, self.head_dim).transpose(1, 2)
            for t in (q, k, v)
        )
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(head_dim)) v
        out = out.transpose(1, 2).reshape(b, h, w, dim).permute(0, 3, 1, 2)
        return self.proj(out + pos)


def _load_plain(path: Path) -> YOLO:
    model = YOLO(path)
    if isinstance(model.model, torch.nn.Module) and _legacy_aattn_layers(model.model):
        raise CardError("has YOLOv12-fork attention layers (qk, v): set compat: yolov12_aattn")
    return model


def _load_yolov12_aattn(path: Path) -> YOLO:
    model = YOLO(path)
    layers = _legacy_aattn_layers(model.model)
    if not layers:
        raise CardError("no YOLOv12-fork attention layers (qk, v): compat yolov12_aattn is wrong")
    for layer in layers:
        # Per instance: other models in this process keep ultralytics' own AAttn.
        layer.__class__ = LegacyAAttn
    return model


def _legacy_aattn_layers(module: torch.nn.Module) -> list[AAttn]:
    return [m for m in module.modules() if isinstance(m, AAttn) and hasattr(m, "qk")]


def _load_fasternet_main(path: Path) -> YOLO:
    return _FasterNetYOLO(str(path), task="detect")


class _UnpickledYOLO(YOLO):
    """A YOLO whose checkpoint we unpickle, resolving ``pickled_classes`` by (module, name).

    ``YOLO(path)`` offers no unpickler hook, so only ``_load`` differs: it reads the file with
    our pickle module, then prepares the model as ultralytics' ``load_checkpoint`` does.
    """

    pickled_classes: ClassVar[dict[tuple[str, str], type]] = {}

    def _load(self, weights: str, task: str | None = None) -> None:
        pickle_module = _pickle_module(self.pickled_classes)
        ckpt = torch.load(
            weights, map_location="cpu", weights_only=False, pickle_module=pickle_module
        )
        self.model, self.ckpt = _model_from_checkpoint(ckpt, weights), ckpt
        self.task = self.model.task
        self.overrides = self.model.args = self._reset_ckpt_args(self.model.args)
        self.ckpt_path = self.model.pt_path
        self.overrides.update(model=weights, task=self.task)
        self.model_name = weights


class _FasterNetYOLO(_UnpickledYOLO):
    pickled_classes = _FASTERNET_CLASSES


def _model_from_checkpoint(ckpt: object, weights: str) -> torch.nn.Module:
    """The checkpoint's model in eval mode, FP32 (mirrors ultralytics' ``load_checkpoint``)."""
    if not isinstance(ckpt, dict):
        raise CardError("not an ultralytics checkpoint (not a dict)")
    model = ckpt.get("ema") or ckpt.get("model")
    if not isinstance(model, torch.nn.Module):
        raise CardError("not an ultralytics checkpoint (no model inside)")
    model = model.float().eval()
    model.args = {**DEFAULT_CFG_DICT, **ckpt.get("train_args", {})}
    model.pt_path = weights
    model.task = getattr(model, "task", None) or guess_model_task(model)
    if not hasattr(model, "stride"):
        model.stride = torch.tensor([32.0])
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = True
    return model


def _pickle_module(classes: dict[tuple[str, str], type]) -> types.SimpleNamespace:
    """A pickle module for ``torch.load`` whose Unpickler resolves ``classes`` by (module, name).

    >>> pm = _pickle_module({("__main__", "Thing"): dict})
    >>> import io; pm.Unpickler(io.BytesIO(b"")).find_class("__main__", "Thing")
    <class 'dict'>
    """

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            if (module, name) in classes:
                return classes[(module, name)]
            if module == "__main__":  # never fall back to whatever script happens to be running
                raise pickle.UnpicklingError(f"checkpoint needs unknown class __main__.{name}")
            return super().find_class(module, name)

    return types.SimpleNamespace(__name__="vigil_pickle", Unpickler=Unpickler, load=pickle.load)


def _check_class_map(card: ModelCard, model: YOLO) -> None:
    names = set(model.names.values())
    if names != set(card.class_map):
        raise CardError(
            f"model {card.name!r}: class_map keys {sorted(card.class_map)} differ from the "
            f"model's classes {sorted(names)}"
        )


def _describe(exc: BaseException) -> str:
    """One line for an exception, preferring the root cause (ultralytics wraps the real one)."""
    root = exc.__cause__ or exc
    lines = str(root).strip().splitlines()
    # torch appends paragraphs of advice after the first sentence; keep the sentence.
    text = f"{type(root).__name__}: {lines[0].split('. ')[0] if lines else ''}"
    if isinstance(root, (pickle.UnpicklingError, EOFError)) or "PytorchStreamReader" in text:
        return f"not a readable checkpoint (corrupt or truncated?): {text}"
    return text


_LOADERS: dict[str, Callable[[Path], YOLO]] = {
    "none": _load_plain,
    "yolov12_aattn": _load_yolov12_aattn,
    "fasternet_main": _load_fasternet_main,
}
