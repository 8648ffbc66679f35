"""Incremental inference: a causal network fed a few frames at a time, with cached state.

:class:`IncrementalNetwork` wraps a trained :class:`~vak_tcn.nn.tcn.TCN` or
:class:`~vak_tcn.nn.convtcn.ConvTCN` built with ``causal=True`` and computes its output
frame by frame as spectrogram frames arrive.  Each dilated convolution keeps the past input
frames it still needs (``(kernel_size - 1) * dilation`` of them), so a new frame costs one
step of every layer -- O(layers) work -- instead of a re-run over the receptive field.
Refinement stages (``stages > 1``, causal with the network) run the same way after the first
stage: softmax over classes, then their causal dilated convolutions.  The
outputs equal offline inference of the same network on the whole sequence (tested to float
rounding, for any way of cutting the sequence into blocks).

Lookahead.  A causal TCN needs no future frames: the logits of frame ``t`` come out when
frame ``t`` goes in.  With the network table's ``lookahead = N`` (the network's ``delay``) the
causal network's output is read ``N`` frames late: the first ``N`` outputs of the stream are
dropped, and :meth:`IncrementalNetwork.flush` pushes ``N`` zero frames (offline inference pads
the end so).  ConvTCN's front end (TweetyNet's two SAME convolutions, centred in
time) looks ``lookahead`` frames ahead (4 with the default 5-frame kernels): the logits of
frame ``t`` come out when frame ``t + lookahead`` goes in, and :meth:`IncrementalNetwork.flush`
returns the last ``lookahead`` frames at the end of a stream (as offline inference, which
pads the end with zeros).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .stages import RefinementStage
from .tcn import FrameClassifier, TemporalBlock, inference_copy

__all__ = ["IncrementalNetwork"]


class _CausalConv1d:
    """A dilated 1-D convolution over a stream: keeps the last ``(k - 1) * d`` input frames.

    NumPy (float32) rather than torch: a live stream pushes a frame or a few at a time, where
    each torch call's overhead (~10 us) outweighs its arithmetic; one matrix product per tap
    on NumPy arrays is several times faster there (docs/live.md has the figures).
    """

    def __init__(self, conv: nn.Conv1d, left_pad: int):
        weight = conv.weight.detach().cpu().float().numpy()  # (out, in, k)
        self.taps = [np.ascontiguousarray(weight[:, :, j]) for j in range(weight.shape[-1])]
        self.bias = None if conv.bias is None else conv.bias.detach().cpu().float().numpy()[:, None]
        self.dilation = conv.dilation[0]
        self.context = left_pad
        self.state = np.zeros((conv.in_channels, left_pad), dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[-1]
        ext = np.concatenate((self.state, x), axis=-1) if self.context else x
        if self.context:
            self.state = ext[:, ext.shape[-1] - self.context :]
        d = self.dilation
        out = self.taps[0] @ ext[:, :n]
        for j, tap in enumerate(self.taps[1:], start=1):
            out += tap @ ext[:, j * d : j * d + n]
        return out if self.bias is None else out + self.bias


def _pointwise(conv: nn.Conv1d | None):
    """A 1x1 convolution as a NumPy matrix product (or None)."""
    if conv is None:
        return None
    weight = conv.weight.detach().cpu().float().numpy()[:, :, 0]
    bias = None if conv.bias is None else conv.bias.detach().cpu().float().numpy()[:, None]
    return lambda x: weight @ x if bias is None else weight @ x + bias


def _left_padding(module) -> int:
    """A causal layer's left padding; ValueError for a centred one (it would need future frames)."""
    left, right = module.padding
    if right:
        raise ValueError(
            "incremental inference needs a bounded look-ahead: set causal = true in the network table "
            "(and lookahead = N to label each frame with N future frames heard)"
        )
    return left


class _Block:
    """One :class:`TemporalBlock` over a stream (eval mode: dropout is the identity)."""

    def __init__(self, block: TemporalBlock):
        left = _left_padding(block)
        self.conv1 = _CausalConv1d(block.conv1, left)
        self.conv2 = _CausalConv1d(block.conv2, left)
        self.downsample = _pointwise(block.downsample)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.maximum(self.conv2(np.maximum(self.conv1(x), 0)), 0)
        out += x if self.downsample is None else self.downsample(x)
        return np.maximum(out, 0, out=out)


