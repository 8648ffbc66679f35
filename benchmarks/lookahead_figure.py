"""Accuracy against look-ahead (issue 41): the table and the figure of docs/live.md.

    python benchmarks/stages.py --out lookahead-demo --seeds 3 --only TCN_centred_s3 TCN_causal_s3 \\
        TCN_la4_s3 TCN_la8_s3 TCN_la16_s3 TCN_la32_s3
    python benchmarks/tune_generalisation.py lookahead-demo/results/* --out lookahead-demo/tune.csv
    python benchmarks/lookahead_figure.py lookahead-demo --frame-ms 2 --figure docs/images/lookahead-demo.png

Reads ``OUT/runs.csv`` (vak's eval of the test split, written by ``stages.py``) and ``OUT/tune.csv``
(each checkpoint over whole test files, exact chunked inference, raw and with the clean-up tuned on
validation, by ``tune_generalisation.py``). Variants ``<model>_causal_s<S>`` (look-ahead 0),
``<model>_la<N>_s<S>`` and ``<model>_centred_s<S>``. Prints a Markdown table (mean ± SD over runs) and
draws character error rate (whole files, raw and tuned) against the look-ahead in ms, the centred
model as dashed lines.
"""

from __future__ import annotations

import argparse
import pathlib
import re


def lookahead_of(variant: str) -> int | None:
    """Frames of look-ahead of a variant name; None for a centred one."""
    if "_centred_" in variant:
        return None
    if "_causal_" in variant:
        return 0
    match = re.search(r"_la(\d+)_", variant)
    return int(match.group(1)) if match else None


def load(out: pathlib.Path):
    import pandas as pd

    runs = pd.read_csv(out / "runs.csv")
    tune = pd.read_csv(out / "tune.csv")
    tune["run"] = [pathlib.Path(p).name for p in tune["results_dir"]]  # results/<run>
    df = runs.merge(tune[["run", "test_cer_raw", "test_cer_new"]], on="run", how="left")
    df["whole_raw"], df["whole_tuned"] = 100 * df.pop("test_cer_raw"), 100 * df.pop("test_cer_new")
    df["lookahead"] = [lookahead_of(v) for v in df["variant"]]
    return df


def table(df, frame_ms: float) -> str:
    def spread(x) -> str:
        return f"{x.mean():.1f} ± {x.std():.1f}" if len(x) > 1 else f"{x.mean():.1f}"

    lines = [
        "| variant | look-ahead (frames / ms) | runs | CER raw %, vak's eval | CER raw %, whole file | "
        "CER tuned %, whole file | boundary P / R / F raw |",
        "|---|---|---|---|---|---|---|",
    ]
    order = sorted(df["variant"].unique(), key=lambda v: (lookahead_of(v) is None, lookahead_of(v) or 0))
    for variant in order:
        s, n = df[df["variant"] == variant], lookahead_of(variant)
        ahead = "centred" if n is None else f"{n} / {n * frame_ms:g}"
        lines.append(
            f"| {variant} | {ahead} | {len(s)} | {spread(s.cer_raw)} | {spread(s.whole_raw)} | "
            f"{spread(s.whole_tuned)} | {s.precision.mean():.2f} / {s.recall.mean():.2f} / {s.fscore.mean():.2f} |"
        )
    return "\n".join(lines)


def figure(df, frame_ms: float, path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    bounded = df[df["lookahead"].notna()]
    centred = df[df["lookahead"].isna()]
    for column, colour, name in (("whole_raw", "tab:blue", "raw"), ("whole_tuned", "tab:orange", "tuned clean-up")):
        g = bounded.groupby("lookahead")[column].agg(["mean", "std"]).sort_index()
        ax.errorbar(g.index * frame_ms, g["mean"], yerr=g["std"].fillna(0), color=colour, marker="o", capsize=3,
                    label=f"bounded look-ahead, {name}")  # fmt: skip
        if len(centred):
            ax.axhline(centred[column].mean(), color=colour, linestyle="--", label=f"centred, {name}")
    ax.set_xlabel("look-ahead (ms): live's algorithmic latency")
    ax.set_ylabel("character error rate, test (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=pathlib.Path, help="the folder stages.py and tune_generalisation.py wrote into")
    p.add_argument("--frame-ms", type=float, default=2.0, help="milliseconds per frame (default 2: 64 / 32 kHz)")
    p.add_argument("--figure", type=pathlib.Path, default=None, help="PNG to draw (default OUT/lookahead.png)")
    p.add_argument("--title", default="3-stage TCN, demo corpus: error against look-ahead")
    args = p.parse_args(argv)
    df = load(args.out)
    print(table(df, args.frame_ms))
    path = args.figure or args.out / "lookahead.png"
    figure(df, args.frame_ms, path, args.title)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
