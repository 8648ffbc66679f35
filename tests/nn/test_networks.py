"""vak_tcn.networks: TemporalBlock, TCNStack, TCN, ConvTCN.

Shapes (odd and even lengths), causality, the receptive field measured from
gradients, the padding convention, ConvTCN's front end being TweetyNet's, and
argument validation.  Small tensors: the whole file runs in seconds on 2 cores.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.nn.utils import parametrize

from vak_tcn.nn import TCN, ConvTCN, Dropout, TCNStack, TemporalBlock, inference_copy, receptive_field

FREQ_TCN = 16  # TCN: any number of frequency bins
FREQ_CONV = 64  # ConvTCN: the default (8, 1) pools twice need >= 64 bins
SMALL_FRONT = {"conv1_filters": 4, "conv2_filters": 4}  # keeps ConvTCN cheap where the front end's width is irrelevant


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: intra-op threads only add synchronisation (and stall on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(cls, num_classes=5, num_input_channels=1, **kwargs):
    torch.manual_seed(0)
    if cls is ConvTCN:
        kwargs = {**SMALL_FRONT, **kwargs}
        freq = FREQ_CONV
    else:
        freq = FREQ_TCN
    net = cls(num_classes=num_classes, num_input_channels=num_input_channels, num_freqbins=freq, **kwargs)
    return net.double().eval()


def spectrogram(net, time, batch=1, seed=0, positive=False):
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, net.num_input_channels, net.num_freqbins, time)
    x = torch.rand(shape, generator=gen, dtype=torch.float64)
    return x + 0.1 if positive else x * 2 - 1


def positive_parameters(net):
    """Every parameter (weight-norm g and v, biases) positive: with a positive input no ReLU is ever 0,
    so no gradient vanishes by accident and the gradient's support is exactly the receptive field."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 0.1 + 0.01)


