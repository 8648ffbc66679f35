"""Real song from public recordings: TweetyNet against the TCN variants, scored on recordings never trained on (issue 36).

    python benchmarks/real_song.py --crowsetta SRC/crowsetta --whisperseg SRC/WhisperSeg --out real-song
    python benchmarks/real_song.py --out real-song --only TweetyNet TCN_s3_CE-TMSE   # some variants
    python benchmarks/real_song.py --out real-song --table-only                      # the table so far

Sources (local copies; nothing is downloaded, nothing is redistributed: docs/real-song.md):

* ``bf-gy6or6``: ``--crowsetta``, a checkout of https://github.com/vocalpy/crowsetta (BSD-3-Clause),
  ``tests/data_for_tests/cbins/gy6or6/032312/``: 10 songs of one Bengalese finch from BFSongRepo
  (``.cbin`` audio, ``.not.mat`` labels, 11 syllable classes), read by stock ``vak prep`` as
  ``audio_format = "cbin"``, ``annot_format = "notmat"``;
* ``zf-adults``: ``--whisperseg``, a checkout of https://github.com/nianlonggu/WhisperSeg,
  ``data/example_subset/Zebra_finch/test_adults/``: 18 songs of 4 adult zebra finches (WAV with
  JSON onsets/offsets, one class);
* ``canary``: the same checkout's ``data/example_subset/Canary/test/``: 2 songs of one canary
  (44.1 kHz, ~280 syllables, one class).

Reserved for acceptance and never read here: crowsetta's ``birdsongrec`` data and WhisperSeg's
``data/dataset/``.

Splits (by recording, and by bird where there are several): replicate ``r`` of every variant uses
fold ``r``, so variants are compared on the same recordings.  ``bf-gy6or6``: the 10 songs in a fixed
seeded order, fold ``r`` tests on songs ``3r .. 3r+2``; ``zf-adults``: fold ``r`` tests on every song of
one bird (the three birds with the most songs in turn; the fourth always trains) and trains on the
other birds; ``canary``: fold 0 and 2 train on the first song and test on the second, fold 1 the
reverse; the training song is cut into pieces of about 2.5 s in the middle of silent gaps so that
vak's split has files to put in the validation split.  Within a fold, stock ``vak prep`` draws the
validation split (20 % of the training recordings' duration) from the training recordings.

Each run: stock ``vak train`` (through the grid runner: ``vak prep`` once per fold, resumable) at
``--window`` (1000) frames, batch 8, lr 0.001, ``--steps`` (400) optimizer steps, validation every
100; the clean-up tuned on the validation split when training ends (``postprocess.json``).  Then the
checkpoint runs over the fold's test recordings (prepared by ``vak prep`` for ``vak eval``; whole files,
exact chunked inference, as ``vak-tcn annotate``) and is scored against the recordings' own annotations
(not vak's frame labels, which merge syllables closer than a frame): raw, with the fixed clean-up of
vak's examples (``majority_vote`` + ``min_segment_dur`` 10 ms) and with the tuned one
(``postprocess.json``).  Columns: frame error (against vak's frame labels), character error rate
(vak's: each file's edit distance over its number of syllables, averaged over files) raw / fixed /
tuned, boundary precision / recall / F at ±10 ms (vak 1.1's default tolerance), F1@50, and the
**touching repeats**: syllables that follow a syllable of the same label within 4 ms, and how many
of them the tuned output merges with their predecessor (one predicted segment overlapping both).
Training time is the wall time of each ``vak train`` (runs one at a time; ``--workers``): its ratio to
TweetyNet's is indicative only; use ``vak-tcn bench`` for speed.

Writes ``OUT/runs.csv`` (one row per run, rewritten after each) and ``OUT/table.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import shutil
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
BF_DIR = "tests/data_for_tests/cbins/gy6or6/032312"
ZF_DIR = "data/example_subset/Zebra_finch/test_adults"
CANARY_DIR = "data/example_subset/Canary/test"
CORPORA = ("bf-gy6or6", "zf-adults", "canary")
FOLDS = 3
#: the fixed clean-up of vak's examples (the poster's)
FIXED = {"majority_vote": True, "min_segment_dur": 0.01}
#: boundary tolerance, seconds (vak 1.1's default)
TOLERANCE = 0.010
#: a syllable that starts within this of the end of one of the same label "touches" it
TOUCH = 0.004
SPLIT_PIECE_S = 2.5
LOSSES = {
    "CE": {"tmse_weight": 0.0},
    "CE-TMSE": {"tmse_weight": 0.15, "tmse_threshold": 4.0, "similarity": "none"},
    "GS-TMSE": {"tmse_weight": 0.15, "tmse_threshold": 4.0, "similarity": "gaussian", "sigma": 1.0},
}
STAGES = {"stages": 3, "stage_layers": 6, "stage_channels": 32}
#: name -> (model, network table, loss)
VARIANTS = {
    "TweetyNet": ("TweetyNetPlugin", {}, "CE"),
    # configs/TCN.toml before issue 36: one stage, GS-TMSE
    "TCN_s1_GS-TMSE": ("TCN", {}, "GS-TMSE"),
    "TCN_s1_CE": ("TCN", {}, "CE"),
    "TCN_s3_CE": ("TCN", STAGES, "CE"),
    "TCN_s3_CE-TMSE": ("TCN", STAGES, "CE-TMSE"),
    "ConvTCN_s3_CE-TMSE": ("ConvTCN", STAGES, "CE-TMSE"),
    # the same at TweetyNet's training time: 4 x the steps (a TCN step costs about a quarter of TweetyNet's)
    "TCN_s3_CE-TMSE_4x-steps": ("TCN", STAGES, "CE-TMSE"),
}
#: variants trained for more than --steps: the factor
STEP_FACTOR = {"TCN_s3_CE-TMSE_4x-steps": 4}
DEFAULT_VARIANTS = ("TweetyNet", "TCN_s1_GS-TMSE", "TCN_s3_CE-TMSE", "ConvTCN_s3_CE-TMSE")


# ---------------------------------------------------------------- corpora
def _need(path: pathlib.Path, option: str) -> pathlib.Path:
    if not path.is_dir():
        raise SystemExit(f"{option}: {path} not found (a checkout of the repository; docs/real-song.md)")
    return path


def _write_simple_seq(path: pathlib.Path, onsets, offsets, label: str) -> None:
    """One-class syllables as simple-seq beside their audio (``AUDIO.csv``), with annotate's writer."""
    from vak_tcn.audio.annotations import write_annotation

    write_annotation(path, "simple-seq", path.with_suffix(""), [label] * len(onsets), onsets, offsets)


