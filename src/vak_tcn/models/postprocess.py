"""Temporary, removed when annotate.py moves: :mod:`vak_tcn.models.cleanup` under its old name, for
``inference/annotate.py`` and ``live/*.py`` (being rewritten elsewhere); everything else imports
:mod:`vak_tcn.models.cleanup`."""

from .cleanup import *  # noqa: F403
from .cleanup import MODES, Request, Settings, clean, resolve_mode  # noqa: F401  (annotate.py and live use these)
