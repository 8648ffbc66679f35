"""Temporal convolutional networks for frame classification of spectrograms.

* :class:`TemporalBlock`: the residual block of the "vanilla" TCN of
  Bai et al. (2018).
* :class:`TCNStack`: ``num_layers`` temporal blocks, dilation ``2**i``.
* :class:`TCN`: a 1x1 convolution maps the spectrogram's channels x frequency
  bins to ``out_channels`` (as DAS does), then a :class:`TCNStack`, then a
  per-frame linear layer to classes.
* :class:`ConvTCN`: TweetyNet's 2-D convolutional front end (Cohen et al.
  2022), its channels x remaining frequency bins stacked and fed through the
  same TCN stack (the "ConvTCN" of the SfN 2023 poster; like SELD-TCN).

Both networks take ``(batch, channels, freqbins, time)`` and return
``(batch, num_classes, time)`` with the input's time length.

References
----------
Bai, S., Kolter, J. Z., & Koltun, V. (2018). An empirical evaluation of generic
convolutional and recurrent networks for sequence modeling. arXiv:1803.01271.

Cohen, Y., Nicholson, D. A., Sanchioni, A., Mallaber, E. K., Skidanova, V., &
Gardner, T. J. (2022). Automated annotation of birdsong with a neural network
that segments spectrograms. eLife 11: e63853.

Nicholson, D. & Cohen, Y. (2023). Benchmarking neural network models for
acoustic behavior with vak and VocalPy. Society for Neuroscience 2023 poster.
"""

from __future__ import annotations

import inspect
import logging
import numbers
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["Dropout", "TemporalBlock", "TCNStack", "TCN", "ConvTCN", "receptive_field"]

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
                plain = type(child).__bases__[0](
                    child.in_channels, child.out_channels, child.kernel_size, stride=child.stride, padding=child.padding,
                    dilation=child.dilation, groups=child.groups, bias=child.bias is not None, padding_mode=child.padding_mode,
                ).to(device=child.weight.device, dtype=child.weight.dtype)
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


# ---------------------------------------------------------------- validation
def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"network parameter '{name}' must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"network parameter '{name}' must be >= {minimum}, got {value}")
    return int(value)


def _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal) -> None:
    for name, value in (("out_channels", out_channels), ("num_layers", num_layers), ("kernel_size", kernel_size)):
        _check_int(name, value)
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"network parameter 'dropout' must be a number in [0, 1), got {dropout!r}")
    if not isinstance(causal, bool):
        raise TypeError(f"network parameter 'causal' must be true or false (a bool), got {causal!r}")


def _reject_unknown(cls: type, unknown: dict) -> None:
    """A misspelt key in the TOML ``network`` table: name it and list the valid ones."""
    if unknown:
        valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "unknown")]
        raise ValueError(
            f"unknown network parameter(s) for {cls.__name__}: {', '.join(sorted(unknown))}. "
            f"Valid parameters: {', '.join(valid)}"
        )


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
        lanes = words.view(torch.int16)[: x.numel()].view(x.shape)
        keep = (lanes >= threshold - 32768).to(x.dtype).mul_(65536 / (65536 - threshold))
        return x * keep if not self.inplace else x.mul_(keep)


class TemporalBlock(nn.Module):
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
    output, rather than ``F.pad`` (a padded copy of the input) before an
    unpadded ``Conv1d``; both give identical outputs. Measured on CPU, a
    :class:`TCNStack` of 8 blocks, batch 8, 64 channels, T = 2000, best of 10,
    in ms, F.pad -> slice:

    ==================  ===============  ===============
    1 thread            train fwd+bwd    eval fwd
    ==================  ===============  ===============
    kernel 2, causal    456 -> 412       98 -> 83
    kernel 2, centred   457 -> 438       87 -> 80
    kernel 3, causal    566 -> 505       103 -> 113
    kernel 3, centred   553 -> 539       162 -> 146
    ==================  ===============  ===============

    (2 threads, train fwd+bwd: 315 -> 295, 311 -> 302, 372 -> 338, 374 -> 355.)
    Training, which dominates, is 3-11 % faster with the slice; only causal
    kernel-3 inference is a little slower (the discarded extra outputs).
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
        total = (kernel_size - 1) * dilation
        left = total if causal else total // 2
        #: (left, right) frames of zero padding before each convolution
        self.padding = (left, total - left)
        # Conv1d pads both sides by conv_pad and we slice (a view): faster to train than
        # F.pad + unpadded conv, see the timings in Notes. Output frame t is at t + conv_pad - left.
        conv_pad = max(left, total - left)
        self._start = conv_pad - left
        self._trim = 2 * conv_pad - total  # extra output frames to drop
        self.conv1 = weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, padding=conv_pad))
        self.conv2 = weight_norm(nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation, padding=conv_pad))
        self.dropout = Dropout(dropout)
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None
        self.receptive_field = 1 + 2 * total

    def _crop(self, y: torch.Tensor) -> torch.Tensor:
        if self._trim == 0:
            return y
        return y[..., self._start : y.shape[-1] - self._trim + self._start]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
    dropout : float
        Dropout probability. Default 0.2.
    causal : bool
        Causal (default) or centred padding; see :class:`TemporalBlock`.

    Attributes
    ----------
    receptive_field : int
        ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)`` frames.
    lookahead : int
        Future frames an output frame depends on: 0 when causal.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 64,
        num_layers: int = 8,
        kernel_size: int = 2,
        dropout: float = 0.2,
        causal: bool = True,
    ):
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

    def __getitem__(self, idx):
        # nn.Sequential would rebuild a slice as TCNStack(OrderedDict(...)); a slice is a plain Sequential
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


