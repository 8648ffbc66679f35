"""vak-tcn: temporal convolutional networks for vak.

This module is imported by the start-up hook (``vak_tcn.pth``) in every Python
process of a Python installation where vak-tcn is installed, so it must stay
import-free: everything else lives in submodules that are imported on demand,
``__version__`` (:mod:`vak_tcn._version`) and ``vak_tcn.load`` (the Python API,
:mod:`vak_tcn.api`, docs/python-api.md) too: each when first used.
"""

__all__ = ["__version__", "load"]


def __getattr__(name: str):
    if name == "__version__":
        from ._version import __version__

        return __version__
    if name == "load":
        from .api import load

        return load
    raise AttributeError(f"module 'vak_tcn' has no attribute {name!r}")
