"""vak's config errors as one line that names the table, the key and the fix (docs/errors.md).

vak's parser answers a config mistake with its own words: a ``TypeError`` from a table's class
(``PrepConfig.__init__() missing 2 required positional arguments: 'dataset_type' and 'input_type'``),
a ``ValueError`` that names no table (``must specify either audio_format or spect_format``), a
``KeyError`` over several lines.  :func:`explain` turns each into one line; any other message is
kept, on one line.  No vak here: the caller (:mod:`.vak_compat`) gives vak's valid keys.
"""

from __future__ import annotations

import re

from .._params import suggest

#: vak's config classes -> their table (``{command}``: the command table they sit in)
_TABLES = {
    "PrepConfig": "prep",
    "SpectParamsConfig": "prep.spect_params",
    "TrainConfig": "train",
    "EvalConfig": "eval",
    "PredictConfig": "predict",
    "LearncurveConfig": "learncurve",
    "DatasetConfig": "{command}.dataset",
    "TrainerConfig": "{command}.trainer",
    "ModelConfig": "{command}.model",
}
#: what to write for a required key that is missing
_FIXES = {
    "dataset_type": 'dataset_type = "frame classification"',
    "input_type": 'input_type = "spect"',
    "audio_format": 'audio_format = "wav" (the recordings\' format)',
    "trainer": 'a [vak.{table}.trainer] table: accelerator = "cpu" (or "gpu"), devices = 1',
    "dataset": "a [vak.{table}.dataset] table",
    "path": "path: vak prep writes it (run `vak prep CONFIG` first)",
}
_MISSING_ARGS = re.compile(r"(\w+)\.__init__\(\) missing \d+ required (?:positional |keyword-only )?arguments?: (.+)")
_MISSING_KEY = re.compile(r"The `\[vak\.([\w.]+)\]` table in a configuration file requires the (?:option|key) '(\w+)'")
_INVALID_KEYS = re.compile(
    r"The following keys from '(\w+)' table in the (?:config file '.*?'|toml config) are not valid: \{(.*)\}"
)


def _command_table(tables: dict) -> str:
    """The config's command table (vak takes one besides ``prep``)."""
    commands = [t for t, v in tables.items() if t != "prep" and isinstance(v, dict)]
    return commands[0] if commands else "COMMAND"


def _lacks(table: str, keys: list[str]) -> str:
    fixes = "; ".join(_FIXES.get(k, k).format(table=table) for k in keys)
    return f"[vak.{table}] lacks the required key(s) {', '.join(keys)}: add {fixes}"


def explain(error: BaseException, tables: dict, valid_keys: dict[str, list[str]]) -> str:
    """One line for vak's config error ``error`` on the config whose ``vak`` tables are ``tables``;
    ``valid_keys``: vak's valid keys of each table."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    message = " ".join(str(text).split())
    if (match := _MISSING_ARGS.search(message)) and match[1] in _TABLES:
        table = _TABLES.get(match[1], match[1]).format(command=_command_table(tables))
        return _lacks(table, re.findall(r"'(\w+)'", match[2]))
    if match := _MISSING_KEY.search(message):
        return _lacks(match[1], [match[2]])
    if "must specify either audio_format or spect_format" in message:
        return (
            '[vak.prep] gives neither audio_format nor spect_format: add audio_format = "wav" (the recordings\' '
            'format) or spect_format = "mat" (or "npz", for spectrogram files)'
        )
    if "cannot specify audio_format and spect_format" in message:
        return "[vak.prep] gives both audio_format and spect_format: keep the one of the files in data_dir"
    if match := _INVALID_KEYS.search(message):
        table, keys = match[1], re.findall(r"'(\w+)'", match[2])
        valid = valid_keys.get(table, [])
        said = []
        for key in keys:
            elsewhere = [t for t, ks in valid_keys.items() if key in ks and t != table]
            if elsewhere:
                said.append(f"{key} is not a {table} key (only {', '.join(elsewhere)} take it): delete it")
            else:
                said.append(f"unknown key {suggest(key, valid)}: correct or delete it (valid keys: {', '.join(valid)})")
        return f"[vak.{table}]: {'; '.join(said)}"
    return message
