"""vak's results layout: where ``vak train`` and ``vak learncurve`` put a training run's files, known
here and nowhere else.

A ``vak train`` results directory is a run: ``<results>/<Model>/checkpoints/*.pt``, the labelmap
(``labelmap.json``) and frames standardizer (``FramesStandardizer``) vak saved in ``<results>``, and the
config vak copied there.  A ``vak learncurve`` results directory holds one run per
``train_dur_<N>s/replicate_<M>/`` and its ``learning_curve.csv`` when the last run ends.  This module
finds the runs (:func:`run_paths`), the checkpoint of a run that is used (:func:`checkpoint_in`,
vak learncurve's rule), the config of a run (:func:`config_above`) and one run among many
(:func:`choose`).  Pure Python: no vak, no torch.
"""

from __future__ import annotations

import pathlib

__all__ = [
    "CHECKPOINTS",
    "LABELMAP",
    "LEARNING_CURVE",
    "STANDARDIZER",
    "checkpoint_in",
    "choose",
    "config_above",
    "config_of",
    "has_checkpoints",
    "labelmap_path",
    "run_dir_of",
    "run_paths",
    "standardizer_path",
]

#: a run's checkpoints: ``<run>/<Model>/checkpoints/``
CHECKPOINTS = "checkpoints"
#: what vak saves in a run (the labelmap: else the prepared dataset's)
LABELMAP = "labelmap.json"
STANDARDIZER = "FramesStandardizer"
#: a learncurve results directory's table, written when its last run ends
LEARNING_CURVE = "learning_curve.csv"


def checkpoint_in(ckpt_dir: str | pathlib.Path, name: str | None = None) -> pathlib.Path | None:
    """The checkpoint of a training run (its ``checkpoints`` directory) that is used: ``name`` when
    given; else the max-val-acc one if there is exactly one, else the only ``.pt`` file, else
    ``checkpoint.pt`` (vak learncurve's rule, vak's file names; where vak would stop, this falls back
    to ``checkpoint.pt``).  None if there is none.  The family's post-training tuner and
    ``vak-tcn tune`` both choose by it."""
    ckpt_dir = pathlib.Path(ckpt_dir)
    if name:
        return ckpt_dir / name if (ckpt_dir / name).is_file() else None
    paths = sorted(ckpt_dir.glob("*.pt"))
    best = [p for p in paths if "max-val-acc" in p.name]
    if len(best) == 1:
        return best[0]
    if len(paths) == 1:
        return paths[0]
    last = ckpt_dir / "checkpoint.pt"
    return last if last.is_file() else None


def config_above(path: pathlib.Path, root: pathlib.Path) -> pathlib.Path | None:
    """The nearest ``*.toml`` in ``path`` or a folder above it, up to ``root`` (the config vak copied
    into a results directory)."""
    for parent in [path, *path.parents]:
        tomls = sorted(parent.glob("*.toml"))
        if tomls:
            return tomls[0]
        if parent == root:
            break
    return None


def run_dir_of(checkpoint: str | pathlib.Path) -> pathlib.Path:
    """The run a checkpoint belongs to: ``<run>/<Model>/checkpoints/<name>.pt``."""
    return pathlib.Path(checkpoint).parents[2]


def config_of(run_dir: pathlib.Path) -> pathlib.Path | None:
    """The config vak copied into a run's results: in the run (``vak train``), else in the learncurve
    results directory two folders above it (``<results>/train_dur_*/replicate_*``)."""
    learncurve = run_dir.name.startswith("replicate_") and run_dir.parent.name.startswith("train_dur_")
    return config_above(run_dir, run_dir.parent.parent if learncurve else run_dir)


def labelmap_path(run_dir: pathlib.Path, dataset: pathlib.Path) -> pathlib.Path:
    """The labelmap of a run: the one vak saved in it, else its prepared dataset's."""
    path = run_dir / LABELMAP
    return path if path.is_file() else dataset / LABELMAP


def standardizer_path(run_dir: pathlib.Path) -> pathlib.Path:
    """Where vak saves a run's frames standardizer (when the run normalizes its spectrograms)."""
    return run_dir / STANDARDIZER


def has_checkpoints(results: pathlib.Path) -> bool:
    """Whether a ``vak train`` results directory has saved a checkpoint."""
    return any(pathlib.Path(results).glob(f"*/{CHECKPOINTS}/*.pt"))


def run_paths(
    results_dir: pathlib.Path, checkpoint_name: str | None = None
) -> list[tuple[pathlib.Path, pathlib.Path, pathlib.Path]]:
    """``(checkpoint, run, config)`` of each trained model of a results directory, one per checkpoints
    directory, with the checkpoint :func:`checkpoint_in` uses, or ``checkpoint_name``; FileNotFoundError
    naming vak's layout when there is none."""
    results_dir = pathlib.Path(results_dir).resolve()
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {results_dir}")
    found = []
    for ckpt_dir in sorted({p.parent for p in results_dir.rglob(f"{CHECKPOINTS}/*.pt")}):
        ckpt = checkpoint_in(ckpt_dir, checkpoint_name)
        if ckpt is None:
            continue
        run_dir = run_dir_of(ckpt)
        config = config_above(run_dir, results_dir)
        if config is None:
            raise FileNotFoundError(f"no vak config (*.toml) in {results_dir} or above {ckpt} within it")
        found.append((ckpt, run_dir, config))
    if not found:
        raise FileNotFoundError(
            f"no checkpoint ({checkpoint_name or '*.pt'}) under {results_dir}: expected vak's layout "
            f"<results>/<Model>/{CHECKPOINTS}/ (train) or <results>/train_dur_*/replicate_*/<Model>/{CHECKPOINTS}/"
        )
    return found


def choose(runs: list, results_dir: pathlib.Path, run: str | None):
    """The one of ``runs`` (each with a ``checkpoint``) that ``--run`` names (a part of its path below
    ``results_dir``, for learncurve's many), or the only one; ValueError naming them all otherwise."""
    root = pathlib.Path(results_dir).resolve()
    names = [str(r.checkpoint.relative_to(root)) for r in runs]
    if run is not None:
        chosen = [r for r, name in zip(runs, names) if run in name]
        if len(chosen) != 1:
            what = "no" if not chosen else f"{len(chosen)}"
            raise ValueError(f"--run {run!r}: {what} checkpoint(s) of {results_dir} match; one of: {', '.join(names)}")
        return chosen[0]
    if len(runs) > 1:
        example = run_dir_of(names[-1])  # <train_dur_N>/<replicate_M>/<Model>/checkpoints/
        raise ValueError(
            f"{results_dir} holds {len(runs)} trained models: choose one with --run (e.g. --run {example}); "
            f"they are: {', '.join(names)}"
        )
    return runs[0]
