"""The temporal convolutional network: blocks, stack, and the TCN frame classifier.

* :class:`TemporalBlock`: the residual block of the "vanilla" TCN of
  Bai et al. (2018).
* :class:`TCNStack`: ``num_layers`` temporal blocks, dilation ``2**i``.
* :class:`FrameClassifier`: the part every vak-tcn network shares: per-frame
  features -> 1x1 convolution to ``out_channels`` -> :class:`TCNStack` -> 1x1
  convolution to classes.  A network only says how it makes its features.
* :class:`TCN`: the features are the spectrogram's channels x frequency bins
  (as DAS does).  :class:`vak_tcn.nn.convtcn.ConvTCN` puts TweetyNet's
  convolutional front end first.

Networks take ``(batch, channels, freqbins, time)`` and return
``(batch, num_classes, time)`` with the input's time length.  Pure PyTorch.

References
----------
Bai, S., Kolter, J. Z., & Koltun, V. (2018). An empirical evaluation of generic
convolutional and recurrent networks for sequence modeling. arXiv:1803.01271.
"""

from __future__ import annotations

import logging
import numbers
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from .._params import parameters, reject_unknown

__all__ = [
    "Dropout",
    "FrameClassifier",
    "TemporalBlock",
    "TCNStack",
    "TCN",
    "FrameConv1d",
    "from_frames4",
    "inference_copy",
    "receptive_field",
    "to_frames4",
]

logger = logging.getLogger(__name__)


