"""The demo: the poster's comparison, small enough for a laptop (~15 minutes on 2 CPU cores).

1. generate a synthetic annotated corpus (:mod:`.corpus`);
2. write stock vak learncurve configs (:data:`DEMO_RUNS`): TweetyNet, the poster's TCN with
   cross-entropy and with GS-TMSE, and the recommended configuration (refinement stages
   :data:`DEMO_STAGES`, CE+TMSE) of TCN and ConvTCN (:mod:`.configs`);
3. run them with the grid runner (``vak prep`` once, then ``vak learncurve`` per config,
   resumable: run the demo again to finish an interrupted one) (:mod:`.runner`);
4. summarize the results in the poster's schema and draw the figures
   (:mod:`.summary`, :mod:`.plots`).

Training is bounded by optimizer steps (``VAK_TCN_MAX_STEPS``), not epochs.  Everything is
seeded (``--seed``, default 0); ``--repeat N`` runs every model N times with different seeds
and reports mean ± SD (docs/reproducibility.md).
"""

from __future__ import annotations

import pathlib
import time

from .. import settings
from .._atomic import write_text
from ..models import catalogue
from . import configs, corpus, plots, poster, reproducibility, runner, summary

#: the demo's TCNs: 7 layers (receptive field 255 frames, within the 256-frame window); centred
#: (the networks' default: offline annotation)
DEMO_TCN_NETWORK = {"num_layers": 7}
#: the recommended configuration's refinement stages (MS-TCN), small enough for the 256-frame window
#: and a laptop (docs/real-song.md, docs/models.md "Refinement stages")
DEMO_STAGES = {"stages": 3, "stage_layers": 6, "stage_channels": 32}
#: the recommended configuration's loss: cross-entropy + MS-TCN's TMSE (docs/real-song.md)
RECOMMENDED_LOSS = "CE+TMSE"


def _run(entry: catalogue.ModelEntry, loss: str, stages: bool = False) -> tuple[str, str, dict, dict | None]:
    name = f"{entry.label}{'_stages' + str(DEMO_STAGES['stages']) if stages else ''}_{poster.loss_slug(loss)}"
    network = None
    if entry.uses_tcn:
        network = {**DEMO_TCN_NETWORK, **(DEMO_STAGES if stages else {})}
    return name, entry.name, poster.LOSSES[loss], network


_TWEETYNET, _TCN, _CONVTCN = (catalogue.get(name) for name in ("TweetyNetPlugin", "TCN", "ConvTCN"))
#: (config name, model, loss table, network table), one per demo run: TweetyNet; the poster's single-stage
#: TCN with CE and with GS-TMSE (its loss comparison); the recommended configuration (3 stages, CE+TMSE) of
#: TCN and of ConvTCN, so every model family, the loss and the stage comparison in five runs
DEMO_RUNS = (
    _run(_TWEETYNET, poster.BASELINE_LOSS),
    _run(_TCN, poster.BASELINE_LOSS),
    _run(_TCN, "CE+gsTMSE"),
    _run(_TCN, RECOMMENDED_LOSS, stages=True),
    _run(_CONVTCN, RECOMMENDED_LOSS, stages=True),
)


#: fewest bouts (~4.8 s each) that cover the demo's 40 + 10 + 20 s of train/val/test splits
MIN_BOUTS = 20


def repeat_name(name: str, repeat: int) -> str:
    """The config name of a demo run's ``repeat``-th repeat (0-based): ``TCN_CE``, ``TCN_CE_rep2``, ..."""
    return name if repeat == 0 else f"{name}_rep{repeat + 1}"


