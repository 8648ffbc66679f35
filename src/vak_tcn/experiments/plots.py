"""The poster's figures from a tidy summary CSV (:mod:`vak_tcn.summary`), with matplotlib.

* ``window-size``: each metric vs window size, one line per model (mean ± SD over
  replicates), raw and each clean-up side by side — from rows with the CE loss.
* ``loss``: each metric per loss, one marker per model (mean ± SD), raw and each clean-up —
  from rows at the window size where several losses were run.
* ``post-processing``: raw vs fixed vs tuned clean-up per model and metric (mean ± SD over all runs).

Clean-up variants (the summary's ``Post-processing``): ``raw``, ``fixed`` (the config's
``post_tfm_kwargs``; the poster's ``True``) and ``tuned`` (tuned on validation data).

Works on the poster's own CSVs (which have only ``Window Size`` or only ``Loss``) and on
vak-tcn's (which have both).  Each figure is written as PNG and SVG.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from .poster import BASELINE_LOSS, LOSSES

#: the clean-up variants in figure order, and their titles
POST_LABELS = {"raw": "raw", "fixed": "fixed clean-up", "tuned": "tuned clean-up"}


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _metrics(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df["Metric"]))  # order of first appearance


def _variant(value) -> str:
    """A ``Post-processing`` value as a variant name: the poster's False/True are raw/fixed."""
    text = str(value).strip().lower()
    return {"false": "raw", "true": "fixed"}.get(text, text)


def _variants(df: pd.DataFrame) -> list[str]:
    return [v for v in POST_LABELS if v in set(df["Post-processing"])]


def load(csv: str | pathlib.Path) -> pd.DataFrame:
    """Read a summary CSV; ValueError naming the file if it is empty, not a CSV, or has a
    truncated or non-finite row (a figure is never drawn from part of a file)."""
    csv = pathlib.Path(csv)
    if not csv.exists():
        raise FileNotFoundError(f"summary CSV not found: {csv}")
    try:
        df = pd.read_csv(csv)
    except (ValueError, UnicodeDecodeError) as e:  # empty, binary, ragged
        raise ValueError(f"{csv} is not a readable CSV ({type(e).__name__}: {' '.join(str(e).split())})") from None
    missing = {"Model", "value", "Post-processing", "Metric"} - set(df.columns)
    if missing:
        raise ValueError(f"{csv} is not a summary CSV: missing column(s) {sorted(missing)}")
    if df.empty:
        raise ValueError(f"{csv} has no rows")
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = ~np.isfinite(values) | df[["Model", "Metric", "Post-processing"]].isna().any(axis=1)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # 1-based, after the header
        raise ValueError(
            f"{csv}: line {line} is incomplete or not finite ({int(bad.sum())} such row(s)); "
            "a truncated file? write it again with vak-tcn summarize"
        )
    df["value"] = values
    df["Post-processing"] = df["Post-processing"].map(_variant)
    unknown = sorted(set(df["Post-processing"]) - set(POST_LABELS))
    if unknown:
        raise ValueError(f"{csv}: unknown Post-processing value(s) {unknown}; expected {', '.join(POST_LABELS)}")
    return df


def _save(fig, out_dir: pathlib.Path, name: str) -> list[pathlib.Path]:
    paths = []
    for ext in ("png", "svg"):
        path = out_dir / f"{name}.{ext}"
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format=ext, dpi=120, bbox_inches="tight")
        paths.append(path)
    return paths


def _grid(plt, n_rows: int, title: str, n_cols: int = 2):
    # constrained layout keeps the title and the legend (see _model_legend) clear of the panels
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4.5 * n_cols, 2.6 * n_rows), squeeze=False, sharex="row", layout="constrained"
    )
    fig.suptitle(title)
    return fig, axes


def _model_legend(fig, axes) -> None:
    """One legend of the models, right of the top panels, where it hides no data point."""
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)


def _panels(axes, data: pd.DataFrame, metrics: list[str]):
    """Each panel of a metrics x clean-up variants grid: (axis, its rows of ``data``)."""
    for row, metric in enumerate(metrics):
        for col, post in enumerate(_variants(data)):
            ax = axes[row, col]
            ax.set_title(f"{metric}, {POST_LABELS[post]}", fontsize=9)
            yield ax, data[(data["Metric"] == metric) & (data["Post-processing"] == post)]


