"""vak-tcn: temporal convolutional networks for vak.

This module is imported by the start-up hook (``vak_tcn.pth``) in every Python
process of a Python installation where vak-tcn is installed, so it must stay
import-free: everything else lives in submodules that are imported on demand.
``vak_tcn.load`` (the Python API, :mod:`vak_tcn.api`, docs/python-api.md) is one of them:
imported when first used.
"""

from ._version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str):
    if name == "load":
        from .api import load

        return load
    raise AttributeError(f"module 'vak_tcn' has no attribute {name!r}")
