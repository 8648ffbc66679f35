"""The building blocks the networks share: frame layout, layers and parameter checks.

* :func:`to_frames4`, :func:`from_frames4`, :class:`FrameConv1d`: frames travel inside a
  network as ``(batch, channels, 1, time)`` tensors, channels-last on the CPU;
* :class:`Dropout`: ``nn.Dropout`` with a faster CPU mask;
* ``_FrameModule`` and ``_SameLength``: bases of the modules that work on those frames and
  keep the time length (:class:`~vak_tcn.nn.tcn.TemporalBlock`,
  :class:`~vak_tcn.nn.stages.DilatedResidualLayer`);
* the checks of a TOML ``network`` table's values (``_check_int``, ``_check_dropout``, ...).

Used by :mod:`.tcn`, :mod:`.stages` and :mod:`.convtcn`; imports none of them.  Pure PyTorch.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn import functional as F

from .._params import parameters, reject_unknown

__all__ = ["Dropout", "FrameConv1d", "from_frames4", "to_frames4"]


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


def _check_lookahead(lookahead, causal: bool) -> int:
    """The frames a causal network's output is read late (``lookahead``; 0 when not given). A look-ahead
    is a causal stack read late, so it needs ``causal = true``."""
    if lookahead is None:
        return 0
    _check_int("lookahead", lookahead, minimum=0)
    if not causal:
        raise ValueError(
            f"network parameter 'lookahead' ({lookahead}) needs causal = true: the causal network's output is "
            "read lookahead frames late (a centred one looks ahead half its receptive field)"
        )
    return int(lookahead)


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
