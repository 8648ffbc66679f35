"""vak_tcn.nn.incremental: a causal network fed frame blocks equals offline inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vak_tcn.nn import TCN, ConvTCN
from vak_tcn.nn.incremental import IncrementalNetwork

SMALL_FRONT = {"conv1_filters": 4, "conv2_filters": 4}


def make(cls, causal=True, **kwargs):
    """A small network; causal unless said otherwise (the networks' default is centred)."""
    torch.manual_seed(0)
    extra = SMALL_FRONT if cls is ConvTCN else {}
    return cls(num_classes=5, num_freqbins=64, out_channels=16, num_layers=5, causal=causal, **extra, **kwargs).eval()


def stream(net, x: torch.Tensor, sizes) -> torch.Tensor:
    engine = IncrementalNetwork(net)
    outs, start = [], 0
    for n in sizes:
        outs.append(engine.push(x[0, ..., start : start + n]))
        start += n
    outs.append(engine.flush())
    assert engine.frames_out == engine.frames_in == x.shape[-1]
    return torch.cat(outs, dim=-1)


def random_sizes(total: int, rng: np.random.Generator, high: int) -> list[int]:
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(min(rng.integers(1, high + 1), total - sum(sizes))))
    return sizes


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_logits_equal_offline_causal_inference(cls, seed):
    net = make(cls)
    x = torch.randn(1, 1, 64, 257)
    with torch.no_grad():
        offline = net(x)[0]
    rng = np.random.default_rng(seed)
    high = [1, 7, 300][seed]  # frame by frame, small blocks, one block
    got = stream(net, x, random_sizes(x.shape[-1], rng, high))
    assert got.shape == offline.shape
    torch.testing.assert_close(got, offline, atol=1e-5, rtol=1e-5)
    assert torch.equal(got.argmax(0), offline.argmax(0))


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("stages, seed", [(2, 0), (3, 1), (3, 2)])
def test_streamed_multi_stage_logits_equal_offline_causal_inference(cls, stages, seed):
    """Causal refinement stages (softmax, causal dilated residual layers) stream too, with no extra delay."""
    net = make(cls, stages=stages, stage_layers=4, stage_channels=8)
    with torch.no_grad():  # sharper logits: what a stage sees shows in its output
        for conv in (net.fc, *(stage.conv_out for stage in net.refinement)):
            conv.weight.mul_(5)
    x = torch.randn(1, 1, 64, 257)
    with torch.no_grad():
        offline = net(x)[0]
    rng = np.random.default_rng(seed)
    high = [1, 7, 300][seed]  # frame by frame, small blocks, one block
    engine_delay = IncrementalNetwork(net).lookahead
    assert engine_delay == (0 if cls is TCN else 4)
    got = stream(net, x, random_sizes(x.shape[-1], rng, high))
    assert got.shape == offline.shape
    torch.testing.assert_close(got, offline, atol=1e-4, rtol=1e-5)
    assert torch.equal(got.argmax(0), offline.argmax(0))


def test_lookahead_is_the_delay_of_the_outputs():
    x = torch.randn(1, 1, 64, 20)
    for cls, lookahead, delay in ((TCN, None, 0), (ConvTCN, None, 4), (TCN, 3, 3), (ConvTCN, 3, 7)):
        engine = IncrementalNetwork(make(cls, lookahead=lookahead))
        assert engine.lookahead == delay
        counts = [engine.push(x[0, ..., t : t + 1]).shape[-1] for t in range(20)]
        assert counts == [0] * delay + [1] * (20 - delay)
        assert engine.flush().shape[-1] == delay


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@pytest.mark.parametrize("lookahead, stages, seed", [(1, 1, 0), (8, 1, 1), (5, 3, 2), (16, 2, 0)])
def test_a_lookahead_streams_as_offline(cls, lookahead, stages, seed):
    """The network table's lookahead: the engine drops the causal network's first outputs and flushes with
    zero frames, equal to offline inference frame by frame, in blocks and in one block."""
    net = make(cls, lookahead=lookahead, stages=stages, stage_layers=4, stage_channels=8)
    x = torch.randn(1, 1, 64, 257)
    with torch.no_grad():
        offline = net(x)[0]
    assert offline.shape[-1] == 257
    rng = np.random.default_rng(seed)
    got = stream(net, x, random_sizes(x.shape[-1], rng, [1, 7, 300][seed]))
    torch.testing.assert_close(got, offline, atol=1e-4, rtol=1e-5)
    assert torch.equal(got.argmax(0), offline.argmax(0))


def test_reset_starts_a_new_stream():
    net = make(TCN)
    x = torch.randn(1, 1, 64, 30)
    engine = IncrementalNetwork(net)
    first = engine.push(x[0])
    engine.reset()
    torch.testing.assert_close(engine.push(x[0]), first)


def test_centred_network_is_refused():
    with pytest.raises(ValueError, match="set causal = true in the network table .and lookahead = N"):
        IncrementalNetwork(make(TCN, causal=False))
    with pytest.raises(ValueError, match="causal"):
        IncrementalNetwork(make(TCN, causal=False, stages=2, stage_layers=2))
    with pytest.raises(TypeError, match="vak-tcn network"):
        IncrementalNetwork(torch.nn.Conv1d(3, 3, 1))


def test_original_network_is_untouched():
    net = make(TCN).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    IncrementalNetwork(net).push(torch.randn(1, 64, 10))
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
