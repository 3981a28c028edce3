"""The classification loss with a per-image class mask, and the trainer that uses it.

A merged set's sources each box only some labels (a fire set never boxes people). Plain
training would call every unboxed person on a fire photo background. Here the BCE of a class
is zeroed on the images of a source that does not label it, so those images teach nothing
about that class, for or against; a source that labels the class keeps its full loss.

Example::

    >>> m = class_mask(["/c/kafeel__a.jpg", "/c/x__b.jpg"], {"kafeel": [1, 2]}, 4)
    >>> m.squeeze(1).tolist()
    [[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from site_merge import source_of


def class_mask(im_files, labelled: dict[str, list[int]], nc: int, device=None) -> torch.Tensor:
    """(batch, 1, nc) of 1 where the image's source labels the class, else 0. An image of a
    source the table does not know keeps every class (a plain, fully labelled set)."""
    mask = torch.ones(len(im_files), 1, nc, device=device)
    for i, f in enumerate(im_files):
        ids = labelled.get(source_of(f))
        if ids is not None:
            mask[i] = 0.0
            mask[i, 0, ids] = 1.0
    return mask


def masked_loss_class():
    """v8DetectionLoss whose BCE is multiplied by the batch's class mask (through the class
    weights the loss already applies per class)."""
    from ultralytics.utils.loss import v8DetectionLoss

    class MaskedDetectionLoss(v8DetectionLoss):
        def __init__(self, model, labelled: dict[str, list[int]]):
            super().__init__(model)
            self.labelled = labelled
            self.base_weights = self.class_weights
            self.reported = False

        def get_assigned_targets_and_loss(self, preds, batch, **kw):
            mask = class_mask(batch["im_file"], self.labelled, self.nc, self.device)
            if not self.reported:  # once: evidence in the log that the mask is in use
                print(
                    f"class mask: {int((mask == 0).sum())} of {mask.numel()} image-class "
                    "pairs of the first batch carry no classification loss"
                )
                self.reported = True
            self.class_weights = mask if self.base_weights is None else mask * self.base_weights
            try:
                return super().get_assigned_targets_and_loss(preds, batch, **kw)
            finally:
                self.class_weights = self.base_weights

    return MaskedDetectionLoss


def read_labelled(data_yaml: Path) -> dict[str, list[int]]:
    """The ``sources.json`` table written beside ``data.yaml`` by site_merge.build."""
    return json.loads((Path(data_yaml).parent / "sources.json").read_text())["labelled"]


def trainer_class():
    """DetectionTrainer whose training model uses the masked loss. The EMA copy (validated and
    saved) keeps the stock criterion, so checkpoints hold no custom class."""
    from ultralytics.models.yolo.detect import DetectionTrainer

    class MaskedTrainer(DetectionTrainer):
        def _setup_train(self):
            super()._setup_train()
            model = self.model.module if hasattr(self.model, "module") else self.model
            model.criterion = masked_loss_class()(model, read_labelled(self.args.data))

        def read_results_csv(self):
            # stock one needs polars, which the GPU machine lacks
            if not self.csv.exists():
                return {}
            with self.csv.open() as f:
                rows = list(csv.DictReader(f))
            return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}

    return MaskedTrainer
