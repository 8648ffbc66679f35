"""Turn vak results directories into one tidy CSV in the SfN 2023 poster's schema.

Columns: ``Model, Training set size (s), replicate_num, Window Size, Loss, variable,
value, Post-processing, Metric`` (the poster's two CSVs have either ``Window Size`` or
``Loss``; this one has both, so one file holds a whole grid; ``Post-processing`` is ``raw``,
``fixed`` (the config's ``post_tfm_kwargs``, the poster's ``True``) or ``tuned`` (tuned on
validation data, docs/postprocessing.md)), then ``seed,
vak_tcn_version, vak_version, torch_version`` from each run's provenance record (empty where
there is none; :mod:`.reproducibility`).  One row per model run, metric and clean-up
variant; values in percent, like the poster's (vak's CSVs hold fractions, vak-tcn's columns
too).  F1@k is MS-TCN's, pooled over the validation files (``avg_val_f1_50_epoch``); the
per-file means (``..._macro``) are not in the summary.
"""

from __future__ import annotations

import inspect
import pathlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import tomlkit

from .._atomic import atomic_write
from ..models import catalogue
from ..models.catalogue import display_name
from ..models.results import LEARNING_CURVE
from . import reproducibility
from .poster import loss_label

#: vak / vak-tcn column stem -> (poster variable, poster Metric label, scale: fraction to percent)
METRICS = {
    "acc": ("frame_error", "Frame Error (%)", None),  # 100 * (1 - acc)
    "character_error_rate": ("character_error_rate", "Character Error Rate (%)", 100.0),
    "precision": ("precision", "Precision (%)", 100.0),
    "recall": ("recall", "Recall (%)", 100.0),
    "fscore": ("fscore", "$F$-score (%)", 100.0),
    "rvalue": ("rvalue", "R-value (%)", 100.0),
    "overseg": ("overseg", "Over-segmentation (%)", 100.0),
    "edit": ("edit", "Edit score (%)", 100.0),
    "f1_10": ("f1_10", "F1@10 (%)", 100.0),
    "f1_25": ("f1_25", "F1@25 (%)", 100.0),
    "f1_50": ("f1_50", "F1@50 (%)", 100.0),
}
#: the clean-up variants, in order: the ``Post-processing`` value, the poster's ``variable`` suffix
VARIANTS = (("raw", ""), ("fixed", "_tfm"), ("tuned", "_tuned"))
COLUMNS = [
    "Model",
    "Training set size (s)",
    "replicate_num",
    "Window Size",
    "Loss",
    "variable",
    "value",
    "Post-processing",
    "Metric",
]


def _run_info(results: pathlib.Path) -> dict:
    """Model, window size and loss of a results directory, from the config vak copied into it."""
    tomls = sorted(results.glob("*.toml"))
    if not tomls:
        raise FileNotFoundError(f"no config file in results directory {results} (vak copies the config there)")
    doc = tomlkit.parse(tomls[0].read_text()).unwrap()
    for command in ("learncurve", "train", "eval"):
        table = doc.get("vak", {}).get(command)
        if table is not None:
            ((model, model_tables),) = table["model"].items()
            return {
                "Model": variant_label(model, model_tables.get("network")),
                "Window Size": int(table.get("dataset", {}).get("params", {}).get("window_size", 0)) or None,
                "Loss": loss_label(model_tables.get("loss")),
            }
    raise ValueError(f"{tomls[0]}: no [vak.learncurve], [vak.train] or [vak.eval] table")


def variant_label(model: str, network: dict | None) -> str:
    """A model's name in tables and figures, with its TCN variant where it is not the poster's: "TCN"
    (causal, one stage: the poster's), "TCN centred", "TCN 3-stage", "ConvTCN centred 3-stage".
    A key the table leaves out takes the network's default (:mod:`vak_tcn.nn`)."""
    name = display_name(model)
    try:
        entry = catalogue.get(model)
    except KeyError:  # not one of vak-tcn's models (vak's own TweetyNet): no variants
        return name
    if not entry.uses_tcn:
        return name
    network = dict(network or {})
    defaults = inspect.signature(entry.network_class()).parameters
    causal = bool(network.get("causal", defaults["causal"].default))
    stages = int(network.get("stages", defaults["stages"].default))
    return " ".join([name] + ([] if causal else ["centred"]) + ([f"{stages}-stage"] if stages > 1 else []))


