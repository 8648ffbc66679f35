"""Cross-entropy with a smoothing term: TMSE (MS-TCN) or GS-TMSE (ASRF).

Frame classifiers, TCNs especially, over-segment: they flip labels for a
frame or two inside a syllable.  A smoothing term penalises differences
between the log-probabilities of neighbouring frames:

TMSE (Farha & Gall 2019, MS-TCN)
    mean over classes and frame pairs of
    ``clamp((log_softmax(y_t) - log_softmax(y_{t-1}).detach())**2, 0, tau**2)``.
GS-TMSE (Ishikawa et al. 2021, ASRF)
    the same clamped term without the detach, each frame pair weighted by
    ``exp(-||x_t - x_{t-1}||_2 / (2 sigma**2))`` where ``x`` are the input
    spectrogram columns, so the penalty is small where the input changes
    (a likely boundary) and large where it does not.

Total loss = cross-entropy + ``tmse_weight`` * smoothing term.

References
----------
Farha, Y. A., & Gall, J. (2019). MS-TCN: Multi-stage temporal convolutional
network for action segmentation. CVPR.

Ishikawa, Y., Kasai, S., Aoki, Y., & Kataoka, H. (2021). Alleviating
over-segmentation errors by detecting action boundaries. WACV.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch.nn import functional as F

SIMILARITIES = ("none", "gaussian")
NORMALIZATIONS = ("none", "dim")


def gaussian_similarity_weights(inputs: torch.Tensor, sigma: float = 1.0, normalize: str = "none") -> torch.Tensor:
    """ASRF's weights ``exp(-||x_t - x_{t-1}||_2 / (2 sigma^2))`` for each frame pair.

    Parameters
    ----------
    inputs : torch.Tensor
        Spectrograms, ``(batch, channels, freqbins, time)`` or ``(batch, features, time)``.
    sigma : float
        Width of the Gaussian.
    normalize : {"none", "dim"}
        ``"none"``: the L2 distance itself, as in ASRF and the SfN 2023 poster.
        ``"dim"``: the distance divided by ``sqrt(features)`` (the RMS difference
        per frequency bin), so the weight does not vanish for spectrograms with
        many bins (see docs/losses.md for measured values).

    Returns
    -------
    torch.Tensor
        ``(batch, time - 1)``, no gradient.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    with torch.no_grad():
        x = inputs.flatten(1, -2) if inputs.ndim > 3 else inputs
        dist = torch.linalg.vector_norm(x[..., 1:] - x[..., :-1], dim=1)
        if normalize == "dim":
            dist = dist / math.sqrt(x.shape[1])
        return torch.exp(-dist / (2.0 * sigma**2))


