"""The hooks a vak plugin implements, and the markers for them.

A plugin module marks its hook implementations with :data:`hookimpl`::

    from vak_tcn.plugins import hookimpl

    @hookimpl
    def vak_register_models(register):
        register(MyModel, family)

and names the module in an entry point of the group :data:`ENTRY_POINT_GROUP`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "vak"
ENTRY_POINT_GROUP = "vak.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class HookSpecs:
    """The hooks a vak plugin can implement (all optional)."""

    @hookspec
    def vak_register_metrics(self, register: Callable[[str, type], None]) -> None:
        """Register metrics: call ``register(name, metric_class)``.

        ``metric_class(**kwargs)`` is built with the keyword arguments of the
        config table ``[vak.<command>.model.<MODEL>.metrics.<name>]``; the
        instance is called by the model family during validation.  See
        docs/plugins.md for the call signature vak-tcn's family uses.
        """

    @hookspec
    def vak_register_losses(self, register: Callable[[str, type], None]) -> None:
        """Register losses: call ``register(name, loss_class)``.

        ``loss_class`` is a :class:`torch.nn.Module` subclass; its keyword
        arguments come from the config table ``[...model.<MODEL>.loss]``.
        """

    @hookspec
    def vak_register_models(self, register: Callable[..., Any]) -> None:
        """Register models: call ``register(definition, family)``.

        ``definition`` is a vak model definition (a class with ``network``,
        ``loss``, ``optimizer``, ``metrics`` and ``default_config``), ``family``
        a LightningModule class (a vak model family). The model's name is the
        definition's class name, the name a config's model table uses.
        """