def _finish(plt, fig, axes, out_dir: pathlib.Path, name: str) -> list[pathlib.Path]:
    _model_legend(fig, axes)
    paths = _save(fig, out_dir, name)
    plt.close(fig)
    return paths


def window_size_figure(df: pd.DataFrame, out_dir: pathlib.Path) -> list[pathlib.Path]:
    plt = _matplotlib()
    data = df[df["Loss"] == BASELINE_LOSS] if "Loss" in df.columns else df
    metrics = _metrics(data)
    fig, axes = _grid(plt, len(metrics), "Effect of training window size", len(_variants(data)))
    windows = sorted(data["Window Size"].unique())
    for ax, sub in _panels(axes, data, metrics):
        for model, by_model in sub.groupby("Model", sort=True):
            stats = by_model.groupby("Window Size")["value"].agg(["mean", "std"]).sort_index()
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3, label=model)
        ax.set_xscale("log")
        ax.set_xticks(windows)
        ax.set_xticklabels([str(int(w)) for w in windows])
        ax.set_xlabel("window size (frames)")
    return _finish(plt, fig, axes, out_dir, "window-size")


def loss_figure(df: pd.DataFrame, out_dir: pathlib.Path) -> list[pathlib.Path]:
    plt = _matplotlib()
    data = df
    if "Window Size" in df.columns:  # the window where the loss experiment ran
        n_losses = df.groupby("Window Size")["Loss"].nunique()
        data = df[df["Window Size"] == n_losses.idxmax()]
    losses = [loss for loss in LOSSES if loss in set(data["Loss"])]
    losses += sorted(set(data["Loss"]) - set(losses))
    models = sorted(data["Model"].unique())
    metrics = _metrics(data)
    fig, axes = _grid(plt, len(metrics), "Effect of smoothing losses", len(_variants(data)))
    offsets = np.linspace(-0.2, 0.2, len(models)) if len(models) > 1 else [0.0]
    for ax, sub in _panels(axes, data, metrics):
        for offset, model in zip(offsets, models):
            stats = sub[sub["Model"] == model].groupby("Loss")["value"].agg(["mean", "std"]).reindex(losses)
            ax.errorbar(
                np.arange(len(losses)) + offset,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                fmt="o",
                capsize=3,
                label=model,
            )
        ax.set_xticks(range(len(losses)))
        ax.set_xticklabels(losses)
    return _finish(plt, fig, axes, out_dir, "loss")


def postprocessing_figure(df: pd.DataFrame, out_dir: pathlib.Path) -> list[pathlib.Path]:
    plt = _matplotlib()
    metrics = _metrics(df)
    models = sorted(df["Model"].unique())
    n_cols = min(3, len(metrics))
    n_rows = int(np.ceil(len(metrics) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 2.8 * n_rows), squeeze=False)
    variants = _variants(df)
    fig.suptitle("Raw vs " + " vs ".join(POST_LABELS[v] for v in variants[1:]) + " predictions")
    x = np.arange(len(models))
    width = 0.8 / len(variants)
    for ax, metric in zip(axes.flat, metrics):
        sub = df[df["Metric"] == metric]
        for k, post in enumerate(variants):
            stats = sub[sub["Post-processing"] == post].groupby("Model")["value"].agg(["mean", "std"]).reindex(models)
            shift = (k - (len(variants) - 1) / 2) * width
            ax.bar(
                x + shift, stats["mean"], width=width, yerr=stats["std"].fillna(0), capsize=2, label=POST_LABELS[post]
            )
        ax.set_xticks(x)
        ax.set_xticklabels(models, fontsize=7, rotation=20)
        ax.set_title(metric, fontsize=9)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    paths = _save(fig, out_dir, "post-processing")
    plt.close(fig)
    return paths


def plot(csv: str | pathlib.Path, out_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """Draw every figure the CSV has data for; return the files written."""
    df = load(csv)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if "Window Size" in df.columns and df["Window Size"].nunique() > 1:
        paths += window_size_figure(df, out_dir)
    if "Loss" in df.columns and df["Loss"].nunique() > 1:
        paths += loss_figure(df, out_dir)
    paths += postprocessing_figure(df, out_dir)
    return paths
