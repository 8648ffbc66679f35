"""Plugin host for vak: discover packages that add models, losses and metrics.

Stock vak 1.x has registries for models but no way to discover packages that
fill them.  This module brings the mechanism, built on pluggy_ and entry points:

* A package declares an entry point in the group :data:`ENTRY_POINT_GROUP`
  (``"vak.plugins"``) that names a module (or any object) with hook
  implementations marked with :data:`hookimpl`.
* :func:`load_plugins` loads every such entry point and calls its hooks, in this
  order: :meth:`HookSpecs.vak_register_metrics`,
  :meth:`HookSpecs.vak_register_losses`, :meth:`HookSpecs.vak_register_models`.
  Each hook receives a ``register`` callback.

A plugin that fails to import (any exception, ``SystemExit`` included; only
``KeyboardInterrupt`` propagates), or whose hook raises, is reported by name
(logging and stderr) and skipped; the others still load.

Name conflicts are settled by one deterministic rule: entry points are loaded, and
their hooks called, in sorted order of entry-point name, and **the first plugin to
register a name keeps it** (vak's own models come before every plugin).  A later
plugin registering the same name loses only that name: the conflict is reported
naming both plugins, and the rest of its hook still runs.  Names must be Python
identifiers.

The host knows nothing about vak-tcn's own models (vak-tcn registers them
through the same entry point as any third party), so vak could adopt it
upstream by calling ``load_plugins()`` at the end of ``vak/__init__.py``.

.. _pluggy: https://pluggy.readthedocs.io
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pluggy

from .hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME, HookSpecs

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class PluginError:
    """A plugin that could not be loaded or whose hook raised."""

    plugin: str
    stage: str
    error: BaseException

    def __str__(self) -> str:
        return f"plugin '{self.plugin}' failed while {self.stage}: {type(self.error).__name__}: {self.error}"


@dataclasses.dataclass
class Registry:
    """What the loaded plugins registered, and which of them failed."""

    metrics: dict[str, type] = dataclasses.field(default_factory=dict)
    losses: dict[str, type] = dataclasses.field(default_factory=dict)
    models: dict[str, str] = dataclasses.field(default_factory=dict)  # model name -> plugin name
    plugins: dict[str, str] = dataclasses.field(default_factory=dict)  # plugin name -> distribution
    errors: list[PluginError] = dataclasses.field(default_factory=list)
    owners: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)  # kind -> name -> plugin
    loaded: bool = False


REGISTRY = Registry()
_PLUGIN_MANAGER: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide :class:`pluggy.PluginManager` for vak plugins."""
    global _PLUGIN_MANAGER
    if _PLUGIN_MANAGER is None:
        _PLUGIN_MANAGER = pluggy.PluginManager(PROJECT_NAME)
        _PLUGIN_MANAGER.add_hookspecs(HookSpecs)
    return _PLUGIN_MANAGER


def _report(error: PluginError) -> None:
    REGISTRY.errors.append(error)
    # with no logging configured, Python's last-resort handler prints this on stderr
    logger.error(f"vak plugins: {error}; continuing without it")


def _refused(kind: str, name: Any, plugin: str, owners: dict[str, str]) -> str | None:
    """Why ``plugin`` may not register ``name`` (None if it may); see the module docs."""
    if not isinstance(name, str) or not name.isidentifier():
        return f"{kind} name must be a Python identifier, got {name!r}"
    owner = owners.get(name)
    if owner is not None and owner != plugin:
        where = "vak itself" if owner == "vak" else f"plugin '{owner}' ({REGISTRY.plugins.get(owner, 'unknown')})"
        return (
            f"{kind} '{name}' is already registered by {where}; the first registration wins "
            "(plugins load in sorted entry-point-name order), so only this name is skipped"
        )
    return None


def _register_named(table: dict[str, type], kind: str, plugin: str):
    owners: dict[str, str] = REGISTRY.owners.setdefault(kind, {})

    def register(name: str, obj: type) -> None:
        why = _refused(kind, name, plugin, owners)
        if why is not None:
            _report(PluginError(plugin, f"registering {kind} {name!r}", ValueError(why)))
            return
        table[name] = obj
        owners[name] = plugin

    return register


def _register_model(plugin: str):
    from . import vak_compat  # the only module that touches vak's registries

    def register(definition: type, family: type) -> Any:
        name = getattr(definition, "__name__", None)
        owners = {n: "vak" for n in vak_compat.model_names() if n not in REGISTRY.models} | REGISTRY.models
        why = _refused("model", name, plugin, owners)
        if why is not None:
            _report(PluginError(plugin, f"registering model {name!r}", ValueError(why)))
            return None
        factory = vak_compat.register_model(definition, family)
        REGISTRY.models[name] = plugin
        return factory

    return register


def _call_each(hook_name: str, make_register: Callable[[str], Callable]) -> None:
    """Call one hook plugin by plugin, so one failing plugin does not stop the rest."""
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    # registration order (pluggy itself calls last-registered first): sorted by entry-point name
    for impl in caller.get_hookimpls():
        try:
            impl.function(register=make_register(impl.plugin_name))
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: a plugin must never end the user's program
            _report(PluginError(impl.plugin_name, f"running {hook_name}", e))


def _entry_points(group: str) -> Iterable[importlib.metadata.EntryPoint]:
    """The group's entry points in sorted name order (then sys.path order), whatever sys.path says."""
    return sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)


def load_plugins(group: str = ENTRY_POINT_GROUP) -> Registry:
    """Discover, load and register all vak plugins (idempotent).

    Returns the :data:`REGISTRY`, whose ``errors`` list names any plugin that
    failed; failures never propagate.
    """
    if REGISTRY.loaded:
        return REGISTRY
    REGISTRY.loaded = True
    pm = get_plugin_manager()
    seen = set()
    for ep in _entry_points(group):
        if ep.name in seen or pm.has_plugin(ep.name):  # same package on sys.path twice
            continue
        seen.add(ep.name)
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: a plugin must never end `import vak`
            _report(PluginError(ep.name, f"loading entry point '{ep.value}' of {dist}", e))
            continue
        REGISTRY.plugins[ep.name] = dist
    _call_each("vak_register_metrics", lambda p: _register_named(REGISTRY.metrics, "metric", p))
    _call_each("vak_register_losses", lambda p: _register_named(REGISTRY.losses, "loss", p))
    _call_each("vak_register_models", _register_model)
    return REGISTRY


def load_with_vak(group: str = ENTRY_POINT_GROUP) -> Registry:
    """Import vak, then :func:`load_plugins`: what a command that uses vak's registries runs first."""
    import vak  # noqa: F401  (the start-up hook, if active, loads plugins here)

    return load_plugins(group)
