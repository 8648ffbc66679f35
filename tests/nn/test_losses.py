"""vak_tcn.losses: cross-entropy + TMSE / GS-TMSE, checked against hand-computed numbers.

Tiny tensors only (fast, CPU).
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle

import pytest
import torch
from torch.nn import functional as F

from vak_tcn.nn.losses import DEFAULTS, SmoothedCrossEntropy, gaussian_similarity_weights, tmse

from_config = SmoothedCrossEntropy.from_config

# --------------------------------------------------------------------------- a hand-computed example
# batch 1, 2 classes, 3 frames.  Logits per frame (class 0, class 1):
#   frame 0: (0, 0)      -> p = (1/2, 1/2) -> log p = (-ln 2,   -ln 2)   = (-0.693147, -0.693147)
#   frame 1: (ln 3, 0)   -> p = (3/4, 1/4) -> log p = (ln 3/4,  ln 1/4)  = (-0.287682, -1.386294)
#   frame 2: (0, ln 3)   -> p = (1/4, 3/4) -> log p = (ln 1/4,  ln 3/4)  = (-1.386294, -0.287682)
LN3 = math.log(3.0)
LOGITS = torch.tensor([[[0.0, LN3, 0.0], [0.0, 0.0, LN3]]])
TARGET = torch.tensor([[0, 0, 1]])
# squared log-prob differences:
#   pair (0, 1): class 0: (ln 3/2)^2 = 0.164402, class 1: (-ln 2)^2 = 0.480453 -> class mean 0.322427
#   pair (1, 2): class 0: (-ln 3)^2  = 1.206949, class 1: (ln 3)^2  = 1.206949 -> class mean 1.206949
PAIR1 = (math.log(1.5) ** 2 + math.log(2.0) ** 2) / 2
PAIR2 = LN3**2
TMSE_VALUE = 0.764688  # (0.322427 + 1.206949) / 2
CE_VALUE = 0.422837  # (ln 2 + ln 4/3 + ln 4/3) / 3: -log p of the targets 0, 0, 1


def test_hand_numbers_are_right():
    assert PAIR1 == pytest.approx(0.322427, abs=1e-6)
    assert PAIR2 == pytest.approx(1.206949, abs=1e-6)
    assert (PAIR1 + PAIR2) / 2 == pytest.approx(TMSE_VALUE, abs=1e-6)
    assert (math.log(2) + 2 * math.log(4 / 3)) / 3 == pytest.approx(CE_VALUE, abs=1e-6)


def test_tmse_hand_computed():
    assert tmse(LOGITS).item() == pytest.approx(TMSE_VALUE, abs=1e-6)
    assert tmse(LOGITS, TARGET).item() == pytest.approx(TMSE_VALUE, abs=1e-6)
    assert tmse(LOGITS, detach=False).item() == pytest.approx(TMSE_VALUE, abs=1e-6)  # same value, other gradient
    loss = SmoothedCrossEntropy(tmse_weight=0.5, similarity="none")
    assert loss(LOGITS, TARGET).item() == pytest.approx(CE_VALUE + 0.5 * TMSE_VALUE, abs=1e-6)
    # the default is plain cross-entropy (the poster's weight, 0.15, is set in the config)
    assert SmoothedCrossEntropy()(LOGITS, TARGET).item() == pytest.approx(0.422837, abs=1e-6)


def test_tmse_clamps_at_tau_squared():
    # tau = 1: pair (1, 2) has squared differences 1.206949 > 1 -> clamped to 1; pair (0, 1) is below
    assert tmse(LOGITS, threshold=1.0).item() == pytest.approx((0.322427 + 1.0) / 2, abs=1e-6)
    # tau = 0.5 (tau^2 = 0.25): pair (0, 1): (0.164402 + 0.25) / 2 = 0.207201; pair (1, 2): 0.25
    assert tmse(LOGITS, threshold=0.5).item() == pytest.approx((0.207201 + 0.25) / 2, abs=1e-6)
    loss = SmoothedCrossEntropy(tmse_weight=1.0, tmse_threshold=1.0)
    assert loss(LOGITS, TARGET).item() == pytest.approx(CE_VALUE + 0.661214, abs=1e-6)
    # a clamped difference passes no gradient: with tau = 0.1 every entry is clamped
    logits = LOGITS.clone().requires_grad_(True)
    tmse(logits, threshold=0.1, detach=False).backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_gs_tmse_hand_computed():
    # 2 frequency bins; columns x0 = (0, 0), x1 = (3, 4), x2 = (3, 4):
    # ||x1 - x0|| = 5 -> exp(-5 / 2) = 0.082085 (sigma 1); ||x2 - x1|| = 0 -> weight 1
    inputs = torch.tensor([[[0.0, 3.0, 3.0], [0.0, 4.0, 4.0]]])
    w = gaussian_similarity_weights(inputs)
    assert w.shape == (1, 2)
    assert w[0].tolist() == pytest.approx([0.082085, 1.0], abs=1e-6)
    # sigma 2: exp(-5 / 8) = 0.535261; normalize "dim": exp(-(5 / sqrt 2) / 2) = 0.170714
    assert gaussian_similarity_weights(inputs, sigma=2.0)[0, 0].item() == pytest.approx(0.535261, abs=1e-6)
    assert gaussian_similarity_weights(inputs, normalize="dim")[0, 0].item() == pytest.approx(0.170714, abs=1e-6)
    # (batch, channels, freqbins, time) gives the same weights
    assert torch.equal(gaussian_similarity_weights(inputs[:, None]), w)

    gs = (0.082085 * 0.322427 + 1.0 * 1.206949) / 2  # = 0.616708
    assert tmse(LOGITS, TARGET, detach=False, pair_weights=w).item() == pytest.approx(gs, abs=1e-6)
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity="gaussian", sigma=1.0)
    assert loss.needs_inputs
    assert loss(LOGITS, TARGET, inputs).item() == pytest.approx(CE_VALUE + 0.15 * 0.616708, abs=1e-6)
    assert loss(LOGITS, TARGET, inputs[:, None]).item() == pytest.approx(CE_VALUE + 0.15 * 0.616708, abs=1e-6)


def test_weights_carry_no_gradient():
    inputs = torch.randn(2, 1, 5, 7, requires_grad=True)
    w = gaussian_similarity_weights(inputs)
    assert not w.requires_grad
    loss = SmoothedCrossEntropy(similarity="gaussian")
    out = loss(torch.randn(2, 3, 7, requires_grad=True), torch.randint(0, 3, (2, 7)), inputs)
    out.backward()
    assert inputs.grad is None


# --------------------------------------------------------------------------- plain cross-entropy
def test_weight_zero_is_torch_cross_entropy_exactly():
    torch.manual_seed(0)
    logits, target = torch.randn(3, 4, 20), torch.randint(0, 4, (3, 20))
    target[0, :5] = -100
    target[2, 15:] = -100
    class_weights = [1.0, 2.0, 0.5, 1.0]
    loss = SmoothedCrossEntropy(tmse_weight=0, weight=class_weights)
    expected = F.cross_entropy(logits, target, weight=torch.tensor(class_weights), ignore_index=-100)
    assert torch.equal(loss(logits, target), expected)
    assert torch.equal(SmoothedCrossEntropy(tmse_weight=0)(logits, target), F.cross_entropy(logits, target))
    # tensor weights and another ignore_index
    target7 = torch.where(target == -100, torch.full_like(target, 7), target)
    loss = SmoothedCrossEntropy(tmse_weight=0.0, weight=torch.tensor(class_weights), ignore_index=7)
    assert torch.equal(
        loss(logits, target7), F.cross_entropy(logits, target7, weight=torch.tensor(class_weights), ignore_index=7)
    )
    # GS-TMSE with weight 0 needs no spectrogram
    gs0 = SmoothedCrossEntropy(tmse_weight=0, similarity="gaussian")
    assert not gs0.needs_inputs
    assert torch.equal(gs0(logits, target), F.cross_entropy(logits, target))


def test_class_weights_enter_the_cross_entropy_term():
    loss = SmoothedCrossEntropy(tmse_weight=0.15, weight=[2.0, 1.0])
    ce = F.cross_entropy(LOGITS, TARGET, weight=torch.tensor([2.0, 1.0]))
    assert loss(LOGITS, TARGET).item() == pytest.approx(ce.item() + 0.15 * TMSE_VALUE, abs=1e-6)
    with pytest.raises(ValueError, match="weight.*3 values.*2 classes"):
        SmoothedCrossEntropy(weight=[1.0, 1.0, 1.0])(LOGITS, TARGET)


# --------------------------------------------------------------------------- gradients
def _manual_tmse_grad(logits: torch.Tensor) -> torch.Tensor:
    """d TMSE / d logits without autograd, previous frame treated as a constant (MS-TCN's detach)."""
    logp = torch.log_softmax(logits, dim=1)
    batch, classes, time = logits.shape
    diff = logp[..., 1:] - logp[..., :-1]
    g_logp = torch.zeros_like(logp)
    # mean over batch x classes x (time - 1) entries; tau = 4
    g_logp[..., 1:] = 2 * diff * (diff**2 < 16.0) / (batch * classes * (time - 1))
    # back through log_softmax: dL/dz = g - softmax(z) * sum_c g
    return g_logp - logp.exp() * g_logp.sum(dim=1, keepdim=True)


def test_tmse_detach_gradient_flows_only_through_current_frame():
    torch.manual_seed(1)
    base = torch.randn(2, 3, 6)
    logits = base.clone().requires_grad_(True)
    tmse(logits).backward()
    torch.testing.assert_close(logits.grad, _manual_tmse_grad(base), rtol=1e-5, atol=1e-7)
    # frame 0 only ever appears as the (detached) previous frame: no gradient there
    assert torch.equal(logits.grad[..., 0], torch.zeros(2, 3))

    # GS-TMSE with weights 1 (a constant spectrogram) has the same value but no detach
    gs_logits = base.clone().requires_grad_(True)
    ones = gaussian_similarity_weights(torch.zeros(2, 4, 6))
    assert torch.equal(ones, torch.ones(2, 5))
    gs = tmse(gs_logits, detach=False, pair_weights=ones)
    assert gs.item() == pytest.approx(tmse(base).item(), rel=1e-6)
    gs.backward()
    assert gs_logits.grad[..., 0].abs().sum() > 0
    # the last frame only appears as the current frame: same gradient there
    torch.testing.assert_close(gs_logits.grad[..., -1], logits.grad[..., -1])
    assert not torch.allclose(gs_logits.grad, logits.grad)


@pytest.mark.parametrize("similarity", ["none", "gaussian"])
def test_gradients_finite_for_extreme_logits(similarity):
    torch.manual_seed(2)
    base = torch.where(torch.rand(2, 3, 8) > 0.5, 1e4, -1e4)
    logits = base.requires_grad_(True)
    target = torch.randint(0, 3, (2, 8))
    inputs = torch.randn(2, 1, 5, 8) * 1e3
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity=similarity)
    out = loss(logits, target, inputs)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(logits.grad).all()


