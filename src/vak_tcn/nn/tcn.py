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
``(batch, num_classes, time)`` with the input's time length.  Their layers (frame
layout, :class:`~vak_tcn.nn.layers.FrameConv1d`, :class:`~vak_tcn.nn.layers.Dropout`)
and parameter checks are in :mod:`vak_tcn.nn.layers`; the refinement stages in
:mod:`vak_tcn.nn.stages`.  Pure PyTorch.

References
----------
Bai, S., Kolter, J. Z., & Koltun, V. (2018). An empirical evaluation of generic
convolutional and recurrent networks for sequence modeling. arXiv:1803.01271.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from .layers import (
    Dropout,
    FrameConv1d,
    _check_int,
    _check_lookahead,
    _check_tcn_args,
    _reject_unknown,
    _SameLength,
    from_frames4,
    to_frames4,
)
from .stages import check_stage_args, refinement_stages, stage_args_of

__all__ = [
    "FrameClassifier",
    "TemporalBlock",
    "TCNStack",
    "TCN",
    "inference_copy",
    "receptive_field",
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


# ---------------------------------------------------------------- the TCN
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
    delay : int
        Of those, the frames a causal network's output is read late (the network table's
        ``lookahead``; 0 when not given): the input is padded with ``delay`` zero frames at its
        end and the first ``delay`` output frames dropped, so output frame ``t`` depends on input
        frames ``<= t + delay`` (plus a front end's own look-ahead).
    """

    receptive_field: int
    lookahead: int
    delay: int = 0

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
        delay: int = 0,
        **stage_args,
    ) -> None:
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
        ahead = self.tcn.lookahead + front_lookahead + sum(s.lookahead for s in self.refinement)
        if ahead + delay > self.receptive_field - 1:
            raise ValueError(
                f"network parameter 'lookahead' ({delay}) must be less than the receptive field ({self.receptive_field} "
                "frames): a frame's label would not hear the frame itself"
            )
        self.delay = delay
        self.lookahead = ahead + delay

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The logits of every stage, first to last (one tensor for ``stages = 1``).

        Each refinement stage takes the softmax over classes of the previous stage's logits.
        With a ``delay`` (the network table's ``lookahead``), every stage's output is read that many
        frames late (the input padded at its end with zero frames, as at any edge).
        """
        if self.delay:
            x = F.pad(x, (0, self.delay))
        out = self.fc(self.tcn(self.input_proj(to_frames4(self.features(x)))))
        outs = [out]
        for stage in self.refinement:
            out = stage(F.softmax(out, dim=1))
            outs.append(out)
        return [from_frames4(out)[..., self.delay :] for out in outs]

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
    lookahead : int, optional
        With ``causal = true``: read the causal network's output this many frames late, so each
        frame is labelled with that many future frames heard (0 = causal; live emits each frame
        this many frames late). Default: none (0).
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
        lookahead: int | None = None,
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
        delay = _check_lookahead(lookahead, causal)
        super().__init__()
        self.num_classes = num_classes
        self.num_input_channels = num_input_channels
        self.num_freqbins = num_freqbins
        stage_args = stage_args_of(locals())  # stages, stage_layers, ...
        in_features = num_input_channels * num_freqbins
        self._build_head(
            in_features, num_classes, out_channels, num_layers, kernel_size, dropout, causal, delay=delay, **stage_args
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1, 2)  # (batch, channels * freqbins, time)
