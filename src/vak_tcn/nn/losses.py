"""Cross-entropy with a temporal smoothing term: TMSE (MS-TCN) or GS-TMSE (ASRF).

Frame classifiers, TCNs especially, over-segment: they flip the label of a frame
or two inside a syllable, which costs little frame accuracy but adds many
spurious boundaries.  A smoothing term penalises differences between the
log-probabilities of neighbouring frames.  With ``logp = log_softmax(logits)``
over classes (dim 1) and ``tau`` the threshold:

TMSE (Farha & Gall 2019, MS-TCN)
    mean over classes and frame pairs of
    ``clamp((logp_t - logp_{t-1}.detach())**2, 0, tau**2)``.
GS-TMSE (Ishikawa et al. 2021, ASRF)
    the same clamped term *without* the detach, each frame pair weighted by
    ``exp(-||x_t - x_{t-1}||_2 / (2 sigma**2))``, where ``x_t`` is the input
    spectrogram's column at frame ``t`` (all channels x frequency bins), so the
    penalty is meant to be small where the input changes (a likely boundary)
    and large where it does not.

Total loss = cross-entropy + ``tmse_weight`` x smoothing term
(:class:`SmoothedCrossEntropy`).  The two terms are also available as
functions, :func:`tmse` and :func:`gaussian_similarity_weights`.

This module is pure PyTorch.

References
----------
.. [1] Farha, Y. A., & Gall, J. (2019). MS-TCN: Multi-Stage Temporal
   Convolutional Network for Action Segmentation. CVPR 2019, 3575-3584.
.. [2] Ishikawa, Y., Kasai, S., Aoki, Y., & Kataoka, H. (2021). Alleviating
   Over-segmentation Errors by Detecting Action Boundaries. WACV 2021,
   2322-2331.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.nn import functional as F

from .._params import reject_unknown

__all__ = [
    "DEFAULTS",
    "NORMALIZATIONS",
    "SIMILARITIES",
    "SmoothedCrossEntropy",
    "gaussian_similarity_weights",
    "tmse",
]

#: allowed values of ``similarity``: "none" = TMSE (MS-TCN), "gaussian" = GS-TMSE (ASRF)
SIMILARITIES = ("none", "gaussian")
#: allowed values of ``normalize``: "none" = the L2 distance (ASRF, SfN 2023 poster),
#: "dim" = the L2 distance divided by sqrt(number of features), i.e. the RMS difference per bin
NORMALIZATIONS = ("none", "dim")
#: the keys of a loss table and their defaults (the SfN 2023 poster's settings, TMSE)
DEFAULTS: dict[str, Any] = {
    "tmse_weight": 0.0,  # no loss table -> plain cross-entropy, like vak's TweetyNet
    "tmse_threshold": 4.0,
    "similarity": "none",
    "sigma": 1.0,
    "normalize": "none",
    "weight": None,
    "ignore_index": -100,
}


# --------------------------------------------------------------------------- validation helpers
def _fmt_choices(choices: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in choices)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"loss parameter '{name}' must be one of {_fmt_choices(choices)}; got {value!r}")
    return value


def _check_number(name: str, value: Any, *, strictly_positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"loss parameter '{name}' must be a finite number; got {value!r}")
    value = float(value)
    if value < 0 or (strictly_positive and value == 0):
        raise ValueError(f"loss parameter '{name}' must be {'> 0' if strictly_positive else '>= 0'}; got {value:g}")
    return value


def _class_weights(weight: Any) -> torch.Tensor | None:
    if weight is None:
        return None
    try:
        tensor = torch.as_tensor(weight, dtype=torch.float32).detach().clone()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"loss parameter 'weight' must be a list of numbers, one per class; got {weight!r}") from err
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ValueError(f"loss parameter 'weight' must be a non-empty list of numbers, one per class; got {weight!r}")
    if not torch.isfinite(tensor).all() or (tensor < 0).any():
        raise ValueError(f"loss parameter 'weight' must contain finite numbers >= 0; got {tensor.tolist()}")
    if not (tensor > 0).any():
        raise ValueError("loss parameter 'weight' must contain at least one number > 0")
    return tensor


# --------------------------------------------------------------------------- the two terms
def gaussian_similarity_weights(inputs: torch.Tensor, sigma: float = 1.0, normalize: str = "none") -> torch.Tensor:
    """ASRF's Gaussian similarity of neighbouring input frames.

    ``w_t = exp(-d_t / (2 sigma**2))`` with ``d_t = ||x_t - x_{t-1}||_2`` (the
    L2 norm itself, not squared, as in ASRF [2]_ and the SfN 2023 poster),
    where ``x_t`` is the input's column at frame ``t``, all channels and
    frequency bins flattened into one feature vector.

    Parameters
    ----------
    inputs : torch.Tensor
        Spectrograms, ``(batch, channels, freqbins, time)`` or ``(batch, features, time)``.
    sigma : float
        Width of the Gaussian, > 0.
    normalize : {"none", "dim"}
        ``"none"``: ``d_t`` as above.  ``"dim"``: ``d_t / sqrt(features)``,
        the root-mean-square difference per feature, so the weight does not
        depend on the number of frequency bins.  See
        :class:`SmoothedCrossEntropy` for measured values.

    Returns
    -------
    torch.Tensor
        ``(batch, time - 1)``: the weight of frame pair ``(t - 1, t)`` at index
        ``t - 1``; in ``(0, 1]`` (1 for identical frames).  Computed without
        gradient.

    References
    ----------
    .. [2] Ishikawa et al. (2021). Alleviating Over-segmentation Errors by
       Detecting Action Boundaries. WACV.
    """
    _check_choice("normalize", normalize, NORMALIZATIONS)
    sigma = _check_number("sigma", sigma, strictly_positive=True)
    if not isinstance(inputs, torch.Tensor) or inputs.ndim not in (3, 4):
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(
            "GS-TMSE needs the input spectrogram as (batch, channels, freqbins, time) "
            f"or (batch, freqbins, time); got {shape}"
        )
    with torch.no_grad():
        x = inputs.detach()
        if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # the squared differences summed over ~150 bins can overflow in half precision
        if x.ndim == 4:
            x = x.flatten(1, 2)  # (batch, channels * freqbins, time)
        dist = torch.linalg.vector_norm(x[..., 1:] - x[..., :-1], ord=2, dim=1)  # (batch, time - 1)
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

    ``mean over classes c and valid pairs (t-1, t) of
    w_t * clamp((logp[c, t] - logp[c, t-1])**2, 0, threshold**2)``,
    with ``logp = log_softmax(logits, dim=1)``.

    Parameters
    ----------
    logits : torch.Tensor
        ``(batch, classes, time)``.
    target : torch.Tensor, optional
        ``(batch, time)``.  A frame pair counts only if neither frame's target
        is ``ignore_index`` (padding).  None: every pair counts.
    threshold : float
        ``tau``: each squared difference is clamped to ``tau**2`` (MS-TCN [1]_ uses 4).
    ignore_index : int
        Target value of padded frames.
    detach : bool
        Detach the previous frame's log-probabilities, as MS-TCN [1]_ does
        (gradient only through ``logp_t``); False for ASRF's GS-TMSE [2]_.
    pair_weights : torch.Tensor, optional
        ``(batch, time - 1)`` weight per frame pair, e.g. from
        :func:`gaussian_similarity_weights`.

    Returns
    -------
    torch.Tensor
        Scalar.  0 (still attached to the graph, gradient 0) when there is no
        valid frame pair.

    References
    ----------
    .. [1] Farha & Gall (2019). MS-TCN: Multi-Stage Temporal Convolutional
       Network for Action Segmentation. CVPR.
    .. [2] Ishikawa et al. (2021). Alleviating Over-segmentation Errors by
       Detecting Action Boundaries. WACV.
    """
    if logits.ndim != 3:
        raise ValueError(f"tmse expects logits of shape (batch, classes, time); got {tuple(logits.shape)}")
    batch, _, time = logits.shape
    logp = F.log_softmax(logits, dim=1)
    cur = logp[..., 1:]
    prev = logp[..., :-1].detach() if detach else logp[..., :-1]
    sq = torch.clamp((cur - prev) ** 2, min=0.0, max=float(threshold) ** 2)  # (batch, classes, time - 1)
    per_pair = sq.mean(dim=1)  # (batch, time - 1), mean over classes
    if pair_weights is not None:
        if tuple(pair_weights.shape) != (batch, time - 1):
            raise ValueError(
                f"pair_weights must have shape (batch, time - 1) = {(batch, time - 1)}; got {tuple(pair_weights.shape)}"
            )
        per_pair = per_pair * pair_weights.to(per_pair.dtype)
    if target is None:
        valid = torch.ones_like(per_pair, dtype=torch.bool)
    else:
        if tuple(target.shape) != (batch, time):
            raise ValueError(f"target must have shape (batch, time) = {(batch, time)}; got {tuple(target.shape)}")
        keep = target != ignore_index
        valid = keep[..., 1:] & keep[..., :-1]
    # no host sync: masked entries and the no-valid-pair case give exactly 0 (and gradient 0)
    n_valid = valid.sum().clamp(min=1)
    return torch.where(valid, per_pair, torch.zeros_like(per_pair)).sum() / n_valid