def tidy(learning_curve: pd.DataFrame, info: dict, source: str | pathlib.Path = "learning curve") -> pd.DataFrame:
    """Long-format rows for one learning_curve.csv (``source`` names it in errors).

    A NaN or infinite metric value is an error, not a gap: it comes from a run that trained on
    non-finite data or diverged, and must not reach a results table.
    """
    rows = []
    for i, row in learning_curve.iterrows():
        for stem, (variable, label, scale) in METRICS.items():
            for post, suffix in VARIANTS:
                column = _column(row, stem, post)
                if column is None:
                    continue
                if not np.isfinite(pd.to_numeric(row[column], errors="coerce")):
                    raise ValueError(
                        f"{source}: {column} is {row[column]!r} in row {i + 1} (train_dur "
                        f"{row.get('train_dur')}): a non-finite result (NaN training? bad audio?) is "
                        "not summarized; fix the run and run it again"
                    )
                value = 100.0 * (1.0 - row[column]) if scale is None else row[column] * scale
                rows.append(
                    {
                        **info,
                        "Training set size (s)": float(row.get("train_dur", float("nan"))),
                        "replicate_num": int(row.get("replicate_num", 1)),
                        "variable": variable + suffix,
                        "value": value,
                        "Post-processing": post,
                        "Metric": label,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def _column(row: pd.Series, stem: str, post: str) -> str | None:
    """The learning-curve column of a metric's raw, fixed or tuned variant, if the run has it.

    vak-tcn's models log ``_tuned`` (clean-up tuned on validation data) and ``_fixed`` (the
    config's ``post_tfm_kwargs``) beside vak's ``_tfm``, which is then the tuned one
    (docs/postprocessing.md); runs without ``_tuned`` (vak's own models, older runs) have the
    config's clean-up in ``_tfm``.
    """
    name = {
        "raw": f"avg_val_{stem}_epoch",
        "fixed": f"avg_val_{stem}_fixed_epoch",
        "tuned": f"avg_val_{stem}_tuned_epoch",
    }[post]
    if name in row:
        return name
    if post == "fixed" and f"avg_val_{stem}_tuned_epoch" not in row and f"avg_val_{stem}_tfm_epoch" in row:
        return f"avg_val_{stem}_tfm_epoch"
    return None


def find_learning_curves(roots: Iterable[str | pathlib.Path]) -> list[pathlib.Path]:
    found = []
    for root in roots:
        root = pathlib.Path(root)
        if not root.exists():
            raise FileNotFoundError(f"results directory not found: {root}")
        found += [p for p in root.rglob(LEARNING_CURVE) if not any(part.startswith("interrupted-") for part in p.parts)]
    return sorted(set(found))


def summarize(roots: Iterable[str | pathlib.Path], out_csv: str | pathlib.Path) -> pd.DataFrame:
    """Walk results directories, write the tidy CSV, return it."""
    curves = find_learning_curves(roots)
    if not curves:
        raise FileNotFoundError(f"no {LEARNING_CURVE} under {', '.join(map(str, roots))}")
    frames = [
        reproducibility.with_provenance(tidy(_read_csv(path), _run_info(path.parent), path), path.parent)
        for path in curves
    ]
    df = pd.concat(frames, ignore_index=True)
    reproducibility.warn_if_mixed([path.parent for path in curves])
    with atomic_write(out_csv, "w", newline="") as fh:  # a full disk never leaves half a summary
        df.to_csv(fh, index=False)
    return df


def _read_csv(path: pathlib.Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as e:  # empty, binary, malformed
        raise ValueError(f"{path}: not a readable CSV ({type(e).__name__}: {e})") from None
