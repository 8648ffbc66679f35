"""``vak-tcn-provenance.json``: what made a results directory.

vak-tcn's model family writes this record into the results directory of every training run
of one of its models (vak's ``results_<timestamp>/`` for ``vak train``, each
``train_dur_*s/replicate_*/`` for ``vak learncurve``: the directory holding
``<model>/checkpoints/``), when training starts, and again, with its end time, when it ends.
Both writes are atomic (:mod:`vak_tcn._atomic`).

Fields (``schema`` 1; see docs/reproducibility.md):

* ``versions``: vak-tcn, vak, torch, lightning, numpy (``importlib.metadata``), Python;
* ``git``: ``{"commit", "dirty"}`` when vak-tcn runs from a git checkout, else null;
* ``seed``: ``{"seed", "seed_source", "build_index", "effective_seed", "deterministic"}``
  (:mod:`.seeding`);
* ``model``: the model's name, network class and resolved keyword arguments, loss and metrics
  settings, optimizer;
* ``dataset``: path, SHA-256 of its ``metadata.json`` and of its dataset CSV, the training
  subset (``train-dur-4.0-replicate-1`` in a learncurve), ``train_dur`` and ``replicate_num``;
* ``machine``: platform, CPU model, cores, torch's CPU threads, accelerator, GPU name;
* ``command`` (``sys.argv``) and, in the field :data:`vak_tcn.settings.PROVENANCE_FIELD`, the variable
  of every setting declared as recorded in :mod:`vak_tcn.settings` (seed, deterministic mode, step cap,
  precision, clean-up tuning and mode, thread counts, visible GPUs), with its value (null: unset);
* ``started``, ``ended`` (ISO 8601 with the UTC offset; ``ended`` null while training),
  ``status`` (``"training"``, ``"finished"``).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
from typing import Any

from ..settings import PROVENANCE_FIELD, recorded

FILENAME = "vak-tcn-provenance.json"
SCHEMA = 1
DISTRIBUTIONS = ("vak-tcn", "vak", "torch", "lightning", "numpy")


def versions() -> dict[str, str | None]:
    """Versions of vak-tcn, vak, torch, lightning, numpy (None if not installed) and Python."""
    out: dict[str, str | None] = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


@functools.lru_cache(maxsize=1)
def git_info(package_dir: str | None = None) -> dict | None:
    """``{"commit", "dirty"}`` of the checkout vak-tcn runs from; None when it is not one.

    Only when the git work tree holding the package is vak-tcn's own (its top level has
    ``src/vak_tcn``), so an install inside some other repository reports nothing.
    """
    package = pathlib.Path(package_dir or pathlib.Path(__file__).resolve().parents[1])

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        top = pathlib.Path(git("rev-parse", "--show-toplevel"))
        if (top / "src" / "vak_tcn").resolve() != package.resolve():
            return None
        commit = git("rev-parse", "HEAD")
        # ":(top)": the checkout's src/, not a "src" below the package directory git runs in
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ":(top)src"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(accelerator: str | None = None) -> dict[str, Any]:
    """The machine: platform, CPU model, cores, torch's threads, GPU (if one is used)."""
    import torch

    gpu = None
    if torch.cuda.is_available() and accelerator in (None, "gpu", "cuda"):
        gpu = torch.cuda.get_device_name(torch.cuda.current_device())
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "accelerator": accelerator,
        "gpu": gpu,
        "cuda": torch.version.cuda,
    }


def file_sha256(path: pathlib.Path) -> str | None:
    """SHA-256 of a file's bytes (None if it does not exist)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        return None


_SUBSET = re.compile(r"train-dur-(?P<dur>[\d.]+)-replicate-(?P<rep>\d+)$")


def dataset_info(dataset: Any) -> dict[str, Any]:
    """Path and hashes of the prepared dataset a training dataset (vak's datapipe) reads."""
    path = getattr(dataset, "dataset_path", None)
    info: dict[str, Any] = {"path": None if path is None else str(path)}
    subset = getattr(dataset, "subset", None)
    info["subset"] = subset
    match = _SUBSET.match(subset or "")
    info["train_dur"] = float(match["dur"]) if match else None
    info["replicate_num"] = int(match["rep"]) if match else None
    if path is not None:
        path = pathlib.Path(path)
        info["metadata_sha256"] = file_sha256(path / "metadata.json")
        try:
            from ..plugins import vak_compat  # vak is loaded: this runs in training

            csv_name = vak_compat.dataset_csv_path(path).name
        except (OSError, ValueError, KeyError):
            csv_name = None
        info["csv"] = csv_name
        info["csv_sha256"] = None if csv_name is None else file_sha256(path / csv_name)
    return info


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "tolist"):  # numpy / torch values
        return _jsonable(value.tolist())
    return repr(value)


