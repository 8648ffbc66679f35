"""Refinement stages (MS-TCN) x causal / centred, against TweetyNet, on one corpus (issue 28).

    python benchmarks/stages.py --corpus demo --out stages-demo --seeds 3 [--repeat-only NAME ...]
    python benchmarks/stages.py --corpus short-gaps --out stages-short --seeds 3 --repeat-only TweetyNet TCN_centred_s1
    python benchmarks/stages.py --corpus real-bout --out stages-real
    python benchmarks/stages.py --out stages-demo --seeds 3 --losses CE+TMSE --only TCN_centred_s3
    python benchmarks/stages.py --out stages-demo-2000 --window 2000 --seeds 3 --losses CE CE+TMSE \
        --only TweetyNet TCN_centred_s1 TCN_centred_s3 TCN_centred_s3_CE-TMSE   # the poster's window
    python benchmarks/stages.py --out stages-demo --table-only      # the table of finished runs
    python benchmarks/stages.py --out lookahead-demo --seeds 3 --only TCN_centred_s3 TCN_causal_s3 \
        TCN_la4_s3 TCN_la8_s3 TCN_la16_s3 TCN_la32_s3                  # look-ahead (issue 41)

Runs stock ``vak prep`` + ``vak learncurve`` through the grid runner (resumable: run the same
command again after an interruption) at the demo's settings: window 256 (``--window``), batch 8, lr 0.001,
cross-entropy only, ``--steps`` (300) training steps, validation every 100, the TCN with 7 layers
(at window 256; its default 8 where the receptive field fits, e.g. ``--window 2000``).
Variants: TweetyNet, and ``TCN`` / ``ConvTCN`` x causal / centred x 1-4 stages (refinement stages
of ``--stage-layers`` (6) layers and ``--stage-channels`` (32) channels), and the causal ones with a
look-ahead of 4, 8, 16 or 32 frames (``TCN_la8_s3``: ``causal = true, lookahead = 8``; issue 41).  ``--seeds N`` runs
each variant N times (config names ``<variant>``, ``<variant>_rep2``, ...; each run's seed
derived from ``--seed`` and its name), or only the ``--repeat-only`` variants beyond the first.
``--losses CE CE+TMSE`` adds each variant with MS-TCN's smoothing loss (``<variant>_CE-TMSE``);
``--only VARIANT ...`` runs just those variants.

Corpora: ``demo`` (the demo's synthetic song: 45 bouts, seed 0; 40 / 10 / 20 s of
train / val / test), ``short-gaps`` (the same with ``demo --short-gaps``'s gaps), ``real-bout``:
the real Bengalese finch bout (``--real-bout``, MIT, its LICENSE copied along) as 4 copies, each
with its own white noise 30 dB below the song's RMS: vak's split needs every label in every split,
which one 8.5-s bout cut into pieces cannot give, so its train, val and test splits hold the
same song (a fit-and-flicker test on real acoustics, not generalisation).

Prints, and writes to ``OUT/table.md`` and ``OUT/runs.csv``, the test split's scores per variant
(mean ± SD over its runs): character error rate raw, with the config's fixed clean-up and with
the clean-up tuned on validation data; boundary precision / recall / F (±4 ms), F1@50 and frame
error, raw.  Speed is not measured here (runs share the machine): use ``vak-tcn bench``.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import shutil

REPO = pathlib.Path(__file__).resolve().parents[1]
CORPORA = ("demo", "short-gaps", "real-bout")
#: the real bout's labels (its .not.mat) and the test split's name in vak's learning curve
REAL_LABELS = "abcdefghijkn"
#: look-aheads of the causal variants ``<model>_la<N>_s<stages>`` (issue 41; ``causal`` is look-ahead 0)
LOOKAHEADS = (4, 8, 16, 32)


def tcn_layers(window: int) -> int:
    """The TCN's ``num_layers``: its default (8), or fewer where the receptive field would not fit in
    the window (256 frames: 7 layers, receptive field 255)."""
    from vak_tcn.nn.tcn import receptive_field

    layers = 8
    while layers > 1 and receptive_field(layers, 2) > window:
        layers -= 1
    return layers


def variants(stage_layers: int, stage_channels: int, window: int = 256) -> list[tuple[str, str, dict | None]]:
    """(name, model, network table) of every variant."""
    out = [("TweetyNet", "TweetyNetPlugin", None)]
    for model in ("TCN", "ConvTCN"):
        for causal in (False, True):
            for stages in (1, 2, 3, 4):
                network = {"causal": causal}
                if model == "TCN" and tcn_layers(window) != 8:
                    network["num_layers"] = tcn_layers(window)  # the demo's 256: 7, receptive field 255
                if stages > 1:
                    network.update(stages=stages, stage_layers=stage_layers, stage_channels=stage_channels)
                out.append((f"{model}_{'causal' if causal else 'centred'}_s{stages}", model, network))
                if causal:  # the same, read N frames late (the network table's lookahead)
                    out += [(f"{model}_la{n}_s{stages}", model, {**network, "lookahead": n}) for n in LOOKAHEADS]
    return out


def real_bout_corpus(source: pathlib.Path, data_dir: pathlib.Path) -> None:
    import numpy as np
    import soundfile

    wav, annot = source / "bout_1.wav", source / "bout_1.wav.not.mat"
    for path in (wav, annot, source / "LICENSE"):
        if not path.is_file():
            raise FileNotFoundError(f"--real-bout: {path} not found")
    audio, rate = soundfile.read(wav)
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "LICENSE", data_dir / "LICENSE")
    rms = float(np.sqrt(np.mean(audio**2)))
    for k in range(4):
        noisy = audio + np.random.default_rng(k).normal(0, rms * 10 ** (-30 / 20), audio.shape)
        soundfile.write(data_dir / f"bout_{k}.wav", noisy.astype("float32"), rate, subtype="FLOAT")
        shutil.copy(annot, data_dir / f"bout_{k}.wav.not.mat")


def write_configs(args) -> list[pathlib.Path]:
    from vak_tcn.experiments import configs, corpus, poster

    out = args.out
    all_variants = [
        (name if loss == "CE" else f"{name}_{poster.loss_slug(loss)}", model, network, loss)
        for loss in args.losses
        for name, model, network in variants(args.stage_layers, args.stage_channels, args.window)
    ]
    unknown = sorted((set(args.repeat_only) | set(args.only)) - {name for name, *_ in all_variants})
    if unknown:  # before anything is written
        raise SystemExit(f"--repeat-only/--only: no variant(s) {unknown}; variants: {[n for n, *_ in all_variants]}")
    data_dir = out / "corpus"
    if args.corpus == "real-bout":
        if not any(data_dir.glob("*.wav")):
            real_bout_corpus(args.real_bout, data_dir)
        dataset = dict(labelset=REAL_LABELS, annot_format="notmat", train_dur=16, val_dur=8, test_dur=8)
    else:
        if not any(data_dir.glob("*.wav")):
            gaps = corpus.SHORT_GAPS if args.corpus == "short-gaps" else (0.008, 0.008)
            corpus.make_corpus(data_dir, n_bouts=45, n_types=6, seed=0, progress=True, gaps=gaps)
        dataset = dict(labelset="abcdef", annot_format="simple-seq", train_dur=40, val_dur=10, test_dur=20)
    val_step = max(1, args.steps // 3)
    paths = []
    for repeat in range(args.seeds):
        for name, model, network, loss in all_variants:
            if repeat and args.repeat_only and name not in args.repeat_only:
                continue
            if args.only and name not in args.only:
                continue
            run = name if repeat == 0 else f"{name}_rep{repeat + 1}"
            doc = configs.vak_config(
                command="learncurve",
                model=model,
                data_dir=data_dir,
                prep_output_dir=out / "prep",
                results_dir=out / "results" / run,
                train_set_durs=[dataset["train_dur"]],
                num_replicates=1,
                window_size=args.window,
                batch_size=8,
                val_step=val_step,
                ckpt_step=val_step,
                network=network,
                optimizer={"lr": 0.001},
                loss=poster.LOSSES[loss],
                metrics={"segmentation": {"tolerance": 0.004}},
                header=f"benchmarks/stages.py: {name} on the {args.corpus} corpus",
                **dataset,
            )
            paths.append(configs.write_config(doc, out / "configs" / f"{run}.toml"))
    return paths


def table(out: pathlib.Path) -> str:
    """Mean ± SD per variant of the last row of each run's learning_curve.csv (vak's test split)."""
    import pandas as pd

    rows = []
    for curve in sorted(out.glob("results/*/results_*/learning_curve.csv")):
        run = curve.parent.parent.name
        last = pd.read_csv(curve).iloc[-1]

        def value(column: str, scale: float = 1.0, last=last) -> float:
            return scale * float(last[column]) if column in last else float("nan")

        rows.append(
            dict(
                variant=re.sub(r"_rep\d+$", "", run),
                run=run,
                cer_raw=value("avg_val_character_error_rate_epoch", 100),
                cer_fixed=value("avg_val_character_error_rate_fixed_epoch", 100),
                cer_tuned=value("avg_val_character_error_rate_tuned_epoch", 100),
                precision=value("avg_val_precision_epoch"),
                recall=value("avg_val_recall_epoch"),
                fscore=value("avg_val_fscore_epoch"),
                f1_50=value("avg_val_f1_50_epoch"),
                frame_error=100 - value("avg_val_acc_epoch", 100),
            )
        )
    if not rows:
        raise SystemExit(f"no finished run (results/*/results_*/learning_curve.csv) under {out}")
    df = pd.DataFrame(rows)
    df.to_csv(out / "runs.csv", index=False)

    def spread(x) -> str:
        return f"{x.mean():.1f} ± {x.std():.1f}" if len(x) > 1 else f"{x.mean():.1f}"

    lines = [
        "| variant | runs | CER raw % | CER fixed % | CER tuned % | boundary P / R / F raw | F1@50 raw | frame error raw % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant in sorted(df["variant"].unique(), key=lambda v: (v != "TweetyNet", v)):
        s = df[df["variant"] == variant]
        lines.append(
            f"| {variant} | {len(s)} | {spread(s.cer_raw)} | {spread(s.cer_fixed)} | {spread(s.cer_tuned)} | "
            f"{s.precision.mean():.2f} / {s.recall.mean():.2f} / {s.fscore.mean():.2f} | {s.f1_50.mean():.2f} | "
            f"{spread(s.frame_error)} |"
        )
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n")
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", choices=CORPORA, default="demo")
    p.add_argument("--out", type=pathlib.Path, required=True)
    p.add_argument("--seeds", type=int, default=1, help="runs per variant (default 1)")
    p.add_argument("--repeat-only", nargs="+", default=[], metavar="VARIANT", help="variants run --seeds times")
    p.add_argument("--losses", nargs="+", default=["CE"], choices=["CE", "CE+TMSE", "CE+gsTMSE"])
    p.add_argument("--only", nargs="+", default=[], metavar="VARIANT", help="run only these variants")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument(
        "--window", type=int, default=256, help="training window in frames (default 256, the demo's; the poster's 2000)"
    )
    p.add_argument("--workers", type=int, default=2, help="concurrent runs (default 2)")
    p.add_argument("--stage-layers", type=int, default=6)
    p.add_argument("--stage-channels", type=int, default=32)
    p.add_argument("--real-bout", type=pathlib.Path, default=REPO.parent / "shared/real-data/bengalese-finch-bout")
    p.add_argument("--table-only", action="store_true", help="print the table of the runs finished so far")
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    if not args.table_only:
        from vak_tcn import settings
        from vak_tcn.experiments import runner

        paths = write_configs(args)
        runner.run_grid(paths, workers=args.workers, env=settings.variables({"max_steps": args.steps}), seed=args.seed)
    print(table(args.out))


if __name__ == "__main__":  # the grid runner's dask workers are spawned: guard the entry point
    main()