def _bf_folds(src: pathlib.Path, out: pathlib.Path) -> None:
    songs = sorted(p.name.removesuffix(".cbin") for p in src.glob("*.cbin"))
    if len(songs) != 10:
        raise SystemExit(f"--crowsetta: expected the 10 songs of gy6or6 in {src}, found {len(songs)}")
    order = [songs[k] for k in np.random.default_rng(0).permutation(len(songs))]
    for fold in range(FOLDS):
        test = set(order[3 * fold : 3 * fold + 3])
        for song in songs:
            dest = out / f"fold{fold}" / ("test" if song in test else "train")
            dest.mkdir(parents=True, exist_ok=True)
            for suffix in (".cbin", ".rec", ".cbin.not.mat"):
                shutil.copy(src / f"{song}{suffix}", dest / f"{song}{suffix}")


def _whisperseg_songs(src: pathlib.Path) -> list[tuple[pathlib.Path, dict]]:
    songs = []
    for annot in sorted(src.glob("*.json")):
        wav = annot.with_suffix(".wav")
        if wav.is_file():
            songs.append((wav, json.loads(annot.read_text())))
    return songs


def _zf_folds(src: pathlib.Path, out: pathlib.Path) -> None:
    songs = _whisperseg_songs(src)
    bird = {wav: re.match(r"zebra_finch_(.+)-f\d+", wav.stem).group(1) for wav, _ in songs}
    counts = {b: list(bird.values()).count(b) for b in sorted(set(bird.values()))}
    if len(counts) < FOLDS + 1:
        raise SystemExit(f"--whisperseg: expected 4 zebra finches in {src}, found {sorted(counts)}")
    held_out = sorted(counts, key=lambda b: (-counts[b], b))[:FOLDS]
    for fold, test_bird in enumerate(held_out):
        for wav, doc in songs:
            dest = out / f"fold{fold}" / ("test" if bird[wav] == test_bird else "train")
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(wav, dest / wav.name)
            _write_simple_seq(dest / f"{wav.name}.csv", doc["onset"], doc["offset"], "s")


