"""ConvTCN: TweetyNet's convolutional front end followed by a vanilla TCN.

The "ConvTCN" of the SfN 2023 poster (like SELD-TCN): TweetyNet (Cohen et al.
2022) with its bidirectional LSTM replaced by :class:`vak_tcn.nn.tcn.TCNStack`.

References
----------
Cohen, Y., Nicholson, D. A., Sanchioni, A., Mallaber, E. K., Skidanova, V., &
Gardner, T. J. (2022). Automated annotation of birdsong with a neural network
that segments spectrograms. eLife 11: e63853.

Nicholson, D. & Cohen, Y. (2023). Benchmarking neural network models for
acoustic behavior with vak and VocalPy. Society for Neuroscience 2023 poster.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import _check_int, _check_lookahead, _check_tcn_args, _pair, _reject_unknown
from .stages import stage_args_of
from .tcn import FrameClassifier

__all__ = ["ConvTCN"]


class ConvTCN(FrameClassifier):
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
    out_channels, num_layers, kernel_size, dropout, causal, lookahead
        The TCN's, as :class:`TCN` (``lookahead`` adds to the front end's own 4 frames).
    stages, stage_layers, stage_channels, stage_kernel_size, stage_dropout
        Refinement stages (MS-TCN), as :class:`TCN`; default one stage (none).

    Attributes
    ----------
    cnn : torch.nn.Sequential
        The TweetyNet front end.
    cnn_out_features : int
        Channels x frequency bins out of ``cnn`` (TweetyNet's ``rnn_input_size``).
    input_proj : torch.nn.Conv1d
    tcn : TCNStack
    fc : torch.nn.Conv1d
    refinement : torch.nn.ModuleList
        The refinement stages (empty for ``stages = 1``).
    receptive_field : int
        In frames: the TCN's plus ``time kernel - 1`` for each front-end conv
        (``receptive_field(num_layers, kernel_size) + 8`` by default), plus each refinement
        stage's minus 1.
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
        causal: bool = False,
        lookahead: int | None = None,
        stages: int = 1,
        stage_layers: int = 10,
        stage_channels: int = 64,
        stage_kernel_size: int = 3,
        stage_dropout: float = 0.5,
        **unknown,
    ):
        # through the compat module (vak's internal API), imported here: vak_tcn is loaded as a
        # plugin while vak imports
        from ..plugins.vak_compat import conv2d_tf

        Conv2dTF = conv2d_tf()

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
        delay = _check_lookahead(lookahead, causal)
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
            raise ValueError(
                f"network parameter 'num_freqbins' ({num_freqbins}) is too small for the front end's pools"
            )
        self.cnn_out_features = probe.shape[1] * probe.shape[2]
        # Conv2dTF SAME (stride 1) pads total = k - 1: total // 2 before, the rest after
        time_kernels = (k1[1], k2[1])
        self._build_head(
            self.cnn_out_features,
            num_classes,
            out_channels,
            num_layers,
            kernel_size,
            dropout,
            causal,
            front_receptive_field=1 + sum(k - 1 for k in time_kernels),
            front_lookahead=sum((k - 1) - (k - 1) // 2 for k in time_kernels),
            delay=delay,
            **stage_args_of(locals()),  # stages, stage_layers, ...
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)  # see the front end's weights in __init__
        return self.cnn(x).flatten(1, 2)  # (batch, filters * freqbins_out, time)
