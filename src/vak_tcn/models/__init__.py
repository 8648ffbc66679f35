"""The model library's vak side: vak-tcn's plugin, its model catalogue and model family.

* :mod:`.catalogue`: the one list of models (name, network, description);
* :mod:`.plugin`: the hook implementations that register them;
* :mod:`.family`: the model family (training, validation metrics, inference);
* :mod:`.dataset_files`: what the family reads from a prepared dataset (reference annotations,
  frame times, non-finite frames);
* :mod:`.after_training`: the clean-up tuned and the reference level recorded after training, for
  the family when training ends and ``vak-tcn tune`` alike;
* :mod:`.loss`: the loss a config's loss table selects by name;
* :mod:`.seeding`: ``VAK_TCN_SEED``, networks seeded when vak builds them;
* :mod:`.provenance`: the ``vak-tcn-provenance.json`` record of each training run;
* :mod:`.record_check`: a network table checked against that record;
* :mod:`.cleanup`: clean-up of frame labels (gap filling, vak's rules), the ``postprocess.json``
  stored beside a checkpoint, the clean-up a config asks for, and the tuner;
* :mod:`.trained`: one trained model (what a checkpoint needs to run) and the rules every
  consumer shares: the background class, the checkpoint of a run, the reference level for live use.

This package is vak-tcn's entry point (``vak_tcn = "vak_tcn.models"`` in the
``vak.plugins`` group), so the hook implementations are imported here.  Importing it
does not import torch or vak (the hooks do, when called).
"""

from .plugin import vak_register_losses, vak_register_metrics, vak_register_models

__all__ = ["vak_register_losses", "vak_register_metrics", "vak_register_models"]