def _pieces(wav: pathlib.Path, doc: dict, dest: pathlib.Path) -> None:
    """Cut one song into pieces of about SPLIT_PIECE_S, each cut in the middle of a silent gap."""
    import soundfile

    audio, rate = soundfile.read(wav)
    on, off = np.asarray(doc["onset"]), np.asarray(doc["offset"])
    gaps = (off[:-1] + on[1:]) / 2  # middles of the gaps between syllables
    cuts, last = [0.0], 0.0
    for t in gaps:
        if t - last >= SPLIT_PIECE_S:
            cuts.append(float(t))
            last = float(t)
    cuts.append(len(audio) / rate)
    for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        keep = (on >= a) & (off <= b)
        name = f"{wav.stem}_piece{k:02d}.wav"
        soundfile.write(dest / name, audio[int(a * rate) : int(b * rate)], rate)
        _write_simple_seq(dest / f"{name}.csv", on[keep] - a, off[keep] - a, "s")


def _canary_folds(src: pathlib.Path, out: pathlib.Path) -> None:
    songs = _whisperseg_songs(src)
    if len(songs) != 2:
        raise SystemExit(f"--whisperseg: expected 2 canary songs in {src}, found {len(songs)}")
    for fold in range(FOLDS):
        train, test = songs if fold % 2 == 0 else songs[::-1]
        for part in ("train", "test"):
            (out / f"fold{fold}" / part).mkdir(parents=True, exist_ok=True)
        _pieces(*train, out / f"fold{fold}" / "train")
        shutil.copy(test[0], out / f"fold{fold}" / "test" / test[0].name)
        _write_simple_seq(
            out / f"fold{fold}" / "test" / f"{test[0].name}.csv", test[1]["onset"], test[1]["offset"], "s"
        )


def build_corpus(name: str, args, out: pathlib.Path) -> None:
    """``out/fold<k>/{train,test}/`` of one corpus (skipped when there)."""
    if (out / f"fold{FOLDS - 1}" / "test").is_dir():
        return
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if name == "bf-gy6or6":
        if args.crowsetta is None:
            raise SystemExit("bf-gy6or6 needs --crowsetta (a checkout of vocalpy/crowsetta)")
        _bf_folds(_need(args.crowsetta / BF_DIR, "--crowsetta"), tmp)
    elif args.whisperseg is None:
        raise SystemExit(f"{name} needs --whisperseg (a checkout of nianlonggu/WhisperSeg)")
    elif name == "zf-adults":
        _zf_folds(_need(args.whisperseg / ZF_DIR, "--whisperseg"), tmp)
    else:
        _canary_folds(_need(args.whisperseg / CANARY_DIR, "--whisperseg"), tmp)
    tmp.rename(out)


def corpus_format(name: str) -> dict:
    if name == "bf-gy6or6":
        return dict(audio_format="cbin", annot_format="notmat", labelset="iabcdefghjk")
    return dict(audio_format="wav", annot_format="simple-seq", labelset="s")


def _duration(path: pathlib.Path) -> float:
    if path.suffix == ".cbin":
        from vak_tcn.plugins import vak_files

        samples, rate = vak_files.read_cbin(path)
        return len(samples) / rate
    import soundfile

    return soundfile.info(path).duration