class _Stage:
    """A causal :class:`~vak_tcn.nn.stages.RefinementStage` over a stream: softmax over classes,
    1x1 conv, causal dilated residual layers, 1x1 conv (eval mode: dropout is the identity)."""

    def __init__(self, stage: RefinementStage):
        self.conv_in, self.conv_out = _pointwise(stage.conv_in), _pointwise(stage.conv_out)
        self.layers = [
            (_CausalConv1d(layer.conv_dilated, _left_padding(layer)), _pointwise(layer.conv_1x1))
            for layer in stage.layers
        ]

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        e = np.exp(logits - logits.max(axis=0, keepdims=True))
        x = self.conv_in(e / e.sum(axis=0, keepdims=True))
        for dilated, pointwise in self.layers:
            x = x + pointwise(np.maximum(dilated(x), 0))
        return self.conv_out(x)


class _CentredConv2d:
    """A TF-SAME 2-D convolution (vak's ``Conv2dTF``, stride 1) over a stream of time frames.

    In time it pads ``left = (k - 1) // 2`` zero frames before the stream and
    ``right = k - 1 - left`` after it, like the offline layer: output frame ``t`` needs input
    frames up to ``t + right``, so it comes out ``right`` frames late.  Frequency is padded
    as ``Conv2dTF`` pads it (the odd extra row at the bottom).
    """

    def __init__(self, conv: nn.Conv2d):
        if tuple(conv.stride) != (1, 1) or tuple(conv.dilation) != (1, 1):
            raise ValueError("incremental inference supports stride-1, undilated front-end convolutions")
        self.conv = conv
        k_freq, self.k_time = conv.kernel_size
        same = str(getattr(conv, "padding", "SAME")).upper() == "SAME"
        total = k_freq - 1 if same else 0
        self.freq_pad = (total // 2, total - total // 2)
        self.left = (self.k_time - 1) // 2 if same else 0
        self.right = (self.k_time - 1 - self.left) if same else 0
        self.state: torch.Tensor | None = None  # the last k_time - 1 (time-padded) input frames

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.state is None:
            self.state = x.new_zeros(*x.shape[:-1], self.left)
        ext = torch.cat((self.state, x), dim=-1)
        self.state = ext[..., max(0, ext.shape[-1] - (self.k_time - 1)) :]
        if ext.shape[-1] < self.k_time:  # not enough frames yet for one output frame
            return None
        return F.conv2d(F.pad(ext, (0, 0, *self.freq_pad)), self.conv.weight, self.conv.bias)

    def flush(self) -> torch.Tensor | None:
        """The last ``right`` output frames: the stream's end padded with zeros, as offline."""
        if self.state is None or self.right == 0:
            return None
        return self(self.state.new_zeros(*self.state.shape[:-1], self.right))


def _cat(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else torch.cat((a, b), dim=-1)


class IncrementalNetwork:
    """Run a causal vak-tcn network over a stream of spectrogram frames.

    Parameters
    ----------
    network : FrameClassifier
        A trained ``TCN`` or ``ConvTCN`` with ``causal=True``.  A copy is used (eval mode,
        weight norm folded), so the original is not changed.

    Attributes
    ----------
    lookahead : int
        Frames of delay: the logits of frame ``t`` are returned by the :meth:`push` that
        brings frame ``t + lookahead`` (0 for a causal TCN, 4 for the default ConvTCN, plus the
        network table's ``lookahead``).
    frames_in, frames_out : int
        Frames pushed and frames whose logits were returned so far.

    Examples
    --------
    >>> import torch
    >>> from vak_tcn.nn import TCN
    >>> net = TCN(num_classes=3, num_freqbins=16, out_channels=8, num_layers=3).eval()
    >>> stream = IncrementalNetwork(net)
    >>> x = torch.randn(1, 16, 50)
    >>> parts = [stream.push(x[..., :7]), stream.push(x[..., 7:8]), stream.push(x[..., 8:])]
    >>> with torch.no_grad():
    ...     offline = net(x[None])[0]
    >>> bool(torch.allclose(torch.cat(parts, dim=-1), offline, atol=1e-5))
    True
    """

    def __init__(self, network: FrameClassifier):
        if not isinstance(network, FrameClassifier):
            raise TypeError(
                f"incremental inference needs a vak-tcn network (TCN, ConvTCN), got {type(network).__name__}"
            )
        net = inference_copy(network)
        self.network = net
        self.lookahead = int(net.lookahead)
        self._front = self._front_end(net)
        self._blocks = [_Block(block) for block in net.tcn]
        self._stages = [_Stage(stage) for stage in getattr(net, "refinement", ())]
        self._input_proj, self._fc = _pointwise(net.input_proj), _pointwise(net.fc)
        self._delay = int(getattr(net, "delay", 0))
        self._skip = self._delay  # the causal network's first outputs, read for no frame
        self._frame = None  # one frame's (1, channels, freqbins, 0) shape, for flush's zero frames
        self.frames_in = 0
        self.frames_out = 0

    @staticmethod
    def _front_end(net: FrameClassifier) -> list | None:
        cnn = getattr(net, "cnn", None)
        if cnn is None:
            return None
        layers = []
        for layer in cnn:
            if isinstance(layer, nn.Conv2d):
                layers.append(_CentredConv2d(layer))
            elif isinstance(layer, nn.MaxPool2d):
                if (layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[1]) != 1:
                    raise ValueError("incremental inference needs front-end pooling over frequency only")
                layers.append(layer)
            else:
                layers.append(layer)
        return layers

    def reset(self) -> None:
        """Forget the stream: the next frame is a first frame again."""
        self.__init__(self.network)

    def _front_end_step(self, x: torch.Tensor | None, flush: bool = False) -> torch.Tensor | None:
        """New frames through the front end; with ``flush``, each conv's end padding too."""
        for layer in self._front:
            if isinstance(layer, _CentredConv2d):
                x = _cat(layer(x) if x is not None else None, layer.flush() if flush else None)
            elif x is not None:
                x = layer(x)
        return x

    def _head(self, features: torch.Tensor) -> torch.Tensor:
        x = self._input_proj(features[0].float().numpy())
        for block in self._blocks:
            x = block(x)
        x = self._fc(x)
        for stage in self._stages:
            x = stage(x)
        return torch.from_numpy(x)

    def _empty(self) -> torch.Tensor:
        return torch.zeros(self.network.num_classes, 0, dtype=self.network.fc.weight.dtype)

    @torch.inference_mode()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Feed new frames; return the logits that became available.

        Parameters
        ----------
        frames : torch.Tensor
            ``(channels, freqbins, n)`` or ``(1, channels, freqbins, n)``, the next ``n`` frames.

        Returns
        -------
        torch.Tensor
            ``(num_classes, m)``: logits of the next ``m`` frames (``m = n`` for TCN; for
            ConvTCN fewer at the start of the stream, then ``n``).
        """
        if frames.ndim == 3:
            frames = frames.unsqueeze(0)
        if frames.ndim != 4 or frames.shape[0] != 1:
            raise ValueError(f"push() takes (channels, freqbins, frames); got {tuple(frames.shape)}")
        frames = frames.to(self.network.fc.weight.dtype)
        self.frames_in += frames.shape[-1]
        self._frame = frames[..., :0]
        out = self._run(frames)
        self.frames_out += out.shape[-1]
        return out

    def _run(self, frames: torch.Tensor | None, flush: bool = False) -> torch.Tensor:
        """Frames (or None) through the front end (with ``flush``, its end padding) and the head; the
        outputs read for no frame (the first ``delay``) dropped."""
        features = frames if self._front is None else self._front_end_step(frames, flush=flush)
        if features is None or features.shape[-1] == 0:
            return self._empty()
        out = self._head(features.flatten(1, 2))
        skip = min(self._skip, out.shape[-1])
        self._skip -= skip
        return out[..., skip:]

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """End of stream: the logits of the last ``lookahead`` frames (zero padding after them)."""
        if self.frames_out >= self.frames_in or self._frame is None:
            return self._empty()
        outs = []
        if self._delay:  # the zero frames offline inference pads the end with, as frames
            zeros = self._frame.new_zeros(*self._frame.shape[:-1], self._delay)
            outs.append(self._run(zeros))
        if self._front is not None:
            outs.append(self._run(None, flush=True))
        if not outs:
            return self._empty()
        out = torch.cat(outs, dim=-1)[..., : self.frames_in - self.frames_out]
        self.frames_out += out.shape[-1]
        return out
