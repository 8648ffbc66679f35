"""vak-tcn: temporal convolutional networks for vak.

This module is imported by the start-up hook (``vak_tcn.pth``) in every Python
process of a Python installation where vak-tcn is installed, so it must stay
import-free: everything else lives in submodules that are imported on demand.
"""

__version__ = "0.1.0"