def settings(obj: Any) -> dict[str, Any]:
    """An object's settings: its public attributes that are plain values (for losses, metrics)."""
    out = {}
    for key, value in vars(obj).items():
        if key.startswith("_") or key == "training":
            continue
        if isinstance(value, (str, int, float, bool, type(None), list, tuple)):
            out[key] = _jsonable(value)
    return out


def _qualname(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def model_info(model: Any) -> dict[str, Any]:
    """Name, network, loss, metrics and optimizer settings of a vak model (a LightningModule)."""
    from .seeding import BUILD_ATTR

    build = getattr(model.network, BUILD_ATTR, {}) if not isinstance(model.network, dict) else {}
    loss = model.loss
    inner = getattr(loss, "loss", None)  # vak-tcn's SelectedLoss wraps the selected loss
    loss_info = {"class": _qualname(loss), **settings(loss)}
    if inner is not None:
        loss_info["selected"] = {"class": _qualname(inner), **settings(inner)}
    optimizer = getattr(model, "optimizer", None)
    opt_info = None
    if optimizer is not None:
        opt_info = {
            "class": _qualname(optimizer),
            **{k: _jsonable(v) for k, v in optimizer.defaults.items() if k != "params"},
        }
    return {
        "name": None,  # the family does not know it; start_record fills it in from the results directory
        "family": _qualname(model),
        "network": build.get("network", _qualname(model.network)),
        "network_kwargs": _jsonable(build.get("network_kwargs")),
        "loss": loss_info,
        "metrics": {name: {"class": _qualname(m), **settings(m)} for name, m in model.metrics.items()},
        "optimizer": opt_info,
    }


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def write_json(path: pathlib.Path, record: dict) -> None:
    """Write ``record`` to ``path`` atomically (:mod:`vak_tcn._atomic`)."""
    from .._atomic import write_text

    write_text(path, json.dumps(record, indent=2) + "\n")


def results_dir(trainer: Any) -> pathlib.Path | None:
    """The results directory of a vak training run: the one holding ``<model>/checkpoints``.

    vak gives its Trainer a logger saving into ``<results>/<model>``; without one, the
    checkpoint callback's ``<results>/<model>/checkpoints``.
    """
    save_dir = getattr(getattr(trainer, "logger", None), "save_dir", None)
    if save_dir:
        return pathlib.Path(save_dir).parent
    dirpath = getattr(getattr(trainer, "checkpoint_callback", None), "dirpath", None)
    if dirpath:
        return pathlib.Path(dirpath).parent.parent
    return None


def _model_name(trainer: Any) -> str | None:
    """The model's name in vak: vak saves a run's logs and checkpoints into ``<results>/<model name>``."""
    save_dir = getattr(getattr(trainer, "logger", None), "save_dir", None)
    return pathlib.Path(save_dir).name if save_dir else None


def start_record(model: Any, trainer: Any, dataset: Any) -> dict[str, Any]:
    """The record at the start of training."""
    from .seeding import BUILD_ATTR

    build = getattr(model.network, BUILD_ATTR, {}) if not isinstance(model.network, dict) else {}
    accelerator = type(getattr(trainer, "accelerator", None)).__name__.replace("Accelerator", "").lower() or None
    return {
        "schema": SCHEMA,
        "tool": "vak-tcn",
        "status": "training",
        "started": _now(),
        "ended": None,
        "versions": versions(),
        "git": git_info(),
        "seed": {
            key: build.get(key) for key in ("seed", "seed_source", "build_index", "effective_seed", "deterministic")
        },
        "model": {**model_info(model), "name": _model_name(trainer)},
        "dataset": dataset_info(dataset),
        "machine": machine(accelerator),
        "command": list(sys.argv),
        PROVENANCE_FIELD: recorded(),  # the variables of every setting declared as recorded
        "results_dir": None,
    }


def read(path: str | pathlib.Path) -> dict | None:
    """A provenance record (None if absent or unreadable)."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def provenance_callback():
    """A Lightning callback that writes the record (the family returns it from ``configure_callbacks``)."""
    import lightning

    class ProvenanceCallback(lightning.pytorch.Callback):
        """Writes :data:`FILENAME` into the run's results directory at the start and end of training."""

        def __init__(self):
            self.path: pathlib.Path | None = None
            self.record: dict | None = None

        def on_train_start(self, trainer, pl_module) -> None:
            where = results_dir(trainer)
            if where is None or not trainer.is_global_zero:
                return
            dataset = getattr(getattr(trainer, "train_dataloader", None), "dataset", None)
            self.record = start_record(pl_module, trainer, dataset)
            self.record["results_dir"] = str(where)
            self.path = where / FILENAME
            write_json(self.path, self.record)

        def on_fit_end(self, trainer, pl_module) -> None:
            if self.path is None or self.record is None:
                return
            self.record.update(status="finished", ended=_now(), global_step=int(trainer.global_step))
            write_json(self.path, self.record)

    return ProvenanceCallback()
