"""vak-tcn's own vak plugin: the models, loss and metric it registers.

Loaded by the plugin host like any third-party plugin, through the entry point
``vak_tcn = "vak_tcn.models"`` in the ``vak.plugins`` group.  Registered:

* every model of the :mod:`catalogue <vak_tcn.models.catalogue>` (``TweetyNetPlugin``,
  ``TCN``, ``ConvTCN``), in vak-tcn's family, so all share losses and metrics;
* loss ``smoothed_cross_entropy`` (:class:`vak_tcn.nn.losses.SmoothedCrossEntropy`),
  the default of a model's loss table (:mod:`vak_tcn.models.loss`);
* metric ``segmentation`` (:class:`vak_tcn.metrics.SegmentationMetrics`):
  boundary precision/recall/F-score, R-value, over-segmentation, edit score
  and F1@{10,25,50}.
"""

from __future__ import annotations

# torch and vak are imported inside the hooks, so that importing vak_tcn.models (e.g. for
# its catalogue, from the CLI) stays cheap
from ..plugins.hookspecs import hookimpl
from . import catalogue

#: defaults shared by the plugin models.  lr 0.001 is what the SfN 2023 poster's TOML files
#: say; its training code used 0.003 (so do the poster grid and vak's own TweetyNet default):
#: see docs/experiments.md
DEFAULT_CONFIG = {"optimizer": {"lr": 0.001}}


def make_definition(entry: catalogue.ModelEntry) -> type:
    """A vak model definition for a catalogue entry, in vak-tcn's family.

    Its metrics are vak's standard ones plus every metric registered through
    the plugin hooks (metrics are registered before models).  Its network is the
    catalogue's, seeded when built (:func:`vak_tcn.models.seeding.seeded_network`).
    """
    import torch

    from ..plugins import vak_compat
    from ..plugins.manager import REGISTRY
    from .loss import SelectedLoss
    from .seeding import seeded_network

    metrics = {**vak_compat.standard_metrics(), **REGISTRY.metrics, "loss": SelectedLoss}
    return type(
        entry.name,
        (),
        {
            "__doc__": f"{entry.name}: {entry.description}.",
            "__module__": "vak_tcn.models",
            "network": seeded_network(entry.network_class()),
            "loss": SelectedLoss,
            "optimizer": torch.optim.Adam,
            "metrics": metrics,
            "default_config": {key: dict(val) for key, val in DEFAULT_CONFIG.items()},
        },
    )


@hookimpl
def vak_register_metrics(register):
    from ..metrics import SegmentationMetrics

    register("segmentation", SegmentationMetrics)


@hookimpl
def vak_register_losses(register):
    from ..nn.losses import SmoothedCrossEntropy

    register("smoothed_cross_entropy", SmoothedCrossEntropy)


@hookimpl
def vak_register_models(register):
    from .family import FrameClassificationModel

    for entry in catalogue.MODELS:
        register(make_definition(entry), FrameClassificationModel)