# ---------------------------------------------------------------- configs
def write_configs(args) -> tuple[list[pathlib.Path], dict]:
    """Train configs of every corpus x variant x fold, and the test config of each fold."""
    from vak_tcn.experiments import configs

    train_configs, test_configs = [], {}
    for corpus in args.corpora:
        root = args.out / corpus
        build_corpus(corpus, args, root / "data")
        fmt = corpus_format(corpus)
        for fold in range(args.seeds):
            data = root / "data" / f"fold{fold % FOLDS}"
            audio = [p for p in (data / "train").iterdir() if p.suffix in (".wav", ".cbin")]
            val_dur = round(0.2 * sum(_duration(p) for p in audio), 2)
            test_cfg = configs.vak_config(
                command="eval",
                model="TCN",
                data_dir=data / "test",
                prep_output_dir=root / "prep" / f"fold{fold}-test",
                output_dir=root / "eval",
                window_size=args.window,
                header=f"benchmarks/real_song.py: {corpus} fold {fold}, test recordings (vak prep for eval)",
                **fmt,
            )
            test_configs[(corpus, fold)] = configs.write_config(test_cfg, root / "configs" / f"test-fold{fold}.toml")
            for variant in args.only or DEFAULT_VARIANTS:
                model, network, loss = VARIANTS[variant]
                run = f"{variant}_fold{fold}"
                doc = configs.vak_config(
                    command="train",
                    model=model,
                    data_dir=data / "train",
                    prep_output_dir=root / "prep" / f"fold{fold}-train",
                    results_dir=root / "results" / run,
                    train_dur=-1,
                    val_dur=val_dur,
                    window_size=args.window,
                    batch_size=8,
                    num_epochs=100,  # the step cap (--steps) ends training
                    val_step=100 * STEP_FACTOR.get(variant, 1),
                    ckpt_step=100 * STEP_FACTOR.get(variant, 1),
                    patience=100,  # never reached in 4 validations (vak 1.0 needs a number)
                    network=network or None,
                    optimizer={"lr": 0.001},
                    loss=LOSSES[loss],
                    metrics={"segmentation": {"tolerance": TOLERANCE}},
                    header=f"benchmarks/real_song.py: {variant} on {corpus}, fold {fold}",
                    **fmt,
                )
                train_configs.append(configs.write_config(doc, root / "configs" / f"{run}.toml"))
    return train_configs, test_configs


def prep_test(config: pathlib.Path) -> pathlib.Path:
    """``vak prep`` of a fold's test recordings (once); the dataset's path."""
    import subprocess

    from vak_tcn.experiments import configs

    dataset = configs.dataset_path(config)
    if dataset is None or not dataset.is_dir():
        log = config.with_suffix(".prep.log")
        with open(log, "w") as fh:
            status = subprocess.run(
                [str(pathlib.Path(sys.executable).parent / "vak"), "prep", str(config)], stdout=fh, stderr=fh
            ).returncode
        if status:
            raise SystemExit(f"vak prep {config} failed; see {log}")
        dataset = configs.dataset_path(config)
    return dataset


# ---------------------------------------------------------------- scoring
def touching_repeats(labels, onsets, offsets) -> np.ndarray:
    """Indices of syllables that start within TOUCH of the end of the one before, with its label."""
    labels, onsets, offsets = np.asarray(labels), np.asarray(onsets), np.asarray(offsets)
    if labels.size < 2:
        return np.array([], dtype=int)
    touch = (labels[1:] == labels[:-1]) & (onsets[1:] - offsets[:-1] <= TOUCH)
    return np.flatnonzero(touch) + 1


def merged(ref_index: np.ndarray, ref_on, ref_off, pred_on, pred_off) -> int:
    """How many of the touching repeats ``ref_index`` one predicted segment covers together with the
    syllable before (a predicted segment that overlaps both)."""
    count = 0
    for i in ref_index:
        both = (np.asarray(pred_on) < ref_off[i - 1]) & (np.asarray(pred_off) > ref_on[i])
        count += bool(both.any())
    return count


