"""SmoothedCrossEntropy: cross-entropy + TMSE / GS-TMSE, checked against hand computation."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from vak_tcn.losses import SmoothedCrossEntropy, gaussian_similarity_weights, tmse


def test_weight_zero_is_torch_cross_entropy_exactly():
    torch.manual_seed(0)
    logits, target = torch.randn(3, 4, 20), torch.randint(0, 4, (3, 20))
    target[0, :5] = -100
    weight = [1.0, 2.0, 0.5, 1.0]
    loss = SmoothedCrossEntropy(tmse_weight=0, weight=weight)
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weight), ignore_index=-100)
    assert torch.equal(loss(logits, target), expected)
    assert torch.equal(SmoothedCrossEntropy(tmse_weight=0, similarity="gaussian")(logits, target), F.cross_entropy(logits, target))


def _log_softmax_2(a, b):
    """log-softmax of two logits, by hand."""
    m = math.log(math.exp(a) + math.exp(b))
    return a - m, b - m


# one sequence, 2 classes, 3 frames; logits chosen so the numbers are easy to follow
LOGITS = torch.tensor([[[0.0, 1.0, 1.0], [0.0, 0.0, 2.0]]])
TARGET = torch.tensor([[0, 0, 1]])


def _hand_tmse(tau=4.0, pair_weights=(1.0, 1.0)):
    frames = [_log_softmax_2(*LOGITS[0, :, t].tolist()) for t in range(3)]
    pairs = []
    for t in (1, 2):
        sq = [min((frames[t][c] - frames[t - 1][c]) ** 2, tau**2) for c in (0, 1)]
        pairs.append(sum(sq) / 2 * pair_weights[t - 1])
    return sum(pairs) / 2


def test_tmse_hand_computed():
    # frame 0: logits (0, 0) -> log p = (-ln2, -ln2); frame 1: (1, 0); frame 2: (1, 2)
    assert tmse(LOGITS).item() == pytest.approx(_hand_tmse(), rel=1e-6)
    loss = SmoothedCrossEntropy(tmse_weight=0.5, similarity="none")
    ce = F.cross_entropy(LOGITS, TARGET).item()
    assert loss(LOGITS, TARGET).item() == pytest.approx(ce + 0.5 * _hand_tmse(), rel=1e-6)


def test_tmse_clamps_at_tau_squared():
    # frame 0: log p = (-ln2, -ln2); frame 1: logits (20, -20) -> log p ~= (0, -40)
    logits = torch.tensor([[[0.0, 20.0], [0.0, -20.0]]])
    small, big = math.log(2) ** 2, (40 - math.log(2)) ** 2  # squared differences of class 0 and 1
    assert tmse(logits, threshold=4.0).item() == pytest.approx((small + 16.0) / 2, rel=1e-5)  # class 1 clamped
    assert tmse(logits, threshold=100.0).item() == pytest.approx((small + big) / 2, rel=1e-5)


def test_gs_tmse_hand_computed_weights():
    # inputs: 1 channel, 2 bins, 3 frames; column differences have L2 norms 5 and 0
    inputs = torch.tensor([[[[0.0, 3.0, 3.0], [0.0, 4.0, 4.0]]]])
    sigma = 2.0
    w = gaussian_similarity_weights(inputs, sigma=sigma)
    assert w[0].tolist() == pytest.approx([math.exp(-5 / (2 * sigma**2)), 1.0])
    w_dim = gaussian_similarity_weights(inputs, sigma=sigma, normalize="dim")
    assert w_dim[0].tolist() == pytest.approx([math.exp(-5 / math.sqrt(2) / (2 * sigma**2)), 1.0])
    loss = SmoothedCrossEntropy(tmse_weight=1.0, similarity="gaussian", sigma=sigma)
    ce = F.cross_entropy(LOGITS, TARGET).item()
    expected = ce + _hand_tmse(pair_weights=w[0].tolist())
    assert loss(LOGITS, TARGET, inputs).item() == pytest.approx(expected, rel=1e-6)


def test_tmse_detaches_previous_frame_gs_tmse_does_not():
    logits = LOGITS.clone().requires_grad_(True)
    tmse(logits, detach=True).backward()
    g_detached = logits.grad.clone()
    logits.grad = None
    tmse(logits, detach=False).backward()
    g_full = logits.grad.clone()
    # the last frame only appears as "current": same gradient; the first only as "previous": none when detached
    assert torch.allclose(g_detached[..., 2], g_full[..., 2])
    assert torch.count_nonzero(g_detached[..., 0]) == 0 and torch.count_nonzero(g_full[..., 0]) > 0


@pytest.mark.parametrize("similarity", ["none", "gaussian"])
def test_gradients_finite_for_extreme_logits_and_silent_input(similarity):
    logits = torch.tensor([[[1e4, -1e4, 1e4, 0.0], [-1e4, 1e4, -1e4, 0.0]]], requires_grad=True)
    target = torch.tensor([[0, 1, 0, 1]])
    silent = torch.zeros(1, 1, 8, 4)  # constant input: distances 0, weight 1
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity=similarity)(logits, target, silent)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("similarity", ["none", "gaussian"])
def test_padded_frames_are_ignored(similarity):
    torch.manual_seed(1)
    logits, inputs = torch.randn(1, 3, 10), torch.randn(1, 1, 6, 10)
    target = torch.randint(0, 3, (1, 10))
    target[0, 7:] = -100
    loss = SmoothedCrossEntropy(tmse_weight=1.0, similarity=similarity)
    changed = logits.clone()
    changed[..., 7:] = torch.randn(1, 3, 3) * 10
    assert loss(changed, target, inputs).item() == pytest.approx(loss(logits, target, inputs).item(), rel=1e-6)
    all_padded = torch.full((1, 10), -100)
    assert torch.isfinite(tmse(logits, all_padded)) and tmse(logits, all_padded).item() == 0.0


def test_gaussian_needs_inputs():
    with pytest.raises(ValueError, match="spectrogram"):
        SmoothedCrossEntropy(similarity="gaussian", tmse_weight=0.15)(LOGITS, TARGET)
    assert SmoothedCrossEntropy(similarity="gaussian", tmse_weight=0.15).needs_inputs
    assert not SmoothedCrossEntropy(similarity="gaussian", tmse_weight=0).needs_inputs
    assert not SmoothedCrossEntropy(similarity="none").needs_inputs


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"similarity": "cosine"}, "similarity.*none.*gaussian"),
        ({"tmse_weight": -0.1}, "tmse_weight"),
        ({"tmse_threshold": 0}, "tmse_threshold"),
        ({"sigma": -1}, "sigma"),
        ({"normalize": "l1"}, "normalize"),
        ({"tmse_wieght": 0.1}, "tmse_wieght.*Valid parameters.*tmse_weight"),
    ],
)
def test_bad_loss_config_names_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmoothedCrossEntropy(**kwargs)


def test_default_is_plain_cross_entropy():
    """No loss table in a config: the same objective as vak's TweetyNet."""
    torch.manual_seed(2)
    logits, target = torch.randn(2, 3, 12), torch.randint(0, 3, (2, 12))
    assert torch.equal(SmoothedCrossEntropy()(logits, target), F.cross_entropy(logits, target))
