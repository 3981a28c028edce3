"""FasterNet building blocks, written for the fire model's checkpoint.

The fire-detector checkpoint (``light_yolov8_flame.pt``) replaces YOLOv8's C2f layers with
FasterNet blocks (Chen et al., "Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks",
CVPR 2023) and pickles them as ``__main__.FasterNetC2f``, ``__main__.FasterNetBlock`` and
``__main__.PartialConv2d``. ``vigil.detector.compat`` maps those names onto the classes here while
unpickling. Unpickling restores each module's ``__dict__`` without calling ``__init__``, so the
attribute and submodule names below are fixed by the checkpoint; the constructors only build the
same layout for tests and new models.

>>> import torch
>>> layer = FasterNetC2f(96, 64)
>>> layer(torch.zeros(1, 96, 8, 8)).shape
torch.Size([1, 64, 8, 8])
"""

from __future__ import annotations

import torch
from torch import nn

_BN = {"eps": 1e-3, "momentum": 0.03}  # ultralytics' BatchNorm defaults, as in the checkpoint


class PartialConv2d(nn.Module):
    """A 3x3 conv (+BN+ReLU) over the first ``partial_channels`` channels; the rest pass through.

    This is FasterNet's PConv: spatial mixing on a quarter of the channels (``n_div=4``) keeps
    the FLOPs low, and the pointwise convs that follow mix all channels.
    """

    def __init__(self, channels: int, n_div: int = 4) -> None:
        super().__init__()
        self.partial_channels = channels // n_div
        c = self.partial_channels
        self.conv = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(c, **_BN)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        part, rest = torch.split(x, [self.partial_channels, x.shape[1] - self.partial_channels], 1)
        part = self.activation(self.bn(self.conv(part)))
        return torch.cat((part, rest), 1)


class FasterNetBlock(nn.Module):
    """PConv, then an inverted-residual pair of 1x1 convs (expand, ReLU, project), plus shortcut."""

    def __init__(self, channels: int, expansion: int = 2, shortcut: bool = True) -> None:
        super().__init__()
        hidden = channels * expansion
        self.pconv = PartialConv2d(channels)
        self.pwconv1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden, **_BN)
        self.act1 = nn.ReLU(inplace=True)
        self.pwconv2 = nn.Conv2d(hidden, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels, **_BN)
        self.use_shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pconv(x)
        y = self.act1(self.bn1(self.pwconv1(y)))
        y = self.bn2(self.pwconv2(y))
        return x + y if self.use_shortcut else y


class FasterNetC2f(nn.Module):
    """Drop-in for ultralytics' C2f: an optional 1x1 transition (c1 -> c2), then n blocks."""

    def __init__(self, c1: int, c2: int, n: int = 1) -> None:
        super().__init__()
        self.c1, self.c2 = c1, c2
        self.transition = (
            nn.Sequential(
                nn.Conv2d(c1, c2, 1, bias=False), nn.BatchNorm2d(c2, **_BN), nn.ReLU(inplace=True)
            )
            if c1 != c2
            else None
        )
        self.blocks = nn.ModuleList(FasterNetBlock(c2) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transition is not None:
            x = self.transition(x)
        for block in self.blocks:
            x = block(x)
        return x
