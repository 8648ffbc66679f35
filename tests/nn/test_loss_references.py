"""TMSE and GS-TMSE against re-typed reference code, on batches (value and gradient).

References, re-typed (not imported: neither is a package):

* MS-TCN (Farha & Gall 2019), ``model.py`` of github.com/yabufarha/ms-tcn, ``Trainer.train``::

      loss += 0.15*torch.mean(torch.clamp(self.mse(F.log_softmax(p[:, :, 1:], dim=1),
                                          F.log_softmax(p.detach()[:, :, :-1], dim=1)),
                                          min=0, max=16)*mask[:, :, 1:])

  with ``self.mse = nn.MSELoss(reduction='none')`` and ``mask`` 1 on a sequence's frames, 0 on
  the padding after them.
* ASRF (Ishikawa et al. 2021), ``libs/loss_fn/tmse.py`` of github.com/yiskw713/asrf,
  ``GaussianSimilarityTMSE.forward``: per sequence, padded frames removed, the clamped squared
  log-probability differences (no detach) weighted by ``exp(-||x_t - x_{t-1}|| / (2 sigma^2))``,
  averaged; then averaged over the batch.  Note: ASRF indexes one sequence at a time, so its
  ``F.log_softmax(pred[:, 1:], dim=1)`` on a ``(classes, time)`` tensor normalises over *time*,
  not over classes; vak-tcn (and the SfN 2023 poster's loss) normalise over classes.  The
  reference below takes the softmax dimension as a parameter: as written (``dim=1``) it differs
  from vak-tcn, with the class dimension (``dim=0``) it is equal.

Differences on padded batches, pinned here and documented in docs/losses.md: vak-tcn averages
over all valid frame pairs of the batch (every pair weighs the same), MS-TCN divides by the
padded size ``N * C * (T - 1)`` (padding dilutes the term), ASRF averages per sequence first (a
short sequence's pairs weigh more).  Without padding all three are equal.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vak_tcn.nn.losses import SmoothedCrossEntropy

IGNORE = -100


def ms_tcn_tmse(p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mse = nn.MSELoss(reduction="none")
    return torch.mean(
        torch.clamp(mse(F.log_softmax(p[:, :, 1:], dim=1), F.log_softmax(p.detach()[:, :, :-1], dim=1)), min=0, max=16)
        * mask[:, :, 1:]
    )


def asrf_gs_tmse(preds, gts, sim_index, threshold=4.0, sigma=1.0, ignore_index=IGNORE, softmax_dim=0):
    mse = nn.MSELoss(reduction="none")
    total_loss = 0.0
    batch_size = preds.shape[0]
    for pred, gt, sim in zip(preds, gts, sim_index):
        pred = pred[:, torch.where(gt != ignore_index)[0]]
        sim = sim[:, torch.where(gt != ignore_index)[0]]
        diff = sim[:, 1:] - sim[:, :-1]
        similarity = torch.exp(-torch.norm(diff, dim=0) / (2 * sigma**2))
        loss = mse(F.log_softmax(pred[:, 1:], dim=softmax_dim), F.log_softmax(pred[:, :-1], dim=softmax_dim))
        loss = torch.clamp(loss, min=0, max=threshold**2)
        total_loss += torch.mean(similarity * loss)
    return total_loss / batch_size


def batch(lengths, classes=4, features=6, time=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(len(lengths), classes, time, generator=g)).requires_grad_(True)
    target = torch.randint(0, classes, (len(lengths), time), generator=g)
    inputs = torch.randn(len(lengths), 1, features, time, generator=g)
    mask = torch.zeros(len(lengths), classes, time)
    for i, n in enumerate(lengths):
        target[i, n:] = IGNORE
        mask[i, :, :n] = 1
    return logits, target, inputs, mask


def smoothing(similarity, logits, target, inputs):
    """vak-tcn's smoothing term alone: (total - cross-entropy) / weight."""
    loss = SmoothedCrossEntropy(tmse_weight=1.0, similarity=similarity, sigma=1.0)
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    return loss(logits, target, inputs=inputs) - ce


def grad(value, logits):
    (g,) = torch.autograd.grad(value, logits, retain_graph=True)
    return g


def test_tmse_equals_ms_tcn_without_padding_value_and_gradient():
    logits, target, inputs, mask = batch([40, 40, 40])
    ours, ref = smoothing("none", logits, target, inputs), ms_tcn_tmse(logits, mask)
    torch.testing.assert_close(ours, ref)
    # d(CE)/d(logits) is in ours too: compare the smoothing term's own gradient
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(grad(ours + ce, logits) - grad(ce, logits), grad(ref, logits))


def test_tmse_on_padded_batches_differs_from_ms_tcn_by_the_padding_share():
    lengths, time = [40, 25, 10], 40
    logits, target, inputs, mask = batch(lengths, time=time)
    ours, ref = smoothing("none", logits, target, inputs), ms_tcn_tmse(logits, mask)
    valid_pairs = sum(n - 1 for n in lengths)
    torch.testing.assert_close(ours, ref * len(lengths) * (time - 1) / valid_pairs)


def test_gs_tmse_equals_asrf_without_padding_value_and_gradient():
    logits, target, inputs, _ = batch([40, 40])
    ours = smoothing("gaussian", logits, target, inputs)
    ref = asrf_gs_tmse(logits, target, inputs.flatten(1, 2))
    torch.testing.assert_close(ours, ref)
    as_written = asrf_gs_tmse(logits, target, inputs.flatten(1, 2), softmax_dim=1)  # over time
    assert abs(float(as_written) - float(ours)) > 1e-3
    ce = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(grad(ours + ce, logits) - grad(ce, logits), grad(ref, logits))


def test_gs_tmse_on_padded_batches_weighs_pairs_where_asrf_weighs_sequences():
    lengths = [40, 25, 10]
    logits, target, inputs, _ = batch(lengths)
    ours = smoothing("gaussian", logits, target, inputs)
    per_sequence = [
        asrf_gs_tmse(logits[i : i + 1], target[i : i + 1], inputs[i : i + 1].flatten(1, 2)) for i in range(len(lengths))
    ]
    pairs = [n - 1 for n in lengths]
    pooled = sum(m * n for m, n in zip(per_sequence, pairs)) / sum(pairs)
    torch.testing.assert_close(ours, pooled)
    torch.testing.assert_close(asrf_gs_tmse(logits, target, inputs.flatten(1, 2)), sum(per_sequence) / len(lengths))
