"""Clean-up of predicted frame labels, and its settings tuned on validation data.

NumPy only; docs/postprocessing.md explains the choices.  One job per module, imported here so that
callers write ``from vak_tcn.models import cleanup`` and ``cleanup.Settings``:

* :mod:`.rules`: the clean-up rules on one file's frames (:func:`postprocess`, vak's;
  :func:`fill_gaps`; :func:`clean`, all of them in order) and one setting of them (:class:`Settings`,
  :func:`then`);
* :mod:`.store`: the tuned settings stored beside a checkpoint, ``postprocess.json``
  (:func:`write_settings`, :func:`read_settings`, :func:`stored_settings`);
* :mod:`.config`: the clean-up a config and a command ask for (:func:`resolve_mode`, the config's
  ``post_tfm_kwargs``: :func:`config_fixed_settings`; a predict config's: :func:`predict_cleanup`);
* :mod:`.tuner`: the tuner (:func:`tune`, the one-standard-error rule) over a grid (:func:`grid`);
* :mod:`.scorer`: the tuner's engine, every setting scored on all files at once (:func:`evaluate`).

The clean-up modes (the setting ``post_processing``) are :mod:`vak_tcn.settings`'s :data:`MODES`.
"""

from ...settings import MODES, check_mode  # the clean-up modes: the setting post_processing
from .config import Request, config_fixed_settings, fixed_settings, predict_cleanup, resolve_mode, vak_settings
from .rules import Settings, clean, fill_gaps, postprocess, then
from .scorer import evaluate
from .store import FILENAME, read_settings, settings_path, stored_settings, stored_validation_cer, write_settings
from .tuner import DEFAULT_GRID, RULES, TooFewFilesWarning, TuneResult, few_files_warning, grid, simplicity, tune

__all__ = [
    "FILENAME",
    "Settings",
    "TuneResult",
    "TooFewFilesWarning",
    "DEFAULT_GRID",
    "RULES",
    "postprocess",
    "fill_gaps",
    "clean",
    "grid",
    "tune",
    "evaluate",
    "simplicity",
    "few_files_warning",
    "fixed_settings",
    "vak_settings",
    "config_fixed_settings",
    "read_settings",
    "write_settings",
    "settings_path",
    "MODES",
    "check_mode",
    "stored_settings",
    "stored_validation_cer",
    "then",
    "Request",
    "resolve_mode",
    "predict_cleanup",
]