def tmse(
    logits: torch.Tensor,
    target: torch.Tensor | None = None,
    threshold: float = 4.0,
    ignore_index: int = -100,
    detach: bool = True,
    pair_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Truncated mean squared error between neighbouring frames' log-probabilities.

    Parameters
    ----------
    logits : torch.Tensor
        ``(batch, classes, time)``.
    target : torch.Tensor, optional
        ``(batch, time)``; frame pairs with a frame equal to ``ignore_index``
        (padding) are left out.
    threshold : float
        ``tau``; each squared difference is clamped to ``tau**2``.
    detach : bool
        Detach the previous frame's log-probabilities (MS-TCN) or not (ASRF).
    pair_weights : torch.Tensor, optional
        ``(batch, time - 1)`` weight per frame pair (GS-TMSE).

    Returns
    -------
    torch.Tensor
        Scalar: mean over classes and valid frame pairs (0 if there are none).
    """
    logp = F.log_softmax(logits, dim=1)
    prev = logp[..., :-1].detach() if detach else logp[..., :-1]
    sq = torch.clamp((logp[..., 1:] - prev) ** 2, min=0.0, max=threshold**2)  # (batch, classes, time-1)
    per_pair = sq.mean(dim=1)  # mean over classes
    if pair_weights is not None:
        per_pair = per_pair * pair_weights
    if target is None:
        return per_pair.mean() if per_pair.numel() else logits.sum() * 0.0
    valid = (target[..., 1:] != ignore_index) & (target[..., :-1] != ignore_index)
    n_valid = valid.sum()
    if n_valid == 0:
        return logits.sum() * 0.0  # keeps the graph, no NaN
    return (per_pair * valid).sum() / n_valid


class SmoothedCrossEntropy(torch.nn.Module):
    """Cross-entropy + ``tmse_weight`` x (TMSE or GS-TMSE), configured from a vak loss table.

    Parameters (keys of ``[vak.<command>.model.<MODEL>.loss]``)
    ----------
    tmse_weight : float
        Weight of the smoothing term; 0 (the default) gives plain cross-entropy.
        The SfN 2023 poster used 0.15.
    tmse_threshold : float
        ``tau``: squared log-probability differences are clamped to ``tau**2`` (default 4.0).
    similarity : {"none", "gaussian"}
        ``"none"``: TMSE (MS-TCN); ``"gaussian"``: GS-TMSE (ASRF) (default "none").
    sigma : float
        Width of the Gaussian similarity (default 1.0).
    normalize : {"none", "dim"}
        How GS-TMSE measures the distance between spectrogram columns:
        ``"none"`` is the poster's L2 norm, ``"dim"`` divides it by
        ``sqrt(number of bins)``. See :func:`gaussian_similarity_weights`.
    weight : list of float, optional
        Class weights for the cross-entropy.
    ignore_index : int
        Target value of padded frames, ignored by both terms (default -100).
    """

    def __init__(
        self,
        tmse_weight: float = 0.0,
        tmse_threshold: float = 4.0,
        similarity: str = "none",
        sigma: float = 1.0,
        normalize: str = "none",
        weight: list[float] | torch.Tensor | None = None,
        ignore_index: int = -100,
        **unknown,
    ):
        if unknown:
            valid = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "unknown")]
            raise ValueError(f"unknown loss parameter(s): {', '.join(sorted(unknown))}. Valid parameters: {', '.join(valid)}")
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"loss parameter 'similarity' must be one of {SIMILARITIES}, got {similarity!r}")
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"loss parameter 'normalize' must be one of {NORMALIZATIONS}, got {normalize!r}")
        for name, value, strictly in (("tmse_weight", tmse_weight, False), ("tmse_threshold", tmse_threshold, True), ("sigma", sigma, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"loss parameter '{name}' must be a number, got {value!r}")
            if value < 0 or (strictly and value == 0):
                raise ValueError(f"loss parameter '{name}' must be {'> 0' if strictly else '>= 0'}, got {value}")
        self.tmse_weight = float(tmse_weight)
        self.tmse_threshold = float(tmse_threshold)
        self.similarity = similarity
        self.sigma = float(sigma)
        self.normalize = normalize
        self.ignore_index = int(ignore_index)
        if weight is not None and not isinstance(weight, torch.Tensor):
            weight = torch.tensor(weight, dtype=torch.float32)
        self.register_buffer("weight", weight)

    @property
    def needs_inputs(self) -> bool:
        """True if ``forward`` needs the input spectrogram (GS-TMSE with a non-zero weight)."""
        return self.similarity == "gaussian" and self.tmse_weight > 0

    def forward(self, logits: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        ce = F.cross_entropy(logits, target, weight=self.weight, ignore_index=self.ignore_index)
        if self.tmse_weight == 0:
            return ce
        pair_weights = None
        if self.similarity == "gaussian":
            if inputs is None:
                raise ValueError(
                    "similarity = 'gaussian' (GS-TMSE) needs the input spectrogram: call loss(logits, target, inputs) "
                    "(vak-tcn's model family does this)"
                )
            pair_weights = gaussian_similarity_weights(inputs, self.sigma, self.normalize).to(logits.dtype)
        smooth = tmse(
            logits,
            target,
            threshold=self.tmse_threshold,
            ignore_index=self.ignore_index,
            detach=self.similarity == "none",
            pair_weights=pair_weights,
        )
        return ce + self.tmse_weight * smooth