def inference_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` for inference: eval mode, weight norm folded into plain weights.

    Weight normalisation recomputes ``g * v / ||v||`` on every forward pass; for inference
    that is wasted work, so the copy holds plain convolutions with the resulting weights
    (the same outputs; tested).  Gradients are off.  The original ``net`` is not changed.
    (``torch.nn.utils.parametrize.remove_parametrizations`` cannot be used on a deep copy:
    the copy shares its dynamically made class with the original, and removing the
    parametrization from one breaks the other.)
    """
    import copy

    from torch.nn.utils import parametrize

    net = copy.deepcopy(net).eval()
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if parametrize.is_parametrized(child, "weight") and isinstance(child, nn.modules.conv._ConvNd):
                plain = (
                    type(child)
                    .__bases__[0](
                        child.in_channels,
                        child.out_channels,
                        child.kernel_size,
                        stride=child.stride,
                        padding=child.padding,
                        dilation=child.dilation,
                        groups=child.groups,
                        bias=child.bias is not None,
                        padding_mode=child.padding_mode,
                    )
                    .to(device=child.weight.device, dtype=child.weight.dtype)
                )
                with torch.no_grad():
                    plain.weight.copy_(child.weight)
                    if child.bias is not None:
                        plain.bias.copy_(child.bias)
                setattr(parent, name, plain.eval())
    for param in net.parameters():
        param.requires_grad_(False)
    return net


def receptive_field(num_layers: int, kernel_size: int) -> int:
    """Receptive field, in frames, of a :class:`TCNStack`.

    Each of the ``num_layers`` blocks has two convolutions of width
    ``kernel_size`` with dilation ``2**i``, so the receptive field is
    ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)``.
    """
    return 1 + 2 * (kernel_size - 1) * (2**num_layers - 1)


# ---------------------------------------------------------------- frame layout
# Inside a network, frames travel as (batch, channels, 1, time) tensors, channels-last on the CPU
# (memory order batch, time, channels), and every Conv1d runs as a 2-D convolution of height 1
# with channels-last weights (FrameConv1d). Written here because it is measurably better: oneDNN runs
# channels-last 2-D convolutions without reordering its inputs, where it reorders (batch,
# channels, time) ones on every call. Measured on the 2-core CPU, batch 8, 2000 frames, forward +
# backward: 64 channels, kernel 2, 15.1 -> 8.9 ms; forward alone 7.5 -> 1.8 ms (docs/benchmarks.md).
# The modules stay Conv1d (same parameters, state_dict keys and hooks, so every checkpoint loads)
# and take (batch, channels, time) inputs too.
def to_frames4(x: torch.Tensor) -> torch.Tensor:
    """``(batch, channels, time)`` -> ``(batch, channels, 1, time)``, channels-last on the CPU."""
    x = x.unsqueeze(2)
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def from_frames4(x: torch.Tensor) -> torch.Tensor:
    """``(batch, channels, 1, time)`` -> a contiguous ``(batch, channels, time)``."""
    return x.squeeze(2).contiguous()


class FrameConv1d(nn.Conv1d):
    """A :class:`torch.nn.Conv1d` that also takes ``(batch, channels, 1, time)`` frames
    (:func:`to_frames4`), as a 2-D convolution of height 1 with channels-last weights on the CPU.

    The same parameters, state_dict keys and hooks as ``nn.Conv1d``; a 3-D input runs
    ``nn.Conv1d`` itself.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return super().forward(x)
        weight = self.weight.unsqueeze(2)
        if x.device.type == "cpu":
            weight = weight.contiguous(memory_format=torch.channels_last)
        return F.conv2d(
            x,
            weight,
            self.bias,
            stride=(1, self.stride[0]),
            padding=(0, self.padding[0]),
            dilation=(1, self.dilation[0]),
        )


class _FrameModule(nn.Module):
    """A module that works on ``(batch, channels, 1, time)`` frames (:meth:`forward_frames`) and
    also takes, and then returns, ``(batch, channels, time)`` tensors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            return from_frames4(self.forward_frames(to_frames4(x)))
        return self.forward_frames(x)

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


# ---------------------------------------------------------------- validation
def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"network parameter '{name}' must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"network parameter '{name}' must be >= {minimum}, got {value}")
    return int(value)


def _check_dropout(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"network parameter '{name}' must be a number in [0, 1), got {value!r}")
    return float(value)


def _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal) -> None:
    for name, value in (("out_channels", out_channels), ("num_layers", num_layers), ("kernel_size", kernel_size)):
        _check_int(name, value)
    _check_dropout("dropout", dropout)
    if not isinstance(causal, bool):
        raise TypeError(f"network parameter 'causal' must be true or false (a bool), got {causal!r}")


def _reject_unknown(cls: type, unknown: dict) -> None:
    """A misspelt key in the TOML ``network`` table: name it and list the valid ones."""
    reject_unknown(unknown, parameters(cls.__init__), f"network parameter(s) for {cls.__name__}")


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a 2-element tuple/list (TOML gives lists) -> a tuple of two ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (_check_int(name, value), _check_int(name, value))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(_check_int(name, v) for v in value)
    raise ValueError(f"network parameter '{name}' must be an integer or a pair of integers, got {value!r}")


# ---------------------------------------------------------------- building blocks
class Dropout(nn.Dropout):
    """:class:`torch.nn.Dropout` whose training-time mask is drawn faster on the CPU.

    Elementwise dropout with probability ``p``, outputs scaled to keep the mean: the
    same module, state and behaviour as ``nn.Dropout`` (eval mode: identity; on GPUs
    and for ``p == 0``: ``nn.Dropout`` itself). Only how the CPU mask is drawn differs.

    Written here because it is measurably better: on a 2-core CPU, torch's
    ``bernoulli_`` (behind ``nn.Dropout``) took 44 % of a TCN training step (8.9 ms
    per (8, 64, 2000) tensor, 16 calls a step). This mask takes one 64-bit draw of
    torch's generator per four elements and keeps an element when its 16-bit lane is
    at or above ``p`` quantised to 1/65536 (the scale uses that quantised ``p``, so
    the output stays unbiased): 2.6 ms instead of 9.6 ms for that tensor, forward +
    backward 3.3 instead of 10.3 ms. Seeding ``torch.manual_seed`` makes it
    reproducible, as for ``nn.Dropout``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.p >= 1 or x.numel() == 0:
            return super().forward(x)
        threshold = round(self.p * 65536)  # drop when lane < threshold - 32768
        words = torch.randint(-(2**63), 2**63 - 1, ((x.numel() + 3) // 4,), dtype=torch.int64)
        lanes = words.view(torch.int16)[: x.numel()]
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            n, c, h, w = x.shape  # the mask in x's memory order, so x * keep stays channels-last
            lanes = lanes.view(n, h, w, c).permute(0, 3, 1, 2)
        else:
            lanes = lanes.view(x.shape)
        keep = (lanes >= threshold - 32768).to(x.dtype).mul_(65536 / (65536 - threshold))
        return x * keep if not self.inplace else x.mul_(keep)


class _SameLength(_FrameModule):
    """Base of modules whose dilated convolutions keep the time length: padding, then a crop.

    :meth:`_init_padding` pads ``(kernel_size - 1) * dilation`` frames in all: on the left only
    when causal, else ``total // 2`` on the left and the rest on the right.  ``Conv1d`` pads
    both sides by ``max(left, right)`` (its ``padding``) and :meth:`_crop` takes a slice (a
    view) of its output: faster to train than ``F.pad`` + an unpadded conv (docs/benchmarks.md).
    """

    def _init_padding(self, kernel_size: int, dilation: int, causal: bool) -> int:
        """Set ``padding`` (left, right); return the ``Conv1d`` padding to build the convs with."""
        total = (kernel_size - 1) * dilation
        left = total if causal else total // 2
        #: (left, right) frames of zero padding before each convolution
        self.padding = (left, total - left)
        conv_pad = max(left, total - left)
        self._start = conv_pad - left  # output frame t is at t + conv_pad - left
        self._trim = 2 * conv_pad - total  # extra output frames to drop
        return conv_pad

    def _crop(self, y: torch.Tensor) -> torch.Tensor:
        if self._trim == 0:
            return y
        return y[..., self._start : y.shape[-1] - self._trim + self._start]


class TemporalBlock(_SameLength):
    """Residual block of the "vanilla" TCN of Bai et al. (2018).

    ``conv1 -> ReLU -> dropout -> conv2 -> ReLU -> dropout``, both dilated 1-D
    convolutions with weight normalisation, plus a residual path (a 1x1
    convolution when ``in_channels != out_channels``, else the identity); the
    block returns ``ReLU(out + residual)``.

    Parameters
    ----------
    in_channels : int
        Number of input channels.
    out_channels : int
        Number of output channels of both dilated convolutions.
    kernel_size : int
        Temporal width of both convolutions.
    dilation : int
        Dilation of both convolutions.
    dropout : float
        Dropout probability after each convolution's ReLU. Default 0.2.
    causal : bool
        If True (default), pad ``(kernel_size - 1) * dilation`` frames on the
        left only, so output frame ``t`` depends only on input frames
        ``<= t``. If False, split that total between the two sides, ``total // 2``
        on the left and the rest on the right (centred, for offline annotation).

    Notes
    -----
    The output has the input's time length for any length, odd or even.

    Padding is implemented by letting ``Conv1d`` pad both sides by
    ``max(left, right)`` frames and taking a slice (a view, no copy) of its
    output, rather than ``F.pad`` before an unpadded ``Conv1d``: identical
    outputs, 3-11 % faster training (measurements in docs/benchmarks.md).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.2,
        causal: bool = True,
    ):
        super().__init__()
        _check_int("in_channels", in_channels)
        _check_int("dilation", dilation)
        _check_tcn_args(out_channels, 1, kernel_size, dropout, causal)
        conv_pad = self._init_padding(kernel_size, dilation, causal)
        self.conv1 = weight_norm(
            FrameConv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=conv_pad)
        )
        self.conv2 = weight_norm(
            FrameConv1d(out_channels, out_channels, kernel_size, dilation=dilation, padding=conv_pad)
        )
        self.dropout = Dropout(dropout)
        self.downsample = FrameConv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.receptive_field = 1 + 2 * sum(self.padding)

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(F.relu(self._crop(self.conv1(x))))
        out = self.dropout(F.relu(self._crop(self.conv2(out))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class TCNStack(nn.Sequential):
    """``num_layers`` :class:`TemporalBlock` s, block ``i`` with dilation ``2**i``.

    The generic TCN of Bai et al. (2018).

    Parameters
    ----------
    in_channels : int
        Number of input channels of the first block.
    out_channels : int
        Width of every block. Default 64.
    num_layers : int
        Number of blocks. Default 8.
    kernel_size : int
        Temporal kernel size of every convolution. Default 2.
    causal : bool
        Causal (default) or centred padding; see :class:`TemporalBlock`.
    dropout : float
        Dropout probability. Default 0.2.

    All but ``in_channels`` are keyword-only.

    Attributes
    ----------
    receptive_field : int
        ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)`` frames.
    lookahead : int
        Future frames an output frame depends on: 0 when causal.
    """

    def __init__(self, in_channels, *, out_channels=64, num_layers=8, kernel_size=2, causal=True, dropout=0.2):
        _check_int("in_channels", in_channels)
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        super().__init__(
            *(
                TemporalBlock(in_channels if i == 0 else out_channels, out_channels, kernel_size, 2**i, dropout, causal)
                for i in range(num_layers)
            )
        )
        self.receptive_field = receptive_field(num_layers, kernel_size)
        #: future frames an output frame depends on (0 when causal)
        self.lookahead = sum(2 * block.padding[1] for block in self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, channels, 1, time)`` frames, or ``(batch, channels, time)`` (returned as such)."""
        if x.dim() == 3:
            return from_frames4(self.forward(to_frames4(x)))
        for block in self:
            x = block(x)
        return x

    def __getitem__(self, idx):
        # nn.Sequential would rebuild a slice as TCNStack(OrderedDict(...)); a slice is a plain Sequential
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


# ---------------------------------------------------------------- networks
class FrameClassifier(nn.Module):
    """What every vak-tcn network shares: features -> 1x1 conv -> :class:`TCNStack` -> 1x1 conv,
    then optional refinement stages (MS-TCN, :mod:`vak_tcn.nn.stages`).

    A subclass builds whatever makes its per-frame features, then calls
    :meth:`_build_head` with their number (and the network table's stage keys, ``stages``,
    ``stage_layers``, ...), and implements :meth:`features`
    (``(batch, channels, freqbins, time)`` -> ``(batch, features, time)``).

    :meth:`forward` returns the last stage's logits; :meth:`forward_stages` every stage's (the
    training loss is summed over them).

    Attributes
    ----------
    input_proj : torch.nn.Conv1d
        The 1x1 convolution from the features to ``out_channels``.
    tcn : TCNStack
    fc : torch.nn.Conv1d
        The per-frame linear layer to classes.
    refinement : torch.nn.ModuleList
        The ``stages - 1`` :class:`~vak_tcn.nn.stages.RefinementStage` s (empty for one stage:
        the same parameters and state_dict keys as a network without stages).
    num_stages : int
        ``stages``: 1 + the number of refinement stages.
    receptive_field : int
        In frames, of the whole network, refinement stages included.
    lookahead : int
        Future frames an output frame depends on (0 for a causal network), stages included.
    """

    receptive_field: int
    lookahead: int

    def _build_head(
        self,
        in_features: int,
        num_classes: int,
        out_channels: int,
        num_layers: int,
        kernel_size: int,
        dropout: float,
        causal: bool,
        front_receptive_field: int = 1,
        front_lookahead: int = 0,
        **stage_args,
    ) -> None:
        from .stages import check_stage_args, refinement_stages  # stages builds on this module

        check_stage_args(**stage_args)  # before any weight is drawn
        self.input_proj = FrameConv1d(in_features, out_channels, 1)
        self.tcn = TCNStack(
            out_channels,
            out_channels=out_channels,
            num_layers=num_layers,
            kernel_size=kernel_size,
            causal=causal,
            dropout=dropout,
        )
        self.fc = FrameConv1d(out_channels, num_classes, 1)
        # after the first stage's layers, so that a seed gives it the same weights whatever `stages` is
        self.refinement = refinement_stages(num_classes, causal, **stage_args)
        self.num_stages = 1 + len(self.refinement)
        # each stage sees its input's receptive field, widened by its own
        self.receptive_field = (
            self.tcn.receptive_field + front_receptive_field - 1 + sum(s.receptive_field - 1 for s in self.refinement)
        )
        self.lookahead = self.tcn.lookahead + front_lookahead + sum(s.lookahead for s in self.refinement)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The logits of every stage, first to last (one tensor for ``stages = 1``).

        Each refinement stage takes the softmax over classes of the previous stage's logits.
        """
        out = self.fc(self.tcn(self.input_proj(to_frames4(self.features(x)))))
        outs = [out]
        for stage in self.refinement:
            out = stage(F.softmax(out, dim=1))
            outs.append(out)
        return [from_frames4(out) for out in outs]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's logits ``(batch, num_classes, time)``."""
        return self.forward_stages(x)[-1]

    def window_warning(self, window_size: int) -> str | None:
        """The warning for a training window smaller than the receptive field, or None."""
        if self.receptive_field <= window_size:
            return None
        return (
            f"{type(self).__name__} receptive field ({self.receptive_field} frames) exceeds the training "
            f"window ({window_size} frames): frames near a window's edges see padding, not song. "
            "Use a bigger window_size or fewer num_layers / a smaller kernel_size"
            + (" / fewer stages or stage_layers." if self.refinement else ".")
        )

    def check_window(self, window_size: int) -> bool:
        """Check that the receptive field fits in the training window.

        Parameters
        ----------
        window_size : int
            Number of frames in a training window (vak's ``window_size``).

        Returns
        -------
        bool
            True if ``receptive_field <= window_size``; otherwise False, after
            logging :meth:`window_warning` at WARNING on this module's logger.
        """
        warning = self.window_warning(window_size)
        if warning is not None:
            logger.warning(warning)
        return warning is None


class TCN(FrameClassifier):
    """Vanilla TCN (Bai et al. 2018) on spectrograms, without a convolutional front end.

    A 1x1 convolution maps the ``num_input_channels * num_freqbins`` features
    of each frame to ``out_channels`` (as DAS does), then :class:`TCNStack`,
    then a per-frame linear layer (a 1x1 convolution) to ``num_classes``.

    Parameters
    ----------
    num_classes : int
        Number of classes; set by vak from the label map.
    num_input_channels : int
        Channels of the input spectrogram; set by vak. Default 1.
    num_freqbins : int
        Frequency bins of the input spectrogram; set by vak. Default 256.
    out_channels : int
        Width of the TCN. Default 64.
    num_layers : int
        Number of residual blocks; block ``i`` has dilation ``2**i``. Default 8.
    kernel_size : int
        Temporal kernel size. Default 2.
    dropout : float
        Dropout after each dilated convolution, in [0, 1). Default 0.2.
    causal : bool
        Left padding only (the poster's TCN, and what live annotation needs), or centred
        dilations (default: offline, a centred TCN labels onsets on time and measured far
        better, docs/models.md).
    stages : int
        Stages in all (MS-TCN): ``stages - 1`` refinement stages after the first. Default 1
        (none).
    stage_layers, stage_channels, stage_kernel_size, stage_dropout
        Each refinement stage's layers, width, kernel size and dropout; MS-TCN's defaults 10,
        64, 3, 0.5 (:mod:`vak_tcn.nn.stages`).

    Attributes
    ----------
    input_proj : torch.nn.Conv1d
        The 1x1 convolution over stacked channels x frequency bins.
    tcn : TCNStack
    fc : torch.nn.Conv1d
        The per-frame linear layer to classes.
    refinement : torch.nn.ModuleList
        The refinement stages (empty for ``stages = 1``).
    receptive_field : int
        In frames: ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)``, plus
        ``(stage_kernel_size - 1) * (2**stage_layers - 1)`` per refinement stage.
    lookahead : int
        Future frames an output frame depends on: 0 when causal.

    Notes
    -----
    Input ``(batch, num_input_channels, num_freqbins, time)``, output
    ``(batch, num_classes, time)``. With ``causal=True``, output frame ``t``
    depends only on input frames ``<= t``.

    References
    ----------
    Bai, S., Kolter, J. Z., & Koltun, V. (2018). An empirical evaluation of
    generic convolutional and recurrent networks for sequence modeling.
    arXiv:1803.01271.
    """

    def __init__(
        self,
        num_classes: int,
        num_input_channels: int = 1,
        num_freqbins: int = 256,
        out_channels: int = 64,
        num_layers: int = 8,
        kernel_size: int = 2,
        dropout: float = 0.2,
        causal: bool = False,
        stages: int = 1,
        stage_layers: int = 10,
        stage_channels: int = 64,
        stage_kernel_size: int = 3,
        stage_dropout: float = 0.5,
        **unknown,
    ):
        _reject_unknown(type(self), unknown)
        for name, value in (
            ("num_classes", num_classes),
            ("num_input_channels", num_input_channels),
            ("num_freqbins", num_freqbins),
        ):
            _check_int(name, value)
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        super().__init__()
        self.num_classes = num_classes
        self.num_input_channels = num_input_channels
        self.num_freqbins = num_freqbins
        from .stages import stage_args_of

        stage_args = stage_args_of(locals())  # stages, stage_layers, ...
        in_features = num_input_channels * num_freqbins
        self._build_head(in_features, num_classes, out_channels, num_layers, kernel_size, dropout, causal, **stage_args)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1, 2)  # (batch, channels * freqbins, time)