def test_gradients_finite_for_silent_inputs():
    torch.manual_seed(3)
    inputs = torch.full((2, 1, 6, 9), -1.5, requires_grad=True)  # constant: ||dx|| = 0
    assert torch.equal(gaussian_similarity_weights(inputs), torch.ones(2, 8))
    logits = torch.randn(2, 3, 9, requires_grad=True)
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity="gaussian")
    out = loss(logits, torch.randint(0, 3, (2, 9)), inputs)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(logits.grad).all()
    assert inputs.grad is None


# --------------------------------------------------------------------------- padding
@pytest.mark.parametrize("similarity", ["none", "gaussian"])
def test_padded_frames_are_ignored(similarity):
    torch.manual_seed(4)
    logits, target, inputs = torch.randn(2, 3, 10), torch.randint(0, 3, (2, 10)), torch.randn(2, 1, 4, 10)
    target[0, 7:] = -100  # padded end of a window
    target[1, 3] = -100  # a single padded frame
    loss = SmoothedCrossEntropy(tmse_weight=0.5, similarity=similarity)
    reference = loss(logits, target, inputs)
    pad = target == -100
    logits2 = torch.where(pad[:, None], torch.randn(2, 3, 10) * 100, logits)
    inputs2 = torch.where(pad[:, None, None], torch.randn(2, 1, 4, 10) * 100, inputs)
    assert torch.equal(loss(logits2, target, inputs2), reference)
    # the smoothing term is the mean over the valid pairs only: 6 pairs in row 0, 7 in row 1
    valid_pairs = 6 + 7
    logp = logits.log_softmax(1)
    per_pair = torch.clamp((logp[..., 1:] - logp[..., :-1]) ** 2, max=16.0).mean(1)
    pair_weights = gaussian_similarity_weights(inputs) if similarity == "gaussian" else None
    if pair_weights is not None:
        per_pair = per_pair * pair_weights
    mask = ~pad[:, 1:] & ~pad[:, :-1]
    assert mask.sum() == valid_pairs
    smooth = tmse(logits, target, detach=similarity == "none", pair_weights=pair_weights)
    torch.testing.assert_close(smooth, per_pair[mask].mean())


