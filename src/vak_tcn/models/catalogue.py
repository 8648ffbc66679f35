"""The one list of vak-tcn's models.

Adding a network to vak-tcn is one new file (the network, in :mod:`vak_tcn.nn`) plus one
line here: the plugin registers every entry with vak, and the CLI, ``vak-tcn bench``, the
poster grid, the demo, the summary and the figures all read this list.
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model of vak-tcn's catalogue.

    Attributes
    ----------
    name : str
        The model's name in vak, as a config's model table writes it.
    network : str
        ``"module:Class"`` of the network, imported when needed.
    description : str
        One line, for docs and ``vak-tcn plugins``.
    display_name : str
        The name in tables and figures (the poster's).
    uses_tcn : bool
        The network has the TCN's parameters (``out_channels``, ``num_layers``,
        ``kernel_size``, ``dropout``, ``causal``) and a ``receptive_field``.
    """

    name: str
    network: str
    description: str
    display_name: str = ""
    uses_tcn: bool = True

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def network_class(self) -> type:
        module, _, attr = self.network.partition(":")
        return getattr(importlib.import_module(module), attr)


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "TweetyNetPlugin",
        "vak.nets:TweetyNet",
        "vak's TweetyNet network (conv + BiLSTM) in vak-tcn's family",
        "TweetyNet",
        uses_tcn=False,
    ),
    ModelEntry("TCN", "vak_tcn.nn.tcn:TCN", "1x1 conv over frequency bins + vanilla TCN (Bai et al. 2018)"),
    ModelEntry("ConvTCN", "vak_tcn.nn.convtcn:ConvTCN", "TweetyNet's 2-D conv front end + vanilla TCN"),
)


def get(name: str) -> ModelEntry:
    """The catalogue entry of a model, by its vak name or its display name."""
    for entry in MODELS:
        if name in (entry.name, entry.label):
            return entry
    raise KeyError(f"no vak-tcn model named {name!r}; models: {', '.join(m.name for m in MODELS)}")


def display_name(name: str) -> str:
    """A model's name in tables and figures: the catalogue's display name, else ``name``."""
    return next((m.label for m in MODELS if m.name == name), name)