def score_run(results: pathlib.Path, test_dataset: pathlib.Path, retune: bool = False) -> dict:
    """Scores of one trained run on its fold's test recordings (see the module docs); with ``retune``,
    the clean-up is first tuned again on the validation split by this vak-tcn (``vak-tcn tune``'s
    function: ``postprocess.json`` rewritten), e.g. after the tuner changed."""
    from vak_tcn.inference import tune as tune_cli
    from vak_tcn.inference.segments import to_segments
    from vak_tcn.metrics import boundaries
    from vak_tcn.metrics.segments import f1_counts, f1_from_counts, levenshtein
    from vak_tcn.models import cleanup
    from vak_tcn.plugins import vak_compat

    (run,) = tune_cli.find_runs(results)
    if retune:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # its table, once per run: not here
            tune_cli.tune_run(run, cleanup.grid(), echo=lambda *_: None)
    model = run.load()
    data = tune_cli.split_predictions(model, "test", dataset=test_dataset)
    annots = vak_compat.read_annotations(vak_compat.read_prepared_dataset(test_dataset, "test"))
    cleanups = {"raw": cleanup.Settings(), "fixed": cleanup.fixed_settings(FIXED), "tuned": model.cleanup}
    out = {"tuned_setting": model.cleanup.describe(), "n_files": len(annots)}
    for name, setting in cleanups.items():
        cer, wrong, frames, hits, n_hyp, n_ref = [], 0, 0, 0, 0, 0
        tp = fp = fn = n_touch = n_merged = n_syllables = 0
        for pred, ref_frames, times, annot in zip(data["predictions"], data["references"], data["frame_times"], annots):
            cleaned = cleanup.clean(pred, model.frame_dur, setting, model.background)
            wrong, frames = wrong + int(np.sum(cleaned != ref_frames)), frames + cleaned.size
            labels, on, off = to_segments(cleaned, model.labelmap, times)
            labels = [] if labels is None else [str(x) for x in labels]
            on, off = (np.zeros(0), np.zeros(0)) if on is None else (on, off)
            seq = annot.seq
            ref_labels = [str(x) for x in seq.labels]
            ref_on, ref_off = np.asarray(seq.onsets_s, float), np.asarray(seq.offsets_s, float)
            cer.append(levenshtein(labels, ref_labels) / max(len(ref_labels), 1))
            hyp_b = boundaries.boundaries_from_segments(on, off)
            ref_b = boundaries.boundaries_from_segments(ref_on, ref_off)
            hits += boundaries.boundary_precision_recall_fscore(hyp_b, ref_b, tolerance=TOLERANCE)["n_hits"]
            n_hyp, n_ref = n_hyp + hyp_b.size, n_ref + ref_b.size
            c = f1_counts((on, off, labels), (ref_on, ref_off, ref_labels), 0.5)
            tp, fp, fn = tp + c[0], fp + c[1], fn + c[2]
            touch = touching_repeats(ref_labels, ref_on, ref_off)
            n_touch, n_merged = n_touch + touch.size, n_merged + merged(touch, ref_on, ref_off, on, off)
            n_syllables += len(ref_labels)
        precision = hits / n_hyp if n_hyp else float(n_ref == 0)
        recall = hits / n_ref if n_ref else float(n_hyp == 0)
        out.update(
            {
                f"cer_{name}": 100 * float(np.mean(cer)),
                f"frame_error_{name}": 100 * wrong / frames,
                f"precision_{name}": precision,
                f"recall_{name}": recall,
                f"fscore_{name}": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
                f"f1_50_{name}": f1_from_counts(tp, fp, fn) / 100,
                f"merged_{name}": n_merged,
                "touching": n_touch,
                "syllables": n_syllables,
            }
        )
    return out


# ---------------------------------------------------------------- the table
COLUMNS = (
    "corpus", "variant", "fold", "train_s", "n_files", "syllables", "touching", "tuned_setting",
    *(f"{m}_{c}" for c in ("raw", "fixed", "tuned")
      for m in ("cer", "frame_error", "precision", "recall", "fscore", "f1_50", "merged")),
)  # fmt: skip


def _spread(values) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def table(rows: list[dict]) -> str:
    """Per corpus and variant: mean ± SD over folds."""
    lines = [
        "| corpus | variant | runs | frame error % | CER raw % | CER fixed % | CER tuned % | boundary P / R / F "
        "tuned (±10 ms) | F1@50 tuned | touching repeats merged, tuned | training s | x TweetyNet |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus in CORPORA:
        mine = [r for r in rows if r["corpus"] == corpus]
        base = [r["train_s"] for r in mine if r["variant"] == "TweetyNet"]
        for variant in [v for v in VARIANTS if any(r["variant"] == v for r in mine)]:
            runs = [r for r in mine if r["variant"] == variant]
            train = np.mean([r["train_s"] for r in runs])
            ratio = f"{np.mean(base) / train:.1f}" if base else ""
            touching = sum(r["touching"] for r in runs)
            merged_ = sum(r["merged_tuned"] for r in runs)
            lines.append(
                f"| {corpus} | {variant} | {len(runs)} | {_spread([r['frame_error_raw'] for r in runs])} | "
                f"{_spread([r['cer_raw'] for r in runs])} | {_spread([r['cer_fixed'] for r in runs])} | "
                f"{_spread([r['cer_tuned'] for r in runs])} | "
                f"{np.mean([r['precision_tuned'] for r in runs]):.2f} / {np.mean([r['recall_tuned'] for r in runs]):.2f}"
                f" / {np.mean([r['fscore_tuned'] for r in runs]):.2f} | {np.mean([r['f1_50_tuned'] for r in runs]):.2f} | "
                f"{merged_} of {touching} | {train:.0f} | {ratio} |"
            )
    return "\n".join(lines)


def read_rows(path: pathlib.Path) -> list[dict]:
    import csv

    if not path.is_file():
        return []
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        for key, value in row.items():
            if key not in ("corpus", "variant", "tuned_setting"):
                row[key] = float(value)
    return rows


def write_rows(rows: list[dict], path: pathlib.Path) -> None:
    import csv
    import io

    from vak_tcn._atomic import write_text

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: (r["corpus"], r["variant"], r["fold"])))
    write_text(path, buffer.getvalue())