def check_gradient_support(net, rf, causal, centred_span):
    """Output frames ``rf + 2`` and mid-sequence depend on exactly ``rf`` contiguous input frames, ending
    ``lookahead`` after the frame (at it when ``causal``); centred: ``centred_span`` = (frames behind, ahead)."""
    time = 2 * rf + 6
    for t in (rf + 2, time // 2):
        first, last, count = influence(net, time, t)
        assert count == last - first + 1 == rf  # contiguous span of exactly rf frames
        assert last == t + net.lookahead
        if causal:
            assert last == t
        else:
            assert (t - first, last - t) == centred_span


def influence(net, time, t):
    """Input frames with a non-zero gradient of output frame ``t``: (first, last, count)."""
    x = spectrogram(net, time, positive=True).requires_grad_(True)
    net(x)[0, :, t].sum().backward()
    frames = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
    return frames.min().item(), frames.max().item(), frames.numel()


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("time", [37, 64])
@pytest.mark.parametrize("num_layers, kernel_size", [(1, 2), (3, 3), (4, 2), (2, 4)])
def test_output_shape_keeps_time_length(cls, causal, time, num_layers, kernel_size):
    net = make(cls, out_channels=8, num_layers=num_layers, kernel_size=kernel_size, causal=causal)
    x = spectrogram(net, time, batch=2)
    with torch.no_grad():
        assert net(x).shape == (2, 5, time)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("time", [1, 2, 7])
def test_windows_shorter_than_receptive_field_still_keep_length(cls, time):
    net = make(cls, out_channels=4, num_layers=5, kernel_size=3, causal=False)
    assert net.receptive_field > time
    with torch.no_grad():
        assert net(spectrogram(net, time)).shape == (1, 5, time)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_multichannel_input_and_train_mode_backward(cls):
    net = make(cls, num_classes=3, num_input_channels=2, out_channels=8, num_layers=3).train()
    x = spectrogram(net, 33, batch=3)
    out = net(x)
    assert out.shape == (3, 3, 33)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("kernel_size, dilation", [(2, 1), (2, 4), (3, 1), (3, 8), (4, 1), (5, 2)])
@pytest.mark.parametrize("time", [9, 20])
def test_temporal_block_matches_reference_padding(causal, kernel_size, dilation, time):
    """Output == conv of the input zero-padded (total, 0) if causal, else (total // 2, total - total // 2)."""
    torch.manual_seed(0)
    block = TemporalBlock(3, 6, kernel_size, dilation, dropout=0.0, causal=causal).double().eval()
    total = (kernel_size - 1) * dilation
    pad = (total, 0) if causal else (total // 2, total - total // 2)
    assert block.padding == pad
    x = torch.randn(2, 3, time, dtype=torch.float64)
    with torch.no_grad():
        out = F.relu(F.conv1d(F.pad(x, pad), block.conv1.weight, block.conv1.bias, dilation=dilation))
        out = F.relu(F.conv1d(F.pad(out, pad), block.conv2.weight, block.conv2.bias, dilation=dilation))
        expected = F.relu(out + block.downsample(x))
        got = block(x)
    assert got.shape == (2, 6, time)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_temporal_block_structure():
    wide = TemporalBlock(4, 8, 3, 2)
    assert isinstance(wide.downsample, torch.nn.Conv1d) and wide.downsample.kernel_size == (1,)
    assert TemporalBlock(8, 8, 3, 2).downsample is None  # identity residual
    for conv in (wide.conv1, wide.conv2):
        assert parametrize.is_parametrized(conv, "weight")  # weight norm (parametrizations API)
        assert conv.dilation == (2,) and conv.kernel_size == (3,)
    assert wide.dropout.p == 0.2


def test_tcn_stack_dilations_and_receptive_field():
    stack = TCNStack(3, out_channels=8, num_layers=5, kernel_size=3)
    assert len(stack) == 5
    assert [block.conv1.dilation[0] for block in stack] == [1, 2, 4, 8, 16]
    assert stack[0].downsample is not None and all(block.downsample is None for block in stack[1:])
    assert stack.receptive_field == 1 + 2 * 2 * (2**5 - 1) == receptive_field(5, 3)


# ---------------------------------------------------------------- causality
@pytest.mark.parametrize("num_layers, kernel_size", [(3, 2), (2, 3), (4, 2)])
def test_causal_tcn_never_looks_ahead(num_layers, kernel_size):
    net = make(TCN, out_channels=8, num_layers=num_layers, kernel_size=kernel_size, causal=True)
    assert net.lookahead == 0
    x = spectrogram(net, 50)
    with torch.no_grad():
        out = net(x)
        for t in (0, 7, 24, 48):
            changed = x.clone()
            changed[..., t + 1 :] = torch.randn_like(changed[..., t + 1 :]) * 5
            new = net(changed)
            assert torch.equal(new[..., : t + 1], out[..., : t + 1])  # tolerance 0
            assert not torch.equal(new[..., t + 1 :], out[..., t + 1 :])


def test_non_causal_tcn_does_look_ahead():
    """The causality test above can fail: centred padding lets the future reach the past."""
    net = make(TCN, out_channels=8, num_layers=3, kernel_size=2, causal=False)
    assert net.lookahead > 0
    x = spectrogram(net, 40)
    changed = x.clone()
    changed[..., 21:] += 1.0
    with torch.no_grad():
        assert not torch.equal(net(changed)[..., :21], net(x)[..., :21])


def test_causal_convtcn_looks_ahead_only_through_its_front_end():
    net = make(ConvTCN, out_channels=8, num_layers=3, kernel_size=2, causal=True)
    assert net.lookahead == 4  # two centred 5-wide SAME convs
    x = spectrogram(net, 40)
    with torch.no_grad():
        out = net(x)
        for t in (5, 20):
            changed = x.clone()
            changed[..., t + 1 + net.lookahead :] += 3.0
            assert torch.equal(net(changed)[..., : t + 1], out[..., : t + 1])


# ---------------------------------------------------------------- receptive field, from gradients
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("num_layers, kernel_size", [(1, 2), (3, 2), (2, 3), (4, 3), (2, 5)])
def test_tcn_receptive_field_matches_gradient_support(causal, num_layers, kernel_size):
    net = make(TCN, out_channels=4, num_layers=num_layers, kernel_size=kernel_size, causal=causal, dropout=0.0)
    positive_parameters(net)
    rf = 1 + 2 * (kernel_size - 1) * (2**num_layers - 1)
    assert net.receptive_field == net.tcn.receptive_field == receptive_field(num_layers, kernel_size) == rf
    # centred: per conv, total // 2 frames behind and the rest ahead (each block has two convs)
    behind = sum(2 * block.padding[0] for block in net.tcn)
    ahead = sum(2 * block.padding[1] for block in net.tcn)
    check_gradient_support(net, rf, causal, (behind, ahead))
    if not causal:
        assert 0 <= ahead - behind <= 2  # only the kernel-2, dilation-1 block is uneven


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("num_layers, kernel_size", [(2, 2), (3, 3)])
def test_convtcn_receptive_field_includes_front_end(causal, num_layers, kernel_size):
    net = make(ConvTCN, out_channels=4, num_layers=num_layers, kernel_size=kernel_size, causal=causal, dropout=0.0)
    positive_parameters(net)
    assert net.receptive_field == receptive_field(num_layers, kernel_size) + 8  # two 5-wide SAME convs
    time = 2 * net.receptive_field + 6
    t = net.receptive_field + 2
    first, last, count = influence(net, time, t)
    assert count == last - first + 1 == net.receptive_field
    assert last == t + net.lookahead


# ---------------------------------------------------------------- ConvTCN's front end is TweetyNet's
@pytest.mark.parametrize(
    "front_kwargs",
    [
        {},
        {"conv1_kernel_size": (3, 3), "conv2_filters": 16, "pool1_size": (4, 1), "pool1_stride": (4, 1)},
    ],
)
def test_convtcn_front_end_is_tweetynets(front_kwargs):
    from vak.nets import TweetyNet

    torch.manual_seed(0)
    tweety = TweetyNet(num_classes=5, num_input_channels=1, num_freqbins=FREQ_CONV, **front_kwargs)
    # TOML gives lists: the same front end from lists
    as_lists = {k: list(v) if isinstance(v, tuple) else v for k, v in front_kwargs.items()}
    net = ConvTCN(num_classes=5, num_input_channels=1, num_freqbins=FREQ_CONV, **as_lists)
    assert [type(m) for m in net.cnn] == [type(m) for m in tweety.cnn]
    for ours, theirs in zip(net.cnn, tweety.cnn):
        for attr in ("in_channels", "out_channels", "kernel_size", "padding", "stride", "dilation"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr
    ours_shapes = {k: v.shape for k, v in net.cnn.state_dict().items()}
    assert ours_shapes == {k: v.shape for k, v in tweety.cnn.state_dict().items()}
    net.cnn.load_state_dict(tweety.cnn.state_dict())
    x = torch.randn(2, 1, FREQ_CONV, 37)
    with torch.no_grad():
        features = net.cnn(x)
        # ours holds channels-last weights (faster on the CPU): equal up to float rounding
        torch.testing.assert_close(features, tweety.cnn(x), rtol=1e-5, atol=1e-6)
    assert features.shape[-1] == 37  # SAME padding and (., 1) pools keep time
    assert net.cnn_out_features == tweety.rnn_input_size == features.shape[1] * features.shape[2]
    assert net.input_proj.in_channels == net.cnn_out_features


def test_convtcn_kernel_sizes_as_ints_or_lists():
    a = ConvTCN(num_classes=3, num_freqbins=FREQ_CONV, conv1_kernel_size=3, **SMALL_FRONT)
    b = ConvTCN(num_classes=3, num_freqbins=FREQ_CONV, conv1_kernel_size=[3, 3], pool2_size=[8, 1], **SMALL_FRONT)
    assert a.cnn[0].kernel_size == b.cnn[0].kernel_size == (3, 3)
    assert b.cnn[5].kernel_size == (8, 1)
    assert a.receptive_field == b.receptive_field == receptive_field(8, 2) + 2 + 4


def test_tcn_is_a_1x1_projection_over_stacked_channels_and_bins():
    net = make(TCN, num_input_channels=2, out_channels=8, num_layers=2)
    assert net.input_proj.in_channels == 2 * FREQ_TCN and net.input_proj.kernel_size == (1,)
    assert net.fc.kernel_size == (1,) and net.fc.out_channels == 5
    assert net.tcn[0].conv1.in_channels == 8


def test_accepts_numpy_integers_from_vak():
    net = TCN(num_classes=np.int64(4), num_input_channels=np.int64(1), num_freqbins=np.int64(FREQ_TCN), num_layers=2)
    assert net(torch.randn(1, 1, FREQ_TCN, 10)).shape == (1, 4, 10)


# ---------------------------------------------------------------- argument validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_layers": 0}, "num_layers"),
        ({"num_layers": 2.5}, "num_layers"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"out_channels": 0}, "out_channels"),
        ({"out_channels": -1}, "out_channels"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": "0.2"}, "dropout"),
        ({"causal": "yes"}, "causal"),
        ({"causal": 1}, "causal"),
        ({"num_layer": 3}, "num_layer.*Valid parameters.*num_layers"),
    ],
)
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_bad_parameters_name_the_key(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(num_classes=3, num_freqbins=FREQ_CONV, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pool1_stride": (8, 2)}, "pool1_stride"),
        ({"pool2_size": [8, 3]}, "pool2_size"),
        ({"padding": "VALID"}, "padding"),
        ({"padding": "FULL"}, "padding"),
        ({"conv1_kernel_size": [5]}, "conv1_kernel_size"),
        ({"conv2_kernel_size": [5, 0]}, "conv2_kernel_size"),
        ({"conv1_filters": 0}, "conv1_filters"),
        ({"num_freqbins": 16}, "num_freqbins"),
    ],
)
def test_bad_convtcn_front_end_parameters_name_the_key(kwargs, match):
    kwargs = {"num_freqbins": FREQ_CONV, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        ConvTCN(num_classes=3, **kwargs)


def test_bad_stack_and_block_parameters():
    with pytest.raises(ValueError, match="num_layers"):
        TCNStack(4, num_layers=0)
    with pytest.raises(ValueError, match="in_channels"):
        TCNStack(0)
    with pytest.raises(ValueError, match="dilation"):
        TemporalBlock(4, 4, 2, 0)
    with pytest.raises(TypeError, match="causal"):
        TemporalBlock(4, 4, 2, 1, causal=None)


# ---------------------------------------------------------------- check_window
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_check_window_warns_when_receptive_field_exceeds_window(cls, caplog):
    net = cls(num_classes=3, num_freqbins=FREQ_CONV, **(SMALL_FRONT if cls is ConvTCN else {}))
    expected = 511 if cls is TCN else 511 + 8  # poster defaults: 8 layers, kernel 2
    assert net.receptive_field == expected
    with caplog.at_level(logging.WARNING, logger="vak_tcn.nn.tcn"):
        assert net.check_window(176) is False
    records = [r for r in caplog.records if r.name == "vak_tcn.nn.tcn"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert str(expected) in records[0].getMessage() and "176" in records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vak_tcn.nn.tcn"):
        assert net.check_window(expected) is True  # exactly fits
        assert net.check_window(2000) is True
    assert caplog.records == []


# ---------------------------------------------------------------- speed paths keep the numerics
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_inference_copy_gives_same_outputs_and_leaves_original(cls):
    net = make(cls, out_channels=8, num_layers=3).float()
    with torch.no_grad():  # non-trivial weight-norm gains
        for module in net.modules():
            if parametrize.is_parametrized(module, "weight"):
                module.parametrizations.weight.original0.mul_(1.7)
    x = spectrogram(net, 45, batch=2).float()
    fast = inference_copy(net)
    assert not any(parametrize.is_parametrized(m) for m in fast.modules())
    assert any(parametrize.is_parametrized(m) for m in net.modules())
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-5, atol=1e-5)


def test_convtcn_channels_last_front_end_matches_the_plain_layout():
    net = make(ConvTCN, conv1_filters=8, conv2_filters=8).float()
    x = spectrogram(net, 33, batch=2).float()
    plain = [m for m in net.cnn]
    with torch.no_grad():
        reference = x
        for module in plain:  # the same layers with contiguous (NCHW) weights
            if isinstance(module, torch.nn.Conv2d):
                reference = F.conv2d(reference, module.weight.contiguous(), module.bias, padding=(2, 2))
            else:
                reference = module(reference)
        out = net.cnn(x.contiguous(memory_format=torch.channels_last))
    assert net.cnn[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-6)


def test_dropout_drops_at_rate_p_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = Dropout(0.2).train()
    x = torch.ones(400_000)
    out = drop(x)
    zero = (out == 0).double().mean().item()
    assert abs(zero - 0.2) < 0.003  # binomial sd 0.0006
    assert abs(out.mean().item() - 1.0) < 0.005
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 65536 / (65536 - round(0.2 * 65536))))


