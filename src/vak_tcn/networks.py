"""Temporal convolutional networks for frame classification of spectrograms.

* :class:`TCN`: a 1x1 convolution maps the spectrogram's frequency bins to
  ``out_channels`` (as DAS does), then a stack of residual temporal blocks
  (Bai et al. 2018), then a per-frame linear layer to classes.
* :class:`ConvTCN`: TweetyNet's 2-D convolutional front end (Cohen et al.
  2022), the channels x remaining frequency bins stacked and fed through the
  same TCN stack (the "ConvTCN" of the SfN 2023 poster; like SELD-TCN).

Both take ``(batch, channels, freqbins, time)`` and return
``(batch, num_classes, time)`` with the input's time length.

References
----------
Bai, S., Kolter, J. Z., & Koltun, V. (2018). An empirical evaluation of generic
convolutional and recurrent networks for sequence modeling. arXiv:1803.01271.

Cohen, Y., Nicholson, D. A., et al. (2022). Automated annotation of birdsong
with a neural network that segments spectrograms. eLife 11: e63853.

Nicholson, D. & Cohen, Y. (2023). Benchmarking neural network models for
acoustic behavior with vak and VocalPy. Society for Neuroscience poster.
"""

from __future__ import annotations

import inspect
import logging

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

logger = logging.getLogger(__name__)


def receptive_field(num_layers: int, kernel_size: int) -> int:
    """Receptive field in frames of a TCN stack: two dilated convs per block, dilation 2**i."""
    return 1 + 2 * (kernel_size - 1) * (2**num_layers - 1)


def _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal) -> None:
    for name, value in (("out_channels", out_channels), ("num_layers", num_layers), ("kernel_size", kernel_size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"network parameter '{name}' must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"network parameter '{name}' must be >= 1, got {value}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"network parameter 'dropout' must be a number in [0, 1), got {dropout!r}")
    if not isinstance(causal, bool):
        raise TypeError(f"network parameter 'causal' must be true or false, got {causal!r}")


def _reject_unknown(cls: type, unknown: dict) -> None:
    if unknown:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "unknown")]
        raise ValueError(
            f"unknown network parameter(s) for {cls.__name__}: {', '.join(sorted(unknown))}. "
            f"Valid parameters: {', '.join(valid)}"
        )


class TemporalBlock(nn.Module):
    """Residual block of Bai et al. (2018): two dilated, weight-normed convs.

    conv -> ReLU -> dropout -> conv -> ReLU -> dropout, plus a residual path
    (a 1x1 conv when the widths differ), then ReLU of the sum.

    Padding: ``causal=True`` pads ``(kernel_size - 1) * dilation`` frames on the
    left only, so output ``t`` depends on inputs ``<= t``; ``causal=False``
    splits the same amount between both sides (left gets ``total // 2``), so
    the receptive field is centred for offline annotation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float, causal: bool):
        super().__init__()
        total = (kernel_size - 1) * dilation
        self.pad = (total, 0) if causal else (total // 2, total - total // 2)
        self.conv1 = weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation))
        self.conv2 = weight_norm(nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation))
        self.dropout = nn.Dropout(dropout)
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(F.relu(self.conv1(F.pad(x, self.pad))))
        out = self.dropout(F.relu(self.conv2(F.pad(out, self.pad))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class TCNStack(nn.Sequential):
    """``num_layers`` :class:`TemporalBlock` s with dilation ``2**i``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 64,
        num_layers: int = 8,
        kernel_size: int = 2,
        dropout: float = 0.2,
        causal: bool = True,
    ):
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        super().__init__(
            *(
                TemporalBlock(in_channels if i == 0 else out_channels, out_channels, kernel_size, 2**i, dropout, causal)
                for i in range(num_layers)
            )
        )
        self.receptive_field = receptive_field(num_layers, kernel_size)


class _FrameClassifierMixin:
    """Shared by TCN and ConvTCN: receptive field and the training-window check."""

    receptive_field: int

    def check_window(self, window_size: int) -> bool:
        """Warn (logging) if the receptive field exceeds the training window; True if it fits."""
        if self.receptive_field > window_size:
            logger.warning(
                f"{type(self).__name__} receptive field ({self.receptive_field} frames) exceeds the training "
                f"window ({window_size} frames): frames near a window's edges see padding, not song. "
                "Use a bigger window_size or fewer num_layers / a smaller kernel_size."
            )
            return False
        return True