def train_seconds(results: pathlib.Path) -> float:
    """Wall time of a ``vak train`` run: from its results directory's creation to its last checkpoint."""
    checkpoints = list(results.rglob("checkpoints/*.pt"))
    start = min(p.stat().st_mtime for p in [results, *results.rglob("*.toml")])
    return max(p.stat().st_mtime for p in checkpoints) - start


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=pathlib.Path, required=True, help="working folder (corpora, datasets, results)")
    p.add_argument("--crowsetta", type=pathlib.Path, help="a checkout of vocalpy/crowsetta (bf-gy6or6)")
    p.add_argument("--whisperseg", type=pathlib.Path, help="a checkout of nianlonggu/WhisperSeg (zf-adults, canary)")
    p.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    p.add_argument(
        "--only",
        nargs="+",
        choices=list(VARIANTS),
        default=[],
        metavar="VARIANT",
        help=f"variants (default: {' '.join(DEFAULT_VARIANTS)}; all: {' '.join(VARIANTS)})",
    )
    p.add_argument("--seeds", type=int, default=FOLDS, help=f"runs per variant, one per fold (default {FOLDS})")
    p.add_argument("--seed", type=int, default=0, help="seeds vak prep and each run (its own, derived) (default 0)")
    p.add_argument("--steps", type=int, default=400, help="optimizer steps per training run (default 400)")
    p.add_argument("--window", type=int, default=1000, help="training window in frames (default 1000)")
    p.add_argument("--workers", type=int, default=1, help="concurrent training runs (default 1: timings)")
    p.add_argument("--table-only", action="store_true", help="print the table of the runs scored so far")
    p.add_argument(
        "--retune", action="store_true", help="tune each run's clean-up again with this vak-tcn before scoring it"
    )
    p.add_argument("--rescore", action="store_true", help="score every finished run again (runs.csv rewritten)")
    args = p.parse_args(argv)  # fmt: skip
    args.out = args.out.resolve()
    if not 1 <= args.seeds <= FOLDS:
        p.error(f"--seeds: 1 to {FOLDS}")
    rows_csv = args.out / "runs.csv"
    rows = read_rows(rows_csv)
    if not args.table_only:
        from vak_tcn import settings
        from vak_tcn.experiments import runner

        train_configs, test_configs = write_configs(args)
        finished = {}  # config -> its results directory, as the grid runner recorded it
        for factor in sorted({STEP_FACTOR.get(v, 1) for v in args.only or DEFAULT_VARIANTS}):
            grid = [c for c in train_configs if STEP_FACTOR.get(c.stem.rsplit("_fold", 1)[0], 1) == factor]
            steps = settings.variables({"max_steps": args.steps * factor})
            for config, state in zip(grid, runner.run_grid(grid, workers=args.workers, env=steps, seed=args.seed)):
                finished[config] = pathlib.Path(state["results"])
        if args.rescore:
            rows = []
        done = {(r["corpus"], r["variant"], int(r["fold"])) for r in rows}
        for config in train_configs:
            corpus = config.parent.parent.name
            variant, fold = re.match(r"(.+)_fold(\d+)$", config.stem).groups()
            if (corpus, variant, int(fold)) in done:
                continue
            results = finished[config]  # not the newest folder: an interrupted run may have left one
            t0 = time.perf_counter()
            row = score_run(results, prep_test(test_configs[(corpus, int(fold))]), retune=args.retune)
            row.update(corpus=corpus, variant=variant, fold=int(fold), train_s=train_seconds(results))
            rows.append(row)
            write_rows(rows, rows_csv)
            print(
                f"{corpus} {config.stem}: CER raw {row['cer_raw']:.1f} / fixed {row['cer_fixed']:.1f} / tuned "
                f"{row['cer_tuned']:.1f} %, merged {row['merged_tuned']} of {row['touching']} touching "
                f"(scored in {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    text = table(rows)
    (args.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":  # the grid runner's dask workers are spawned: guard the entry point
    main()
