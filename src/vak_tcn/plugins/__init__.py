"""The plugin host: how vak finds and loads plugins (vak-tcn's own and third parties').

Knows nothing of TCNs; written so that vak could adopt it upstream.

* :mod:`.hookspecs`: the hooks a plugin implements and the :data:`hookimpl` marker;
* :mod:`.manager`: :func:`load_plugins` and the :data:`REGISTRY` of what was loaded;
* :mod:`.startup`: the start-up hook that loads plugins when ``vak`` is imported;
* :mod:`.vak_compat`: every difference between the supported vak versions, and every
  use of vak's internal API;
* :mod:`.vak_files`: vak's files (predict configs, standardizers, ...) read without vak.

The names below are imported on first use, not with this package: the start-up hook
(``vak_tcn.plugins.startup``) runs in every Python process and must stay cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "HookSpecs": "hookspecs",
    "ENTRY_POINT_GROUP": "hookspecs",
    "PROJECT_NAME": "hookspecs",
    "load_plugins": "manager",
    "get_plugin_manager": "manager",
    "REGISTRY": "manager",
    "Registry": "manager",
    "PluginError": "manager",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