def test_dropout_masks_are_independent_between_calls_and_reproducible_with_a_seed():
    drop = Dropout(0.5).train()
    x = torch.ones(8, 64, 101)
    torch.manual_seed(3)
    a, b = drop(x), drop(x)
    torch.manual_seed(3)
    assert torch.equal(drop(x), a)
    agree = ((a == 0) == (b == 0)).double().mean().item()
    assert 0.45 < agree < 0.55  # independent masks agree half the time at p = 0.5
    # all four 16-bit lanes of each draw are used without bias
    lanes = (a.flatten()[: 4 * 12_000].view(-1, 4) == 0).double().mean(dim=0)
    assert torch.all((lanes - 0.5).abs() < 0.03)


def test_dropout_gradient_is_the_mask_and_eval_is_identity():
    torch.manual_seed(0)
    drop = Dropout(0.3).train()
    x = torch.randn(4, 8, 50, requires_grad=True)
    out = drop(x)
    out.sum().backward()
    scale = 65536 / (65536 - round(0.3 * 65536))
    expected = (out.detach() != 0).double() * scale
    torch.testing.assert_close(x.grad.double(), expected)
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert isinstance(drop, torch.nn.Dropout)  # same state and repr as torch's


def test_tcn_trains_with_dropout_like_torchs():
    """The fast dropout changes how masks are drawn, not what training does: a few Adam steps with
    ours and with torch's nn.Dropout reach losses within a small margin on the same data."""
    losses = {}
    for name in ("ours", "torch"):
        net = make(TCN, out_channels=16, num_layers=3, dropout=0.2).float().train()
        if name == "torch":
            for block in net.tcn:
                block.dropout = torch.nn.Dropout(0.2)
        x = spectrogram(net, 64, batch=4).float()
        y = (x[:, 0, :4].sum(dim=1) > 0).long()  # a learnable frame label
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(60):
            opt.zero_grad()
            loss = F.cross_entropy(net(x)[:, :2], y)
            loss.backward()
            opt.step()
        losses[name] = loss.item()
    assert losses["ours"] < 0.3 and losses["torch"] < 0.3, losses