class TCN(_FrameClassifierMixin, nn.Module):
    """Vanilla TCN on spectrograms, without a convolutional front end.

    A 1x1 convolution maps ``num_input_channels * num_freqbins`` features per
    frame to ``out_channels`` (as DAS does), then :class:`TCNStack`, then a
    per-frame linear layer (1x1 conv) to ``num_classes``.

    Parameters
    ----------
    num_classes, num_input_channels, num_freqbins : int
        Set by vak from the dataset.
    out_channels : int
        Width of the TCN (default 64).
    num_layers : int
        Number of residual blocks; block ``i`` has dilation ``2**i`` (default 8).
    kernel_size : int
        Temporal kernel size (default 2).
    dropout : float
        Dropout after each dilated conv (default 0.2).
    causal : bool
        Left padding only (default, the poster's TCN), or centred dilations.
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
        causal: bool = True,
        **unknown,
    ):
        _reject_unknown(type(self), unknown)
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        super().__init__()
        self.num_classes = num_classes
        self.num_input_channels = num_input_channels
        self.num_freqbins = num_freqbins
        self.input_proj = nn.Conv1d(num_input_channels * num_freqbins, out_channels, 1)
        self.tcn = TCNStack(out_channels, out_channels, num_layers, kernel_size, dropout, causal)
        self.fc = nn.Conv1d(out_channels, num_classes, 1)
        self.receptive_field = self.tcn.receptive_field

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)  # (batch, channels * freqbins, time)
        return self.fc(self.tcn(self.input_proj(x)))


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return tuple(int(v) for v in value)
    raise ValueError(f"network parameter '{name}' must be an integer or a pair of integers, got {value!r}")


class ConvTCN(_FrameClassifierMixin, nn.Module):
    """TweetyNet's convolutional front end followed by a vanilla TCN.

    The front end is exactly vak's TweetyNet ``cnn`` (same layers and
    defaults: 32 and 64 filters of 5x5, SAME padding, (8, 1) max-pooling); its
    output channels x remaining frequency bins are stacked per frame, mapped by
    a 1x1 conv to ``out_channels``, and fed through :class:`TCNStack` and a
    per-frame linear layer.  Parameters as :class:`TCN` plus the front end's.
    """

    def __init__(
        self,
        num_classes: int,
        num_input_channels: int = 1,
        num_freqbins: int = 256,
        padding: str = "SAME",
        conv1_filters: int = 32,
        conv1_kernel_size=(5, 5),
        conv2_filters: int = 64,
        conv2_kernel_size=(5, 5),
        pool1_size=(8, 1),
        pool1_stride=(8, 1),
        pool2_size=(8, 1),
        pool2_stride=(8, 1),
        out_channels: int = 64,
        num_layers: int = 8,
        kernel_size: int = 2,
        dropout: float = 0.2,
        causal: bool = True,
        **unknown,
    ):
        from vak.nn.modules import Conv2dTF

        _reject_unknown(type(self), unknown)
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        super().__init__()
        self.num_classes = num_classes
        self.num_input_channels = num_input_channels
        self.num_freqbins = num_freqbins
        self.cnn = nn.Sequential(
            Conv2dTF(num_input_channels, conv1_filters, kernel_size=_pair(conv1_kernel_size, "conv1_kernel_size"), padding=padding),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=_pair(pool1_size, "pool1_size"), stride=_pair(pool1_stride, "pool1_stride")),
            Conv2dTF(conv1_filters, conv2_filters, kernel_size=_pair(conv2_kernel_size, "conv2_kernel_size"), padding=padding),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=_pair(pool2_size, "pool2_size"), stride=_pair(pool2_stride, "pool2_stride")),
        )
        with torch.no_grad():
            probe = self.cnn(torch.zeros(1, num_input_channels, num_freqbins, 16))
        self.cnn_out_features = probe.shape[1] * probe.shape[2]
        self.input_proj = nn.Conv1d(self.cnn_out_features, out_channels, 1)
        self.tcn = TCNStack(out_channels, out_channels, num_layers, kernel_size, dropout, causal)
        self.fc = nn.Conv1d(out_channels, num_classes, 1)
        # the front end's SAME convs widen it by (kernel width - 1) frames each, centred:
        # with causal=True only the TCN part is causal (it sees 4 frames ahead by default)
        time_kernels = (_pair(conv1_kernel_size, "conv1_kernel_size")[1], _pair(conv2_kernel_size, "conv2_kernel_size")[1])
        self.receptive_field = self.tcn.receptive_field + sum(k - 1 for k in time_kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn(x).flatten(1, 2)  # (batch, filters * freqbins_out, time)
        return self.fc(self.tcn(self.input_proj(features)))