@pytest.mark.parametrize("similarity", ["none", "gaussian"])
def test_all_padded_is_finite_with_zero_gradient(similarity):
    logits = torch.randn(2, 3, 5, requires_grad=True)
    target = torch.full((2, 5), -100)
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity=similarity)
    out = loss(logits, target, torch.randn(2, 1, 4, 5))
    assert torch.isfinite(out) and out.item() == 0.0
    out.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    assert tmse(logits, target).item() == 0.0
    # a single valid frame leaves no valid pair either
    target[0, 2] = 1
    assert tmse(logits, target).item() == 0.0
    # and sequences of one frame have no pairs at all
    assert tmse(torch.randn(2, 3, 1)).item() == 0.0


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"similarity": "cosine"}, r"similarity.*'none', 'gaussian'.*cosine"),
        ({"tmse_weight": -0.1}, "tmse_weight.*>= 0"),
        ({"tmse_threshold": 0.0}, "tmse_threshold.*> 0"),
        ({"tmse_threshold": -4.0}, "tmse_threshold"),
        ({"sigma": 0}, "sigma.*> 0"),
        ({"sigma": "1"}, "sigma.*number"),
        ({"normalize": "l2"}, r"normalize.*'none', 'dim'"),
        ({"tmse_weight": True}, "tmse_weight"),
        ({"weight": [1.0, -1.0]}, "weight"),
        ({"ignore_index": 1.5}, "ignore_index"),
    ],
)
def test_bad_values_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SmoothedCrossEntropy(**kwargs)
    with pytest.raises(ValueError, match=match):
        from_config(kwargs)


