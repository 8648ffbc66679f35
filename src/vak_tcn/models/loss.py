"""The loss a config selects: vak-tcn's own, or one a plugin registered by name.

vak builds a model's loss as ``definition.loss(**table)`` from the config's loss table.
vak-tcn's model definitions name :class:`SelectedLoss`, which reads one extra key,
``name``, and builds the loss registered under it through the ``vak_register_losses``
hook (default ``"smoothed_cross_entropy"``, :class:`vak_tcn.nn.losses.SmoothedCrossEntropy`)
with the table's other keys::

    [vak.train.model.TCN.loss]
    name = "focal"      # registered by a third-party plugin
    gamma = 2.0
"""

from __future__ import annotations

import torch

from .._params import suggest

DEFAULT_LOSS = "smoothed_cross_entropy"


class SelectedLoss(torch.nn.Module):
    """The loss registered as ``name``, built from the loss table's other keys.

    Parameters
    ----------
    name : str
        A loss registered through the ``vak_register_losses`` hook.
    **params
        Its keyword arguments (the loss checks them).

    Attributes
    ----------
    loss : torch.nn.Module
        The selected loss; :meth:`forward` calls it.
    needs_inputs : bool
        The selected loss's ``needs_inputs`` (False if it has none): when True, the
        family passes the input spectrogram as ``inputs=``.
    """

    def __init__(self, name: str = DEFAULT_LOSS, **params):
        from ..plugins.manager import REGISTRY

        super().__init__()
        if name not in REGISTRY.losses:
            registered = sorted(REGISTRY.losses)
            raise ValueError(
                f"loss parameter 'name': no loss registered as {suggest(name, registered)}; "
                f"registered losses: {', '.join(registered) or 'none (are the plugins loaded?)'}"
            )
        self.name = name
        self.loss = REGISTRY.losses[name](**params)

    @property
    def needs_inputs(self) -> bool:
        return bool(getattr(self.loss, "needs_inputs", False))

    def forward(self, logits: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor | None = None) -> torch.Tensor:
        if self.needs_inputs:
            return self.loss(logits, target, inputs=inputs)
        return self.loss(logits, target)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