# --------------------------------------------------------------------------- the loss module
class SmoothedCrossEntropy(torch.nn.Module):
    """Cross-entropy + ``tmse_weight`` x (TMSE or GS-TMSE), configured from a vak loss table.

    The keyword arguments are the keys of ``[vak.<command>.model.<MODEL>.loss]``
    in a vak config file, e.g.::

        [vak.learncurve.model.ConvTCN.loss]
        tmse_weight = 0.15
        tmse_threshold = 4.0
        similarity = "gaussian"
        sigma = 1.0
        normalize = "none"

    Parameters
    ----------
    tmse_weight : float
        Weight of the smoothing term, >= 0. The default 0 gives plain
        cross-entropy, so a config without a loss table trains with the same
        objective as vak's TweetyNet; MS-TCN [1]_ and the SfN 2023 poster used 0.15.
    tmse_threshold : float
        ``tau`` > 0: squared log-probability differences are clamped to
        ``tau**2`` (default 4.0).
    similarity : {"none", "gaussian"}
        ``"none"`` (default): TMSE (MS-TCN [1]_), the previous frame detached.
        ``"gaussian"``: GS-TMSE (ASRF [2]_): no detach, each frame pair weighted
        by :func:`gaussian_similarity_weights` of the input spectrogram.
    sigma : float
        Width of the Gaussian similarity, > 0 (default 1.0).
    normalize : {"none", "dim"}
        Distance between spectrogram columns for GS-TMSE: ``"none"``
        (default) is the L2 norm of the poster and ASRF; ``"dim"`` divides it
        by ``sqrt(number of features)`` (RMS difference per bin).  See Notes.
    weight : list of float or torch.Tensor, optional
        Class weights for the cross-entropy, one per class (>= 0).
    ignore_index : int
        Target value of padded frames (default -100), ignored by both terms.

    Attributes
    ----------
    needs_inputs : bool
        True when :meth:`forward` needs the input spectrogram: GS-TMSE with
        ``tmse_weight > 0``.  vak-tcn's model family passes it then.

    Raises
    ------
    ValueError
        A value outside its allowed range, naming the key.  Unknown keys
        also raise a ValueError naming them, with the closest valid key, and
        listing the valid keys (vak instantiates the class with
        ``SmoothedCrossEntropy(**table)``).

    Notes
    -----
    *Loss.*  ``forward`` returns ``cross_entropy(logits, target, weight,
    ignore_index) + tmse_weight * smoothing``; frame pairs with a padded frame
    are left out of the smoothing term, the mean is over classes and valid
    pairs, and it is 0 when there are none.  With ``tmse_weight = 0`` the
    result is exactly :func:`torch.nn.functional.cross_entropy`, except that a
    batch with no valid target frame at all gives 0 (gradient 0) instead of NaN.

    *How big is the Gaussian weight?*  With the poster's L2 distance it is far below 1
    on z-scored spectrograms (median ~0.02 on 152-bin synthetic song, ~0.26 on the
    111-bin real bout), so GS-TMSE mostly rescales the smoothing term;
    ``normalize = "dim"`` keeps it near 0.7-0.9 on song whatever the bin count.  The
    measurements and their method are in docs/losses.md.  Keep ``"none"`` to
    reproduce the poster.

    References
    ----------
    .. [1] Farha, Y. A., & Gall, J. (2019). MS-TCN: Multi-Stage Temporal
       Convolutional Network for Action Segmentation. CVPR.
    .. [2] Ishikawa, Y., Kasai, S., Aoki, Y., & Kataoka, H. (2021).
       Alleviating Over-segmentation Errors by Detecting Action Boundaries.
       WACV.
    """

    def __init__(
        self,
        *,
        tmse_weight: float = DEFAULTS["tmse_weight"],
        tmse_threshold: float = DEFAULTS["tmse_threshold"],
        similarity: str = DEFAULTS["similarity"],
        sigma: float = DEFAULTS["sigma"],
        normalize: str = DEFAULTS["normalize"],
        weight: Sequence[float] | torch.Tensor | None = DEFAULTS["weight"],
        ignore_index: int = DEFAULTS["ignore_index"],
        **unknown,
    ):
        # vak builds the loss as ``loss_class(**table)``: a misspelt key in the TOML table lands here
        reject_unknown(unknown, list(DEFAULTS), "loss parameter(s)")
        super().__init__()
        self.tmse_weight = _check_number("tmse_weight", tmse_weight, strictly_positive=False)
        self.tmse_threshold = _check_number("tmse_threshold", tmse_threshold, strictly_positive=True)
        self.similarity = _check_choice("similarity", similarity, SIMILARITIES)
        self.sigma = _check_number("sigma", sigma, strictly_positive=True)
        self.normalize = _check_choice("normalize", normalize, NORMALIZATIONS)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise ValueError(f"loss parameter 'ignore_index' must be an integer; got {ignore_index!r}")
        self.ignore_index = int(ignore_index)
        self.register_buffer("weight", _class_weights(weight))

    @classmethod
    def from_config(cls, table: Mapping[str, Any] | None = None) -> SmoothedCrossEntropy:
        """Build the loss from a loss table (a dict), checking its keys.

        Parameters
        ----------
        table : dict, optional
            ``[vak.<command>.model.<MODEL>.loss]`` as a dict; None or empty: defaults.

        Raises
        ------
        ValueError
            Unknown key(s), named, with the valid keys listed; or a bad value, naming its key.
        """
        if table is None:
            table = {}
        if not isinstance(table, Mapping):
            raise ValueError(f"the loss table must be a table (dict) of parameters; got {type(table).__name__}")
        return cls(**dict(table))

    @property
    def needs_inputs(self) -> bool:
        """True if :meth:`forward` needs the input spectrogram (GS-TMSE with ``tmse_weight > 0``)."""
        return self.similarity == "gaussian" and self.tmse_weight > 0

    def extra_repr(self) -> str:
        parts = [f"tmse_weight={self.tmse_weight:g}"]
        if self.tmse_weight > 0:
            parts += [f"tmse_threshold={self.tmse_threshold:g}", f"similarity={self.similarity!r}"]
            if self.similarity == "gaussian":
                parts += [f"sigma={self.sigma:g}", f"normalize={self.normalize!r}"]
        if self.weight is not None:
            parts.append(f"weight={[round(w, 6) for w in self.weight.tolist()]}")
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        return ", ".join(parts)

    def forward(self, logits: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Total loss.

        Parameters
        ----------
        logits : torch.Tensor
            ``(batch, classes, time)``.
        target : torch.Tensor
            ``(batch, time)``, int64 class indices; ``ignore_index`` marks padding.
        inputs : torch.Tensor, optional
            The network's input spectrogram, ``(batch, channels, freqbins, time)``
            or ``(batch, freqbins, time)``; required for GS-TMSE.

        Returns
        -------
        torch.Tensor
            Scalar: cross-entropy + ``tmse_weight`` x smoothing term.
        """
        weight = self.weight
        if weight is not None:
            if logits.ndim >= 2 and weight.numel() != logits.shape[1]:
                raise ValueError(
                    f"loss parameter 'weight' has {weight.numel()} values but the network outputs "
                    f"{logits.shape[1]} classes"
                )
            if weight.dtype != logits.dtype:
                weight = weight.to(logits.dtype)
        ce = F.cross_entropy(logits, target, weight=weight, ignore_index=self.ignore_index)
        # no valid target frame at all (a fully padded batch): torch gives NaN (0/0); use 0.
        # torch.where keeps ce's value bit for bit otherwise, and needs no host sync.
        has_valid = (target != self.ignore_index).any()
        ce = torch.where(has_valid, ce, torch.zeros_like(ce))
        if self.tmse_weight == 0:
            return ce
        pair_weights = None
        if self.similarity == "gaussian":
            if inputs is None:
                raise ValueError(
                    "loss parameter similarity = 'gaussian' (GS-TMSE) needs the input spectrogram: "
                    "call loss(logits, target, inputs) (vak-tcn's model family does this when "
                    "loss.needs_inputs is True); use similarity = 'none' for TMSE"
                )
            if inputs.shape[0] != logits.shape[0] or inputs.shape[-1] != logits.shape[-1]:
                raise ValueError(
                    f"GS-TMSE: inputs {tuple(inputs.shape)} and logits {tuple(logits.shape)} must have "
                    "the same batch size and number of frames (last dim)"
                )
            pair_weights = gaussian_similarity_weights(inputs, self.sigma, self.normalize)
        smooth = tmse(
            logits,
            target,
            threshold=self.tmse_threshold,
            ignore_index=self.ignore_index,
            detach=self.similarity == "none",
            pair_weights=pair_weights,
        )
        return ce + self.tmse_weight * smooth
