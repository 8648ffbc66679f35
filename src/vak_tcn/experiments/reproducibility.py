"""Seeds and provenance in the experiments: per-run seeds for the grid and the demo, the
summary's seed and version columns, and mean ± SD tables over seeds (docs/reproducibility.md).
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Mapping

import pandas as pd

from .. import settings
from ..models import provenance
from ..models.seeding import derive_seed

#: columns the summary gets from each run's provenance record
PROVENANCE_COLUMNS = ["seed", "vak_tcn_version", "vak_version", "torch_version"]
#: version fields compared across the runs of one summary
COMPARED_VERSIONS = ("vak-tcn", "vak", "torch", "lightning", "numpy", "python")


class MixedVersionsWarning(UserWarning):
    """A summary mixes runs made with different versions of vak-tcn, vak, torch, ..."""


def run_seed(seed: int, name: str) -> int:
    """The seed of one run of a grid seeded with ``seed``: a function of ``seed`` and the run's
    name (its config's file name without ``.toml``), so runs differ and a rerun repeats them."""
    return derive_seed(seed, name)


def run_env(env: Mapping[str, str] | None, seed: int | None, name: str) -> dict[str, str]:
    """``env`` plus ``VAK_TCN_SEED`` for the run ``name`` when the grid is seeded."""
    out = dict(env or {})
    if seed is not None:
        out.update(settings.variables({"seed": run_seed(seed, name)}))
    return out


def records(results: pathlib.Path) -> dict[tuple[float | None, int | None], dict]:
    """The provenance records under one vak results directory, by (train_dur, replicate_num)."""
    found = {}
    for path in sorted(pathlib.Path(results).rglob(provenance.FILENAME)):
        record = provenance.read(path)
        if record is None:
            continue
        data = record.get("dataset") or {}
        found[(data.get("train_dur"), data.get("replicate_num"))] = record
    return found


def _columns(record: dict | None) -> dict:
    if record is None:
        return dict.fromkeys(PROVENANCE_COLUMNS)
    versions = record.get("versions") or {}
    return {
        "seed": (record.get("seed") or {}).get("seed"),
        "vak_tcn_version": versions.get("vak-tcn"),
        "vak_version": versions.get("vak"),
        "torch_version": versions.get("torch"),
    }


def with_provenance(rows: pd.DataFrame, results: pathlib.Path) -> pd.DataFrame:
    """Add :data:`PROVENANCE_COLUMNS` to the summary rows of the learncurve in ``results``
    (empty where a run has no record: vak's own models, results from before vak-tcn wrote them)."""
    found = records(results)
    rows = rows.copy()
    values = []
    for dur, rep in zip(rows["Training set size (s)"], rows["replicate_num"]):
        record = found.get((float(dur), int(rep)))
        if record is None and len(found) == 1:  # a train run: one record, no replicate
            (record,) = found.values()
        values.append(_columns(record))
    extra = pd.DataFrame(values, columns=PROVENANCE_COLUMNS, index=rows.index)
    extra["seed"] = extra["seed"].astype("Int64")
    return pd.concat([rows, extra], axis=1)


def mixed_versions(results: list[pathlib.Path]) -> dict[str, list[str]]:
    """Versions that differ between the runs under ``results``: ``{"vak": ["1.0.4", "1.1.0"]}``."""
    seen: dict[str, set] = {name: set() for name in COMPARED_VERSIONS}
    for root in results:
        for record in records(root).values():
            for name in COMPARED_VERSIONS:
                seen[name].add((record.get("versions") or {}).get(name))
    return {name: sorted(map(str, values)) for name, values in seen.items() if len(values) > 1}


def warn_if_mixed(results: list[pathlib.Path]) -> dict[str, list[str]]:
    """Warn (:class:`MixedVersionsWarning`) when runs were made with different versions."""
    mixed = mixed_versions(results)
    if mixed:
        which = "; ".join(f"{name} {', '.join(values)}" for name, values in mixed.items())
        warnings.warn(
            f"the summary mixes runs made with different versions ({which}); differences between "
            "models may be differences between versions",
            MixedVersionsWarning,
            stacklevel=3,
        )
    return mixed


def mean_sd_table(df: pd.DataFrame, metrics: list[str]) -> tuple[pd.DataFrame, int]:
    """Mean ± SD of each metric per model and loss, raw and each clean-up (fixed, tuned), as text cells.

    Returns the table and the largest number of runs behind one cell (seeds x replicates).
    """
    grouped = df[df["Metric"].isin(metrics)].groupby(["Model", "Loss", "Metric", "Post-processing"])["value"]
    stats = grouped.agg(["mean", "std", "count"])
    n = int(stats["count"].max()) if len(stats) else 0
    cells = stats.apply(
        lambda row: f"{row['mean']:.1f}" if row["count"] < 2 else f"{row['mean']:.1f} ± {row['std']:.1f}", axis=1
    )
    table = cells.unstack(["Metric", "Post-processing"])
    order = [(m, post) for m in metrics for post in ("raw", "fixed", "tuned") if (m, post) in table.columns]
    return table[order], n