# ---------------------------------------------------------------- refinement stages (MS-TCN)
SMALL_STAGES = {"stage_layers": 3, "stage_channels": 6}


def stage_receptive_field(stage_layers, stage_kernel_size=3):
    return 1 + (stage_kernel_size - 1) * (2**stage_layers - 1)


def test_stages_default_to_mstcns_layers():
    """MS-TCN's SingleStageModel (its model.py/main.py): 10 layers of 64 channels, kernel 3, dilation 2**i,
    dropout 0.5; the network's output (forward) is the last stage's."""
    net = TCN(num_classes=4, num_freqbins=FREQ_TCN, stages=3)
    assert net.num_stages == 3 and len(net.refinement) == 2
    stage = net.refinement[0]
    assert stage.conv_in.in_channels == 4 and stage.conv_out.out_channels == 4
    assert len(stage.layers) == 10 and stage.conv_in.out_channels == 64
    assert [layer.conv_dilated.dilation[0] for layer in stage.layers] == [2**i for i in range(10)]
    assert all(layer.conv_dilated.kernel_size == (3,) and layer.dropout.p == 0.5 for layer in stage.layers)
    assert isinstance(stage.layers[0].dropout, Dropout)
    assert not any(parametrize.is_parametrized(m) for m in net.refinement.modules())  # MS-TCN: no weight norm
    assert net.receptive_field == receptive_field(8, 2) + 2 * (stage_receptive_field(10) - 1)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_one_stage_is_todays_network(cls):
    """stages = 1: no new parameters, the state_dict keys a checkpoint of today's network has, its
    outputs; and a seed gives the first stage of a 3-stage network the same weights."""
    one = make(cls, out_channels=8, num_layers=3)
    three = make(cls, out_channels=8, num_layers=3, stages=3, **SMALL_STAGES)
    keys = list(one.state_dict())
    assert not any(k.startswith("refinement") for k in keys)
    expected_tcn = {
        f"tcn.{i}.{conv}.parametrizations.weight.{p}" for i in range(3) for conv in ("conv1", "conv2")
        for p in ("original0", "original1")
    } | {f"tcn.{i}.{conv}.bias" for i in range(3) for conv in ("conv1", "conv2")}  # fmt: skip
    assert expected_tcn | {"input_proj.weight", "input_proj.bias", "fc.weight", "fc.bias"} <= set(keys)
    assert {k for k in keys if not k.startswith(("tcn.", "input_proj.", "fc.", "cnn."))} == set()
    assert one.num_stages == 1 and one.receptive_field == receptive_field(3, 2) + (8 if cls is ConvTCN else 0)
    three_state = three.state_dict()
    assert all(torch.equal(three_state[k], v) for k, v in one.state_dict().items())
    x = spectrogram(one, 41, batch=2)
    with torch.no_grad():
        reference = one.fc(one.tcn(one.input_proj(one.features(x))))
        out = one(x)
        # two kernel paths (channels-last frames against 3-D tensors): oneDNN's kernels differ in the
        # last bits between CPUs (equal on Intel, not on AMD EPYC), so a float32 tolerance
        torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-6)
        stages = three.forward_stages(x)
        # the same kernels on both sides from here on: bit for bit
        assert len(stages) == 3 and torch.equal(stages[0], out)
        assert torch.equal(three(x), stages[-1]) and not torch.equal(stages[-1], out)
        # a stage refines the softmax of the one before
        torch.testing.assert_close(stages[1], three.refinement[0](F.softmax(stages[0], dim=1)))


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("time", [37, 64])
def test_multi_stage_output_shape_and_backward(cls, causal, time):
    net = make(cls, out_channels=8, num_layers=2, causal=causal, stages=3, **SMALL_STAGES).train()
    x = spectrogram(net, time, batch=2)
    outs = net.forward_stages(x)
    assert [o.shape for o in outs] == [(2, 5, time)] * 3
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_causal_multi_stage_network_never_looks_ahead(cls):
    net = make(cls, out_channels=8, num_layers=3, causal=True, stages=3, **SMALL_STAGES)
    assert net.lookahead == (0 if cls is TCN else 4)  # causal stages add none
    x = spectrogram(net, 60)
    with torch.no_grad():
        out = net(x)
        for t in (0, 9, 30, 55):
            changed = x.clone()
            changed[..., t + 1 + net.lookahead :] = torch.randn_like(changed[..., t + 1 + net.lookahead :]) * 5
            new = net(changed)
            assert torch.equal(new[..., : t + 1], out[..., : t + 1])  # tolerance 0
            if t + 1 + net.lookahead < 60:
                assert not torch.equal(new[..., t + 1 :], out[..., t + 1 :])


