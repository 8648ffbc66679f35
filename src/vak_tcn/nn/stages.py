"""Multi-stage refinement (MS-TCN, Farha & Gall 2019) after a network's first stage.

A TCN's raw output flickers between labels (over-segmentation).  MS-TCN stacks refinement
stages: each takes the previous stage's class probabilities (softmax over classes) and
predicts the classes again, so it learns which label sequences are plausible.  A stage is
MS-TCN's ``SingleStageModel``:

* a 1x1 convolution from ``num_classes`` to ``stage_channels``;
* ``stage_layers`` :class:`DilatedResidualLayer` s, layer ``i`` with dilation ``2**i``: dilated
  convolution (width ``stage_kernel_size``) -> ReLU -> 1x1 convolution -> dropout, plus the
  layer's input;
* a 1x1 convolution to ``num_classes``.

The defaults are MS-TCN's (its ``model.py``/``main.py``): 10 layers, 64 channels, kernel 3,
dropout 0.5 (``nn.Dropout()``'s default); its convolutions have no weight normalisation, nor
have these.  MS-TCN pads centred; here a stage is causal (left padding only) when the network
is causal, and centred (as :class:`~vak_tcn.nn.tcn.TemporalBlock` splits its padding)
otherwise.

:class:`~vak_tcn.nn.tcn.FrameClassifier` builds ``stages - 1`` of them after its first stage
(the network table's ``stages``, default 1: no refinement, the network unchanged).

Reference
---------
Farha, Y. A., & Gall, J. (2019). MS-TCN: Multi-stage temporal convolutional network for action
segmentation. CVPR.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._params import reject_unknown
from .layers import Dropout, FrameConv1d, _check_dropout, _check_int, _FrameModule, _SameLength

__all__ = [
    "STAGE_DEFAULTS",
    "DilatedResidualLayer",
    "RefinementStage",
    "check_stage_args",
    "refinement_stages",
    "stage_args_of",
]

#: the network-table keys of the refinement stages and their defaults (MS-TCN's, but ``stages``)
STAGE_DEFAULTS = {"stages": 1, "stage_layers": 10, "stage_channels": 64, "stage_kernel_size": 3, "stage_dropout": 0.5}


def stage_args_of(values: dict) -> dict:
    """The stage keys of ``values`` (a network's ``locals()`` in its ``__init__``), for ``_build_head``."""
    return {name: values[name] for name in STAGE_DEFAULTS}


def check_stage_args(**stage_args) -> dict:
    """The stage keys with defaults filled in; ValueError/TypeError naming a bad or unknown key."""
    reject_unknown(stage_args, list(STAGE_DEFAULTS), "network parameter(s) for the refinement stages")
    args = {**STAGE_DEFAULTS, **stage_args}
    for name in ("stages", "stage_layers", "stage_channels", "stage_kernel_size"):
        args[name] = _check_int(name, args[name])
    args["stage_dropout"] = _check_dropout("stage_dropout", args["stage_dropout"])
    return args


class DilatedResidualLayer(_SameLength):
    """MS-TCN's layer: dilated conv -> ReLU -> 1x1 conv -> dropout, plus the input.

    Parameters
    ----------
    channels : int
    dilation : int
    kernel_size : int
        Width of the dilated convolution (MS-TCN: 3).
    dropout : float
        After the 1x1 convolution (MS-TCN: 0.5).
    causal : bool
        Left padding only, or centred (see :class:`~vak_tcn.nn.tcn.TemporalBlock`).
    """

    def __init__(self, channels: int, dilation: int, kernel_size: int, dropout: float, causal: bool):
        super().__init__()
        conv_pad = self._init_padding(kernel_size, dilation, causal)
        self.conv_dilated = FrameConv1d(channels, channels, kernel_size, dilation=dilation, padding=conv_pad)
        self.conv_1x1 = FrameConv1d(channels, channels, 1)
        self.dropout = Dropout(dropout)

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.conv_1x1(F.relu(self._crop(self.conv_dilated(x)))))


class RefinementStage(_FrameModule):
    """One refinement stage (MS-TCN's ``SingleStageModel`` on class probabilities).

    Takes ``(batch, num_classes, time)`` probabilities (or ``(batch, num_classes, 1, time)`` frames,
    :func:`~vak_tcn.nn.layers.to_frames4`), returns logits of the same shape.

    Attributes
    ----------
    conv_in, conv_out : torch.nn.Conv1d
        1x1 convolutions from and to ``num_classes``.
    layers : torch.nn.ModuleList
        The :class:`DilatedResidualLayer` s.
    receptive_field : int
        ``1 + (kernel_size - 1) * (2**num_layers - 1)`` frames (one dilated conv per layer).
    lookahead : int
        Future frames an output frame depends on: 0 when causal.
    """

    def __init__(
        self, num_classes: int, channels: int, num_layers: int, kernel_size: int, dropout: float, causal: bool
    ):
        super().__init__()
        self.conv_in = FrameConv1d(num_classes, channels, 1)
        self.layers = nn.ModuleList(
            DilatedResidualLayer(channels, 2**i, kernel_size, dropout, causal) for i in range(num_layers)
        )
        self.conv_out = FrameConv1d(channels, num_classes, 1)
        self.receptive_field = 1 + sum(sum(layer.padding) for layer in self.layers)
        self.lookahead = sum(layer.padding[1] for layer in self.layers)

    def forward_frames(self, probabilities: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(probabilities)
        for layer in self.layers:
            x = layer(x)
        return self.conv_out(x)


def refinement_stages(num_classes: int, causal: bool, **stage_args) -> nn.ModuleList:
    """``stages - 1`` :class:`RefinementStage` s (none for ``stages = 1``); keys as :data:`STAGE_DEFAULTS`."""
    args = check_stage_args(**stage_args)
    return nn.ModuleList(
        RefinementStage(
            num_classes,
            args["stage_channels"],
            args["stage_layers"],
            args["stage_kernel_size"],
            args["stage_dropout"],
            causal,
        )
        for _ in range(args["stages"] - 1)
    )