def write_demo_configs(
    out: pathlib.Path,
    data_dir: pathlib.Path,
    labelset: str,
    window_size: int,
    steps: int,
    accelerator: str,
    repeat: int = 1,
) -> list[pathlib.Path]:
    val_step = max(1, steps // 3)
    paths = []
    runs = [(repeat_name(name, r), *rest) for r in range(repeat) for name, *rest in DEMO_RUNS]
    for name, model, loss, network in runs:
        doc = configs.vak_config(
            command="learncurve",
            model=model,
            data_dir=data_dir,
            prep_output_dir=out / "prep",
            results_dir=out / "results" / name,
            labelset=labelset,
            train_dur=40,
            val_dur=10,
            test_dur=20,
            train_set_durs=[40],
            num_replicates=1,
            window_size=window_size,
            batch_size=8,
            num_epochs=1,
            val_step=val_step,
            ckpt_step=val_step,
            patience=4,
            network=network,
            optimizer={"lr": 0.001},
            loss=loss,
            metrics={"segmentation": {"tolerance": 0.004}},
            accelerator=accelerator,
            header=f"vak-tcn demo: {model}, loss {poster.loss_label(loss)}. Run by `vak-tcn demo`.",
        )
        paths.append(configs.write_config(doc, out / "configs" / f"{name}.toml"))
    return paths


def run_demo(
    out: str | pathlib.Path | None = None,
    steps: int = 300,
    n_bouts: int = 45,
    window_size: int = 256,
    seed: int = 0,
    repeat: int = 1,
    short_gaps: bool = False,
) -> dict:
    """Run the whole demo into ``out``; return the paths of its products.

    ``short_gaps``: synthetic song with short inter-syllable gaps (:data:`corpus.SHORT_GAPS`,
    about a third under 10 ms), where the configs' fixed clean-up (``min_segment_dur`` 10 ms)
    and tuned clean-up part ways.

    ``seed`` seeds the synthetic song and, through the grid runner, every training run (each
    run's seed derives from ``seed`` and its config name).  ``repeat``: every model is run
    ``repeat`` times (configs ``<name>``, ``<name>_rep2``, ...), so with different seeds; the
    overview then gives mean ± SD over the repeats, and the figures' error bars span them.
    """
    if n_bouts < MIN_BOUTS:
        raise ValueError(
            f"--bouts must be at least {MIN_BOUTS} (the demo splits 70 s of song into train/val/test), got {n_bouts}"
        )
    if steps < 1:
        raise ValueError(f"--max-steps must be at least 1, got {steps}")
    if repeat < 1:
        raise ValueError(f"--repeat must be at least 1, got {repeat}")
    settings.check_seed(seed, "--seed")
    out = pathlib.Path(out if out is not None else default_out()).resolve()
    started = time.time()
    data_dir = out / "corpus"
    if not any(data_dir.glob("*.wav")):
        kind = " with short gaps" if short_gaps else ""
        print(f"[1/4] generating synthetic song{kind}: {n_bouts} bouts -> {data_dir}", flush=True)
        gaps = corpus.SHORT_GAPS if short_gaps else (0.008, 0.008)
        corpus.make_corpus(data_dir, n_bouts=n_bouts, n_types=6, seed=seed, progress=True, gaps=gaps)
    else:
        print(f"[1/4] using the synthetic song already in {data_dir}", flush=True)
    labelset = "abcdef"
    try:
        import torch

        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    except Exception:
        accelerator = "cpu"
    config_paths = sorted((out / "configs").glob("*.toml"))
    if len(config_paths) != len(DEMO_RUNS) * repeat:
        config_paths = write_demo_configs(out, data_dir, labelset, window_size, steps, accelerator, repeat)
    print(f"[2/4] {len(config_paths)} vak configs in {out / 'configs'}", flush=True)
    print(f"[3/4] vak prep + vak learncurve ({steps} training steps per model)", flush=True)
    runner.run_grid(config_paths, workers=1, env=settings.variables({"max_steps": steps}), seed=seed)
    print("[4/4] summary and figures", flush=True)
    csv = out / "summary.csv"
    df = summary.summarize([out / "results"], csv)
    figures = plots.plot(csv, out / "figures")
    table = _overview(df)
    print(table)
    write_text(out / "overview.txt", table + "\n")
    print(f"\ndemo finished in {(time.time() - started) / 60:.1f} min")
    print(f"  results:  {out / 'results'}")
    print(f"  summary:  {csv}")
    print(f"  overview: {out / 'overview.txt'}")
    print(f"  figures:  {', '.join(str(p) for p in figures if p.suffix == '.png')}")
    return {"summary": csv, "figures": figures, "results": out / "results"}


#: the overview's metrics, in order
OVERVIEW_METRICS = (
    "Frame Error (%)",
    "Character Error Rate (%)",
    "Precision (%)",
    "Recall (%)",
    "$F$-score (%)",
    "F1@50 (%)",
)


def _overview(df) -> str:
    """Each metric per model and loss, raw and with each clean-up (fixed: the config's, tuned: on
    validation data) (a terminal table): the mean, and ± the SD over runs (seeds x replicates)
    when a cell has several."""
    import pandas as pd

    metrics = [m for m in OVERVIEW_METRICS if m in set(df["Metric"])]
    table, n = reproducibility.mean_sd_table(df, metrics)
    table.columns = [
        f"{metric.replace('$', '').replace(' (%)', '')}{'' if post == 'raw' else f' ({post})'}"
        for metric, post in table.columns
    ]
    title = "Mean over replicates (%):" if n < 2 else f"Mean ± SD over {n} runs per cell (%):"
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        return title + "\n" + table.to_string()


def default_out() -> pathlib.Path:
    return pathlib.Path(settings.resolve("demo_out"))