class _FrameClassifierMixin:
    """Shared by TCN and ConvTCN: the receptive field and the training-window check."""

    receptive_field: int

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
            logging a WARNING on the ``vak_tcn.networks`` logger.
        """
        if self.receptive_field > window_size:
            logger.warning(
                f"{type(self).__name__} receptive field ({self.receptive_field} frames) exceeds the training "
                f"window ({window_size} frames): frames near a window's edges see padding, not song. "
                "Use a bigger window_size or fewer num_layers / a smaller kernel_size."
            )
            return False
        return True


# ---------------------------------------------------------------- networks
class TCN(_FrameClassifierMixin, nn.Module):
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
        Left padding only (default, the poster's TCN), or centred dilations.

    Attributes
    ----------
    input_proj : torch.nn.Conv1d
        The 1x1 convolution over stacked channels x frequency bins.
    tcn : TCNStack
    fc : torch.nn.Conv1d
        The per-frame linear layer to classes.
    receptive_field : int
        In frames: ``1 + 2 * (kernel_size - 1) * (2**num_layers - 1)``.
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
        causal: bool = True,
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
        self.input_proj = nn.Conv1d(num_input_channels * num_freqbins, out_channels, 1)
        self.tcn = TCNStack(out_channels, out_channels, num_layers, kernel_size, dropout, causal)
        self.fc = nn.Conv1d(out_channels, num_classes, 1)
        self.receptive_field = self.tcn.receptive_field
        self.lookahead = self.tcn.lookahead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)  # (batch, channels * freqbins, time)
        return self.fc(self.tcn(self.input_proj(x)))


class ConvTCN(_FrameClassifierMixin, nn.Module):
    """TweetyNet's convolutional front end followed by a vanilla TCN.

    The front end ``cnn`` is exactly vak's ``TweetyNet.cnn`` (Cohen et al.
    2022): ``Conv2dTF -> ReLU -> MaxPool2d`` twice, same defaults (32 then 64
    filters of 5x5, SAME padding, (8, 1) max-pooling). Its output channels x
    remaining frequency bins are stacked per frame, mapped by a 1x1 convolution
    to ``out_channels``, and fed through :class:`TCNStack` (Bai et al. 2018)
    and a per-frame linear layer (1x1 convolution) to classes. This is the
    ConvTCN of the SfN 2023 poster: TweetyNet with its BiLSTM replaced by a TCN.

    Parameters
    ----------
    num_classes, num_input_channels, num_freqbins : int
        Set by vak from the dataset (defaults as :class:`TCN`).
    padding : str
        Padding of the two ``Conv2dTF`` layers. Only ``"SAME"`` (default) keeps
        the time length, so only it is accepted unless both kernels are 1 frame wide.
    conv1_filters, conv2_filters : int
        Filters of the two convolutions. Defaults 32 and 64.
    conv1_kernel_size, conv2_kernel_size : int or pair of ints
        (freq, time) kernel sizes; lists from TOML are accepted. Default (5, 5).
    pool1_size, pool1_stride, pool2_size, pool2_stride : int or pair of ints
        (freq, time) max-pooling windows and strides. Default (8, 1); the time
        entries must stay 1 so the time length is kept.
    out_channels, num_layers, kernel_size, dropout, causal
        The TCN's, as :class:`TCN`.

    Attributes
    ----------
    cnn : torch.nn.Sequential
        The TweetyNet front end.
    cnn_out_features : int
        Channels x frequency bins out of ``cnn`` (TweetyNet's ``rnn_input_size``).
    input_proj : torch.nn.Conv1d
    tcn : TCNStack
    fc : torch.nn.Conv1d
    receptive_field : int
        In frames: the TCN's plus ``time kernel - 1`` for each front-end conv
        (``receptive_field(num_layers, kernel_size) + 8`` by default).
    lookahead : int
        Future frames an output frame depends on. The front end's SAME
        convolutions are centred, so even with ``causal=True`` the network sees
        this many frames ahead (4 by default); only the TCN part is causal.

    References
    ----------
    Bai, S., Kolter, J. Z., & Koltun, V. (2018). arXiv:1803.01271.

    Cohen, Y., Nicholson, D. A., et al. (2022). Automated annotation of
    birdsong with a neural network that segments spectrograms. eLife 11: e63853.

    Nicholson, D. & Cohen, Y. (2023). SfN 2023 poster (ConvTCN).
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
        # imported here, not at module level: vak_tcn is loaded as a plugin while vak imports
        from vak.nn.modules import Conv2dTF

        _reject_unknown(type(self), unknown)
        for name, value in (
            ("num_classes", num_classes),
            ("num_input_channels", num_input_channels),
            ("num_freqbins", num_freqbins),
            ("conv1_filters", conv1_filters),
            ("conv2_filters", conv2_filters),
        ):
            _check_int(name, value)
        _check_tcn_args(out_channels, num_layers, kernel_size, dropout, causal)
        k1 = _pair(conv1_kernel_size, "conv1_kernel_size")
        k2 = _pair(conv2_kernel_size, "conv2_kernel_size")
        pools = {
            name: _pair(value, name)
            for name, value in (
                ("pool1_size", pool1_size),
                ("pool1_stride", pool1_stride),
                ("pool2_size", pool2_size),
                ("pool2_stride", pool2_stride),
            )
        }
        for name, (_, t) in pools.items():
            if t != 1:
                raise ValueError(
                    f"network parameter '{name}' must pool over frequency only (time entry 1) "
                    f"so the output keeps the input's time length, got {list(pools[name])}"
                )
        if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"network parameter 'padding' must be 'SAME' or 'VALID', got {padding!r}")
        if padding.upper() == "VALID" and (k1[1] > 1 or k2[1] > 1):
            raise ValueError(
                "network parameter 'padding' must be 'SAME' with kernels wider than 1 frame: "
                f"'VALID' would shorten the time axis (conv1_kernel_size={list(k1)}, conv2_kernel_size={list(k2)})"
            )
        super().__init__()
        self.num_classes = num_classes
        self.num_input_channels = num_input_channels
        self.num_freqbins = num_freqbins
        self.cnn = nn.Sequential(
            Conv2dTF(in_channels=num_input_channels, out_channels=conv1_filters, kernel_size=k1, padding=padding),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=pools["pool1_size"], stride=pools["pool1_stride"]),
            Conv2dTF(in_channels=conv1_filters, out_channels=conv2_filters, kernel_size=k2, padding=padding),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=pools["pool2_size"], stride=pools["pool2_stride"]),
        )
        # Channels-last weights (and inputs, in forward): oneDNN's 2-D convolutions are faster so on
        # the CPU, same outputs (tested). Measured, front end fwd+bwd / inference, batch 8, 152 bins x
        # 2000 frames, 2 cores: 2.07 -> 1.67 s / 0.83 -> 0.42 s (input alone channels-last: no gain).
        self.cnn.to(memory_format=torch.channels_last)
        try:
            with torch.no_grad():
                probe = self.cnn(torch.zeros(1, num_input_channels, num_freqbins, 8))
        except RuntimeError as err:
            raise ValueError(
                f"network parameter 'num_freqbins' ({num_freqbins}) is too small for the front end's "
                f"kernels and pools: {err}"
            ) from err
        if probe.shape[2] < 1:
            raise ValueError(f"network parameter 'num_freqbins' ({num_freqbins}) is too small for the front end's pools")
        self.cnn_out_features = probe.shape[1] * probe.shape[2]
        self.input_proj = nn.Conv1d(self.cnn_out_features, out_channels, 1)
        self.tcn = TCNStack(out_channels, out_channels, num_layers, kernel_size, dropout, causal)
        self.fc = nn.Conv1d(out_channels, num_classes, 1)
        # Conv2dTF SAME (stride 1) pads total = k - 1: total // 2 before, the rest after
        time_kernels = (k1[1], k2[1])
        self.receptive_field = self.tcn.receptive_field + sum(k - 1 for k in time_kernels)
        self.lookahead = sum((k - 1) - (k - 1) // 2 for k in time_kernels) + self.tcn.lookahead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)  # see the front end's weights in __init__
        features = self.cnn(x).flatten(1, 2)  # (batch, filters * freqbins_out, time)
        return self.fc(self.tcn(self.input_proj(features)))
