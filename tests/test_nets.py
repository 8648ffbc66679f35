"""TCN and ConvTCN: shapes, causality, receptive field, front end identical to TweetyNet's."""

from __future__ import annotations

import logging

import pytest
import torch

from vak_tcn.networks import TCN, ConvTCN, receptive_field

FREQBINS = 64


def make(cls, **kwargs):
    torch.manual_seed(0)
    net = cls(num_classes=5, num_input_channels=1, num_freqbins=FREQBINS, **kwargs).double().eval()
    return net


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("time", [37, 64])
@pytest.mark.parametrize("num_layers, kernel_size", [(1, 2), (3, 3), (4, 2)])
def test_output_shape_keeps_time_length(cls, causal, time, num_layers, kernel_size):
    net = make(cls, out_channels=8, num_layers=num_layers, kernel_size=kernel_size, causal=causal)
    x = torch.randn(2, 1, FREQBINS, time, dtype=torch.float64)
    assert net(x).shape == (2, 5, time)


@pytest.mark.parametrize("num_layers, kernel_size", [(3, 2), (2, 3), (4, 2)])
def test_causal_tcn_never_looks_ahead(num_layers, kernel_size):
    net = make(TCN, out_channels=8, num_layers=num_layers, kernel_size=kernel_size, causal=True)
    x = torch.randn(1, 1, FREQBINS, 50, dtype=torch.float64)
    out = net(x)
    for t in (0, 10, 31, 48):
        changed = x.clone()
        changed[..., t + 1 :] = torch.randn_like(changed[..., t + 1 :]) * 5
        assert torch.equal(net(changed)[..., : t + 1], out[..., : t + 1])
        assert not torch.equal(net(changed)[..., t + 1 :], out[..., t + 1 :])


def _positive_weights(net):
    """All weights positive and inputs positive: no ReLU is ever 0, so no gradient vanishes by accident."""
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand_like(p) * 0.1 + 0.01)


def _influence_span(net, time, t):
    x = torch.rand(1, 1, FREQBINS, time, dtype=torch.float64, requires_grad=True)
    net(x)[0, :, t].sum().backward()
    frames = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
    return frames.min().item(), frames.max().item(), frames.numel()


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("num_layers, kernel_size", [(1, 2), (3, 2), (2, 3), (4, 3)])
def test_receptive_field_formula_matches_gradient_span(causal, num_layers, kernel_size):
    net = make(TCN, out_channels=4, num_layers=num_layers, kernel_size=kernel_size, causal=causal, dropout=0.0)
    _positive_weights(net)
    rf = receptive_field(num_layers, kernel_size)
    assert net.receptive_field == rf == 1 + 2 * (kernel_size - 1) * (2**num_layers - 1)
    time = 2 * rf + 10
    t = time // 2
    first, last, count = _influence_span(net, time, t)
    assert count == last - first + 1 == rf
    if causal:
        assert last == t  # only the past and present
    else:
        # centred: odd padding totals (kernel 2, dilation 1) put one extra frame ahead, per conv
        behind, ahead = t - first, last - t
        assert abs(ahead - behind) <= 2 and ahead > 0


def test_convtcn_receptive_field_includes_front_end():
    net = make(ConvTCN, out_channels=4, num_layers=2, kernel_size=2, causal=True, dropout=0.0)
    _positive_weights(net)
    assert net.receptive_field == receptive_field(2, 2) + 8  # two 5-wide SAME convs
    first, last, count = _influence_span(net, 40, 20)
    assert count == net.receptive_field and last == 24  # the front end sees 4 frames ahead


def test_convtcn_front_end_is_tweetynets():
    from vak.nets import TweetyNet

    tweety = TweetyNet(num_classes=5, num_input_channels=1, num_freqbins=FREQBINS)
    net = ConvTCN(num_classes=5, num_input_channels=1, num_freqbins=FREQBINS)
    assert [type(m) for m in net.cnn] == [type(m) for m in tweety.cnn]
    net.cnn.load_state_dict(tweety.cnn.state_dict())  # same parameter names and shapes
    x = torch.randn(2, 1, FREQBINS, 30)
    assert torch.equal(net.cnn(x), tweety.cnn(x))
    assert net.cnn_out_features == tweety.rnn_input_size


def test_convtcn_accepts_toml_lists_for_kernel_sizes():
    net = ConvTCN(num_classes=3, num_freqbins=FREQBINS, conv1_kernel_size=[3, 3], pool1_size=[4, 1], pool1_stride=[4, 1])
    assert net(torch.randn(1, 1, FREQBINS, 20)).shape == (1, 3, 20)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_layers": 0}, "num_layers"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"out_channels": -1}, "out_channels"),
        ({"dropout": 1.0}, "dropout"),
        ({"causal": "yes"}, "causal"),
        ({"num_layer": 3}, "num_layer.*Valid parameters.*num_layers"),
    ],
)
@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_bad_parameters_name_the_key(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(num_classes=3, num_freqbins=FREQBINS, **kwargs)


def test_check_window_warns_when_receptive_field_exceeds_window(caplog):
    net = TCN(num_classes=3, num_freqbins=FREQBINS)  # poster defaults: 8 layers, kernel 2 -> 511 frames
    assert net.receptive_field == 511
    with caplog.at_level(logging.WARNING, logger="vak_tcn.networks"):
        assert net.check_window(176) is False
    assert "511" in caplog.text and "176" in caplog.text
    caplog.clear()
    assert net.check_window(2000) is True and caplog.text == ""


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
def test_inference_copy_gives_same_outputs_and_leaves_original(cls):
    from torch.nn.utils import parametrize

    from vak_tcn.networks import inference_copy

    net = make(cls, out_channels=8, num_layers=3).float()
    with torch.no_grad():  # non-trivial weight-norm gains
        for module in net.modules():
            if parametrize.is_parametrized(module, "weight"):
                module.parametrizations.weight.original0.mul_(1.7)
    x = torch.randn(2, 1, FREQBINS, 45)
    fast = inference_copy(net)
    assert not any(parametrize.is_parametrized(m) for m in fast.modules())
    assert any(parametrize.is_parametrized(m) for m in net.modules())
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-5, atol=1e-5)
