"""The model library's vak side: vak-tcn's plugin, its model catalogue and model family.

* :mod:`.catalogue`: the one list of models (name, network, description);
* :mod:`.plugin`: the hook implementations that register them;
* :mod:`.family`: the model family (training, validation metrics, inference);
* :mod:`.loss`: the loss a config's loss table selects by name;
* :mod:`.seeding`: ``VAK_TCN_SEED``, networks seeded when vak builds them;
* :mod:`.provenance`: the ``vak-tcn-provenance.json`` record of each training run;
* :mod:`.postprocess`: clean-up of frame labels (gap filling, vak's rules), its tuner and the
  ``postprocess.json`` stored beside a checkpoint;
* :mod:`.trained`: one trained model (what a checkpoint needs to run) and the rules every
  consumer shares: the background class, the checkpoint of a run, the reference level for live use.

This package is vak-tcn's entry point (``vak_tcn = "vak_tcn.models"`` in the
``vak.plugins`` group), so the hook implementations are imported here.  Importing it
does not import torch or vak (the hooks do, when called).
"""

from .plugin import vak_register_losses, vak_register_metrics, vak_register_models

__all__ = ["vak_register_losses", "vak_register_metrics", "vak_register_models"]