def test_unknown_keys_name_the_key_and_list_the_valid_ones():
    valid = ", ".join(DEFAULTS)
    with pytest.raises(ValueError, match=r"'sigmaa' \(did you mean 'sigma'\?\).*" + valid):
        SmoothedCrossEntropy.from_config({"sigmaa": 1.0})
    with pytest.raises(ValueError, match="'tmse_wieght'.*'foo'"):
        from_config({"tmse_wieght": 0.1, "foo": 1})
    # vak builds the loss as ``loss_class(**table)``: same friendly error
    with pytest.raises(ValueError, match="'sigmaa'.*Valid parameters"):
        SmoothedCrossEntropy(**{"sigmaa": 1.0})
    with pytest.raises(ValueError, match="loss table"):
        from_config([("sigma", 1.0)])


def test_signature_is_keyword_only_and_defaults_match():
    # the named parameters are the loss table's keys; **unknown catches misspelt ones (see above)
    params = dict(inspect.signature(SmoothedCrossEntropy.__init__).parameters)
    assert params.pop("unknown").kind is inspect.Parameter.VAR_KEYWORD
    assert list(params)[1:] == list(DEFAULTS)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "self")
    assert {name: p.default for name, p in params.items() if name != "self"} == DEFAULTS
    assert DEFAULTS["tmse_weight"] == 0.0 and DEFAULTS["similarity"] == "none"
    with pytest.raises(TypeError):
        SmoothedCrossEntropy(0.15)


def test_from_config_and_needs_inputs():
    loss = from_config(
        {"tmse_weight": 0.15, "tmse_threshold": 4, "similarity": "gaussian", "sigma": 2, "normalize": "dim"}
    )
    assert (loss.tmse_weight, loss.tmse_threshold, loss.sigma, loss.normalize) == (0.15, 4.0, 2.0, "dim")
    assert loss.needs_inputs
    assert not from_config(None).needs_inputs
    assert not from_config({"similarity": "none"}).needs_inputs
    assert not SmoothedCrossEntropy(similarity="gaussian", tmse_weight=0).needs_inputs


def test_gaussian_without_inputs_is_a_clear_error():
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity="gaussian")
    with pytest.raises(ValueError, match="GS-TMSE.*needs the input spectrogram"):
        loss(LOGITS, TARGET)
    with pytest.raises(ValueError, match="same batch size and number of frames"):
        loss(LOGITS, TARGET, torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="normalize"):
        gaussian_similarity_weights(torch.zeros(1, 2, 3), normalize="rms")


def test_module_copies_and_moves_its_class_weights():
    loss = SmoothedCrossEntropy(tmse_weight=0.15, similarity="gaussian", weight=[1.0, 2.0])
    assert "weight" in dict(loss.named_buffers())
    for clone in (copy.deepcopy(loss), pickle.loads(pickle.dumps(loss))):
        assert torch.equal(clone.weight, loss.weight) and clone.similarity == "gaussian"
    assert loss.double().weight.dtype == torch.float64
    assert "similarity='gaussian'" in repr(loss)


def test_default_is_plain_cross_entropy():
    """No loss table in a config: the same objective as vak's TweetyNet."""
    torch.manual_seed(2)
    logits, target = torch.randn(2, 3, 12), torch.randint(0, 3, (2, 12))
    assert torch.equal(SmoothedCrossEntropy()(logits, target), F.cross_entropy(logits, target))