def test_centred_stages_look_ahead():
    net = make(TCN, out_channels=8, num_layers=2, causal=False, stages=2, **SMALL_STAGES)
    first = make(TCN, out_channels=8, num_layers=2, causal=False)
    assert net.lookahead == first.lookahead + (stage_receptive_field(3) - 1) // 2  # kernel 3: half ahead
    x = spectrogram(net, 40)
    changed = x.clone()
    changed[..., 21:] += 1.0
    with torch.no_grad():
        assert not torch.equal(net(changed)[..., :21], net(x)[..., :21])


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(
    "num_layers, kernel_size, stages, stage_layers, stage_kernel_size",
    [(2, 2, 2, 3, 3), (3, 2, 3, 2, 3), (2, 3, 3, 3, 2), (1, 2, 2, 2, 5)],
)
def test_multi_stage_receptive_field_matches_gradient_support(
    causal, num_layers, kernel_size, stages, stage_layers, stage_kernel_size
):
    net = make(
        TCN,
        out_channels=4,
        num_layers=num_layers,
        kernel_size=kernel_size,
        causal=causal,
        dropout=0.0,
        stages=stages,
        stage_layers=stage_layers,
        stage_channels=4,
        stage_kernel_size=stage_kernel_size,
        stage_dropout=0.0,
    )
    positive_parameters(net)
    per_stage = stage_receptive_field(stage_layers, stage_kernel_size) - 1
    rf = receptive_field(num_layers, kernel_size) + (stages - 1) * per_stage
    assert net.receptive_field == rf
    # every conv of every stage splits its padding: total // 2 behind, the rest ahead
    convs = [*net.tcn, *net.tcn] + [layer for stage in net.refinement for layer in stage.layers]
    check_gradient_support(net, rf, causal, (sum(c.padding[0] for c in convs), sum(c.padding[1] for c in convs)))


