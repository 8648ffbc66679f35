"""A network's keyword arguments against the record of the training run (``vak-tcn-provenance.json``).

Causal and centred TCNs (and other keys that keep the weight shapes) load each other's checkpoints, so
a config saying ``causal = true`` would run a centred checkpoint as causal: :func:`record_contradictions`
says what a config's network table says other than the record, for the family's
``load_state_dict_from_path`` (stock ``vak eval``/``predict``) and
:meth:`TrainedModel.check_against_record <vak_tcn.models.trained.TrainedModel.check_against_record>`
(``vak-tcn annotate``, ``live``); :func:`network_defaults` fills in the keys a table leaves out.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

__all__ = ["network_defaults", "record_contradictions"]

#: the training run's record (:mod:`.provenance`'s ``FILENAME``; not imported: provenance imports more)
_PROVENANCE = "vak-tcn-provenance.json"
#: network keys not compared with the record: sizes vak sets from the data, dropout (nothing at
#: inference), vak-tcn's own keys that are not the network's
_UNCHECKED_NETWORK_KEYS = frozenset(
    {"num_classes", "num_input_channels", "num_freqbins", "dropout", "stage_dropout", "rnn_dropout", "seed",
     "post_processing"}
)  # fmt: skip


def network_defaults(name: str | None) -> dict | None:
    """The keyword defaults of a catalogue model's network (its refinement stages' too); None for a
    model outside the catalogue."""
    import inspect

    from . import catalogue

    try:
        cls = catalogue.get(name).network_class()
    except (KeyError, ImportError, AttributeError):
        return None
    parameters = inspect.signature(cls.__init__).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        from ..nn.stages import STAGE_DEFAULTS

        defaults.update(STAGE_DEFAULTS)
    return defaults


def record_contradictions(
    checkpoint: str | pathlib.Path, resolved: dict, explicit: dict | None = None
) -> tuple[pathlib.Path, list[str]] | None:
    """What a network's keyword arguments ``resolved`` say other than the training run's record.

    Causal and centred TCNs (and other keys that keep the weight shapes) load each other's checkpoints,
    so a config saying ``causal = true`` would run a centred checkpoint as causal.  The training run's
    provenance record (``vak-tcn-provenance.json``, beside the checkpoint or up to two folders above it:
    vak's ``<run>/<model>/checkpoints/``) keeps the resolved network keyword arguments; each key both
    have with different values is one line naming both (``(the default)`` when ``explicit``, the keys a
    config wrote, is given and lacks it).  Keys that change nothing at inference (dropout) and the sizes
    vak sets from the data are not compared.  ``(record, lines)``, or None: no record (a model trained
    elsewhere), an unreadable one, or nothing contradicts it."""
    checkpoint = pathlib.Path(checkpoint)
    record = next((d / _PROVENANCE for d in list(checkpoint.parents)[:3] if (d / _PROVENANCE).is_file()), None)
    if record is None:
        return None
    try:
        trained = json.loads(record.read_text())["model"]["network_kwargs"] or {}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable record says nothing
    said = []
    for key, value in sorted(trained.items()):
        if key in _UNCHECKED_NETWORK_KEYS or key not in resolved:
            continue
        if _jsonable(resolved[key]) != _jsonable(value):
            default = "" if explicit is None or key in explicit else " (the default)"
            said.append(
                f"{key} = {_toml(resolved[key])}{default}, the checkpoint was trained with {key} = {_toml(value)}"
            )
    return (record, said) if said else None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _toml(value: Any) -> str:
    return json.dumps(_jsonable(value))
