"""vak-tcn's own vak plugin: the models, loss and metrics it registers.

This module is what vak-tcn's entry point ``vak_tcn = "vak_tcn.models"`` in the
``vak.plugins`` group names; the plugin host (:mod:`vak_tcn.plugins`) loads it
like any third-party plugin.  Registered:

* models ``TCN``, ``ConvTCN`` and ``TweetyNetPlugin`` (vak's TweetyNet network
  trained through vak-tcn's family, so all three share losses and metrics);
* loss ``smoothed_cross_entropy`` (:class:`vak_tcn.losses.SmoothedCrossEntropy`);
* metric ``segmentation`` (:class:`vak_tcn.metrics.SegmentationMetrics`):
  boundary precision/recall/F-score, R-value, over-segmentation, edit score
  and F1@{10,25,50}.
"""

from __future__ import annotations

import torch

from . import compat, plugins
from .family import FrameClassificationModel

#: model name -> short description, for docs and ``vak-tcn plugins``
MODELS = {
    "TCN": "1x1 conv over frequency bins + vanilla TCN (Bai et al. 2018)",
    "ConvTCN": "TweetyNet's 2-D conv front end + vanilla TCN",
    "TweetyNetPlugin": "vak's TweetyNet network (conv + BiLSTM) in vak-tcn's family",
}

#: defaults shared by the plugin models (the SfN 2023 poster's settings)
DEFAULT_CONFIG = {"optimizer": {"lr": 0.001}}


def _networks() -> dict[str, type]:
    import vak.nets

    from . import networks

    return {"TCN": networks.TCN, "ConvTCN": networks.ConvTCN, "TweetyNetPlugin": vak.nets.TweetyNet}


def make_definition(name: str, network: type) -> type:
    """A vak model definition for ``network`` in vak-tcn's family.

    Its metrics are vak's standard ones plus every metric registered through
    the plugin hooks (metrics are registered before models).
    """
    from .losses import SmoothedCrossEntropy

    metrics = {**compat.standard_metrics(), **plugins.REGISTRY.metrics, "loss": SmoothedCrossEntropy}
    return type(
        name,
        (),
        {
            "__doc__": f"{name}: {MODELS.get(name, network.__name__)}.",
            "__module__": __name__,
            "network": network,
            "loss": SmoothedCrossEntropy,
            "optimizer": torch.optim.Adam,
            "metrics": metrics,
            "default_config": {key: dict(val) for key, val in DEFAULT_CONFIG.items()},
        },
    )


@plugins.hookimpl
def vak_register_metrics(register):
    from .metrics import SegmentationMetrics

    register("segmentation", SegmentationMetrics)


@plugins.hookimpl
def vak_register_losses(register):
    from .losses import SmoothedCrossEntropy

    register("smoothed_cross_entropy", SmoothedCrossEntropy)


@plugins.hookimpl
def vak_register_models(register):
    for name, network in _networks().items():
        register(make_definition(name, network), FrameClassificationModel)