@pytest.mark.parametrize("causal", [True, False])
def test_multi_stage_convtcn_receptive_field_includes_front_end_and_stages(causal):
    net = make(ConvTCN, out_channels=4, num_layers=2, causal=causal, dropout=0.0, stages=2, stage_layers=2,
               stage_channels=4, stage_dropout=0.0)  # fmt: skip
    positive_parameters(net)
    assert net.receptive_field == receptive_field(2, 2) + 8 + stage_receptive_field(2) - 1
    time = 2 * net.receptive_field + 6
    t = net.receptive_field + 2
    first, last, count = influence(net, time, t)
    assert count == last - first + 1 == net.receptive_field
    assert last == t + net.lookahead


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_inference_copy_of_a_multi_stage_network(cls):
    net = make(cls, out_channels=8, num_layers=3, stages=3, **SMALL_STAGES).float()
    x = spectrogram(net, 45, batch=2).float()
    with torch.inference_mode():
        torch.testing.assert_close(inference_copy(net)(x), net(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stages": 0}, "'stages' must be >= 1"),
        ({"stages": 2.0}, "'stages' must be an integer"),
        ({"stages": True}, "'stages' must be an integer"),
        ({"stage_layers": 0}, "'stage_layers'"),
        ({"stage_channels": -1}, "'stage_channels'"),
        ({"stage_kernel_size": 0}, "'stage_kernel_size'"),
        ({"stage_dropout": 1.0}, "'stage_dropout' must be a number in"),
        ({"stage_dropout": "0.5"}, "'stage_dropout'"),
        ({"stage": 3}, "'stage' \\(did you mean 'stages'\\?\\).*Valid parameters.*stage_layers"),
    ],
)
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_bad_stage_parameters_name_the_key(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(num_classes=3, num_freqbins=FREQ_CONV, **kwargs)


def test_a_subclass_gets_stages_through_build_head():
    """docs/development.md's recipe: a network passing the table's stage keys to _build_head."""
    from vak_tcn.nn import FrameClassifier

    class TinyNet(FrameClassifier):
        def __init__(self, num_classes, num_input_channels=1, num_freqbins=256, causal=True, **stages):
            super().__init__()
            self._build_head(num_input_channels * num_freqbins, num_classes, 4, 2, 2, 0.0, causal, **stages)

        def features(self, x):
            return x.flatten(1, 2)

    net = TinyNet(3, num_freqbins=FREQ_TCN, stages=2, stage_layers=2)
    assert net.num_stages == 2 and net.receptive_field == receptive_field(2, 2) + stage_receptive_field(2) - 1
    assert net(torch.randn(1, 1, FREQ_TCN, 20)).shape == (1, 3, 20)
    with pytest.raises(ValueError, match="'stage_channel' \\(did you mean 'stage_channels'\\?\\)"):
        TinyNet(3, num_freqbins=FREQ_TCN, stage_channel=8)


def test_window_warning_counts_the_stages(caplog):
    net = TCN(num_classes=3, num_freqbins=FREQ_TCN, num_layers=3, stages=2, stage_layers=6)
    assert net.receptive_field == receptive_field(3, 2) + 126
    assert net.check_window(net.receptive_field)
    with caplog.at_level(logging.WARNING, logger="vak_tcn.nn.tcn"):
        assert not net.check_window(net.receptive_field - 1)
    assert str(net.receptive_field) in caplog.text and "stage_layers" in caplog.text


# ---------------------------------------------------------------- frame layout (channels-last 2-D convolutions)
def _conv1d_reference(conv, x, padding):
    """``conv``'s weights as a plain F.conv1d over ``x`` zero-padded (left, right)."""
    return F.conv1d(F.pad(x, padding), conv.weight, conv.bias, dilation=conv.dilation[0])


def _network_reference(net, x):
    """The network's eval-mode logits computed with F.conv1d on (batch, channels, time) tensors only:
    an independent reference for the channels-last 2-D path (FrameConv1d, to_frames4)."""
    h = _conv1d_reference(net.input_proj, net.features(x), (0, 0))
    for block in net.tcn:
        out = F.relu(_conv1d_reference(block.conv1, h, block.padding))
        out = F.relu(_conv1d_reference(block.conv2, out, block.padding))
        h = F.relu(out + (h if block.downsample is None else _conv1d_reference(block.downsample, h, (0, 0))))
    out = _conv1d_reference(net.fc, h, (0, 0))
    for stage in net.refinement:
        h = _conv1d_reference(stage.conv_in, F.softmax(out, dim=1), (0, 0))
        for layer in stage.layers:
            inner = F.relu(_conv1d_reference(layer.conv_dilated, h, layer.padding))
            h = h + _conv1d_reference(layer.conv_1x1, inner, (0, 0))
        out = _conv1d_reference(stage.conv_out, h, (0, 0))
    return out


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_network_equals_a_plain_conv1d_reference(cls, causal, dtype):
    """Every convolution runs as a channels-last 2-D convolution of height 1 (oneDNN's fast layout);
    the logits equal F.conv1d's on (batch, channels, time), stages and odd kernels included, and come
    back as a contiguous (batch, classes, time) tensor."""
    net = make(cls, out_channels=8, num_layers=3, kernel_size=3, causal=causal, stages=3, **SMALL_STAGES).to(dtype)
    x = spectrogram(net, 45, batch=3).to(dtype)
    with torch.no_grad():
        got, expected = net(x), _network_reference(net, x)
    assert got.shape == (3, 5, 45) and got.is_contiguous()
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)


def test_frame_convolution_takes_both_layouts_and_keeps_hooks():
    from vak_tcn.nn.layers import FrameConv1d, from_frames4, to_frames4

    torch.manual_seed(0)
    conv = FrameConv1d(6, 4, 3, dilation=2, padding=2)
    seen = []
    conv.register_forward_hook(lambda mod, args, out: seen.append(out.dim()))
    x = torch.randn(2, 6, 30)
    frames = to_frames4(x)
    assert frames.shape == (2, 6, 1, 30) and frames.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(from_frames4(conv(frames)), conv(x), rtol=1e-6, atol=1e-6)
    assert seen == [4, 3]


def test_dropout_on_channels_last_frames_keeps_the_layout_and_its_gradient_is_the_mask():
    from vak_tcn.nn.layers import to_frames4

    torch.manual_seed(0)
    drop = Dropout(0.5).train()
    x = to_frames4(torch.randn(4, 8, 300)).requires_grad_(True)
    out = drop(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out.detach() != 0).to(x.dtype) * 2.0)
    assert abs((out == 0).double().mean().item() - 0.5) < 0.02
