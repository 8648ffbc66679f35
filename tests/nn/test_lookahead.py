"""The network table's ``lookahead``: a causal network read ``lookahead`` frames late (issue 41).

Checked against an independent reference (the same weights built causal, run on the input padded with
``lookahead`` zero frames, its first outputs dropped) and by gradients: output frame ``t`` depends on
input frames up to ``t + lookahead`` (plus ConvTCN's front end, 4 frames), and on frame ``t + lookahead``.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from vak_tcn.nn import TCN, ConvTCN

SMALL = {"num_classes": 4, "num_freqbins": 64, "out_channels": 8, "num_layers": 4}
FRONT = {"conv1_filters": 4, "conv2_filters": 4}


def make(cls, **kwargs):
    torch.manual_seed(0)
    return cls(**SMALL, **(FRONT if cls is ConvTCN else {}), **kwargs).eval()


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("lookahead, stages", [(0, 1), (6, 1), (6, 3), (20, 2)])
def test_lookahead_is_the_causal_network_read_late(cls, lookahead, stages):
    net = make(cls, causal=True, lookahead=lookahead, stages=stages, stage_layers=3)
    causal = make(cls, causal=True, stages=stages, stage_layers=3)
    causal.load_state_dict(net.state_dict())  # the same weights: lookahead adds none
    front = 4 if cls is ConvTCN else 0
    assert (net.delay, net.lookahead) == (lookahead, lookahead + front)
    assert net.receptive_field == causal.receptive_field
    x = torch.randn(2, 1, 64, 90)
    with torch.no_grad():
        reference = [out[..., lookahead:] for out in causal.forward_stages(F.pad(x, (0, lookahead)))]
        got = net.forward_stages(x)
    assert len(got) == stages
    for a, b in zip(got, reference):
        assert a.shape == (2, 4, 90)
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("lookahead", [0, 5])
def test_an_output_frame_hears_lookahead_frames_ahead_and_no_more(cls, lookahead):
    net = make(cls, causal=True, lookahead=lookahead, stages=2, stage_layers=3)
    x = torch.randn(1, 1, 64, 120, requires_grad=True)
    t = 60
    net(x)[0, :, t].sum().backward()
    heard = (x.grad[0, 0].abs().sum(0) > 0).nonzero().flatten()
    assert int(heard.max()) == t + net.lookahead  # the furthest frame heard: lookahead ahead, exactly
    assert int(heard.min()) == t + net.lookahead - (net.receptive_field - 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"lookahead": 4}, "'lookahead' (4) needs causal = true"),  # centred, the default
        ({"causal": False, "lookahead": 4}, "needs causal = true"),
        ({"causal": True, "lookahead": -1}, "'lookahead' must be >= 0"),
        ({"causal": True, "lookahead": 2.5}, "'lookahead' must be an integer"),
        ({"causal": True, "lookahead": 31}, "must be less than the receptive field (31 frames)"),
    ],
)
def test_lookahead_mistakes_name_the_key(kwargs, words):
    with pytest.raises((ValueError, TypeError)) as err:
        make(TCN, **kwargs)
    assert words in str(err.value)


def test_lookahead_zero_is_causal():
    a, b = make(TCN, causal=True, lookahead=0), make(TCN, causal=True)
    x = torch.randn(1, 1, 64, 50)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
