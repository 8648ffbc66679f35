"""Does tuned clean-up generalise?  Test-split character error rates of the clean-up chosen on validation.

    python benchmarks/tune_generalisation.py RESULTS_DIR [RESULTS_DIR ...] --out tune_generalisation.csv
        [--checkpoint NAME] [--device cpu|cuda]

For every trained model in each ``vak train`` / ``vak learncurve`` results directory (vak's layout, found
by :func:`vak_tcn.models.trained.find_runs`: the checkpoint the family tunes when training ends), this
runs the network over the prepared dataset's validation split and its test split
(:func:`vak_tcn.inference.tune.split_predictions`, exact chunked inference, argmax), tunes the clean-up
on the validation split with the default grid, the config's fixed ``post_tfm_kwargs`` among the
candidates, by both rules of :func:`vak_tcn.models.cleanup.tune`:

* ``old``: ``rule="best"``, the lowest validation mean character error rate (ties: boundary F-score,
  then grid order), the rule before issue 29;
* ``new``: ``rule="one-se"``, the one-standard-error rule over validation files, then the simplest
  (docs/postprocessing.md);

and scores on the **test** split (:func:`vak_tcn.models.cleanup.evaluate`: vak's character error
rate, each file's edit distance / reference length, averaged over files): no clean-up (raw), the
config's fixed clean-up, the old choice and the new one.  One CSV row per run (written again after each
run, so an interrupted benchmark keeps what it measured); a directory without checkpoints, or a run
whose dataset has no test split, is skipped with a message.  Nothing is written into the results
directories.  At the end: the mean of each test column and how often the new choice beats, ties or
loses to the old one, to the fixed one and to raw.
"""

from __future__ import annotations

import argparse
import csv
import math
import pathlib
import sys
import time
import warnings

from vak_tcn.inference import tune as tune_cli
from vak_tcn.models import cleanup

COLUMNS = [
    "results_dir",
    "run",
    "model",
    "train_dur",
    "replicate",
    "checkpoint",
    "n_val_files",
    "n_test_files",
    "fixed",
    "old",
    "new",
    "val_cer_raw",
    "val_cer_fixed",
    "val_cer_old",
    "val_cer_new",
    "new_margin",
    "new_se",
    "test_cer_raw",
    "test_cer_fixed",
    "test_cer_old",
    "test_cer_new",
]


def _part(path: pathlib.Path, prefix: str) -> str:
    return next((p.removeprefix(prefix) for p in path.parts if p.startswith(prefix)), "")


def _settings_text(settings: cleanup.Settings | None) -> str:
    return "" if settings is None else settings.describe()


def measure(run: tune_cli.TrainedRun, root: pathlib.Path, device: str | None, echo=print) -> dict:
    """One row: validation and test character error rates of raw, fixed, the old and the new choice."""
    model = run.load()
    fixed = cleanup.config_fixed_settings(run.config)
    t0 = time.perf_counter()
    val = tune_cli.split_predictions(model, "val", device)
    test = tune_cli.split_predictions(model, "test", device)
    echo(
        f"inference: {len(val['files'])} validation and {len(test['files'])} test files in {time.perf_counter() - t0:.1f} s"
    )
    with warnings.catch_warnings():  # n_val_files is in the row
        warnings.simplefilter("ignore", cleanup.TooFewFilesWarning)
        args = (val["predictions"], val["references"], val["frame_dur"])
        new = cleanup.tune(*args, background=val["background"], fixed=fixed, rule="one-se")
        old = cleanup.tune(*args, background=val["background"], fixed=fixed, rule="best")
    candidates = [cleanup.Settings(), fixed, old.best, new.best]
    scored = cleanup.evaluate(
        test["predictions"],
        test["references"],
        test["frame_dur"],
        [s if s is not None else cleanup.Settings() for s in candidates],
        background=test["background"],
    )
    test_cer = [sc["character_error_rate"] for sc in scored]
    if fixed is None:
        test_cer[1] = math.nan
    return {
        "results_dir": str(root),
        "run": str(run.checkpoint.parent.relative_to(root)),
        "model": run.checkpoint.parent.parent.name,
        "train_dur": _part(run.checkpoint.relative_to(root), "train_dur_").removesuffix("s"),  # seconds
        "replicate": _part(run.checkpoint.relative_to(root), "replicate_"),
        "checkpoint": run.checkpoint.name,
        "n_val_files": new.n_files,
        "n_test_files": len(test["files"]),
        "fixed": _settings_text(fixed),
        "old": _settings_text(old.best),
        "new": _settings_text(new.best),
        "val_cer_raw": new.cer_of(cleanup.Settings()),
        "val_cer_fixed": new.cer_of(fixed) if fixed is not None else math.nan,
        "val_cer_old": old.best_scores["character_error_rate"],
        "val_cer_new": new.best_scores["character_error_rate"],
        "new_margin": new.choice()["margin"],
        "new_se": new.se,
        "test_cer_raw": test_cer[0],
        "test_cer_fixed": test_cer[1],
        "test_cer_old": test_cer[2],
        "test_cer_new": test_cer[3],
    }


def write_csv(rows: list[dict], out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def summary(rows: list[dict]) -> str:
    lines = [f"{len(rows)} run(s); test character error rate, mean over runs (percent):"]
    for name in ("raw", "fixed", "old", "new"):
        lines.append(f"  {name:6} {100 * _mean([r[f'test_cer_{name}'] for r in rows]):7.2f}")
    for other in ("old", "fixed", "raw"):
        pairs = [(r["test_cer_new"], r[f"test_cer_{other}"]) for r in rows if not math.isnan(r[f"test_cer_{other}"])]
        better = sum(n < o - 1e-12 for n, o in pairs)
        worse = sum(n > o + 1e-12 for n, o in pairs)
        lines.append(
            f"  new vs {other:5}: better in {better}, equal in {len(pairs) - better - worse}, worse in {worse} run(s)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dirs", nargs="+", type=pathlib.Path, help="vak train/learncurve results directories")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("tune_generalisation.csv"), help="CSV file")
    parser.add_argument(
        "--checkpoint", default=None, help="checkpoint file name (default: the one tuned after training)"
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    args = parser.parse_args(argv)

    rows: list[dict] = []
    skipped: list[str] = []
    for d, results_dir in enumerate(args.results_dirs, 1):
        root = results_dir.resolve()
        try:
            runs = tune_cli.find_runs(root, args.checkpoint)
        except FileNotFoundError as e:
            print(f"[{d}/{len(args.results_dirs)}] skipped {results_dir}: {e}", flush=True)
            skipped.append(str(results_dir))
            continue
        print(f"[{d}/{len(args.results_dirs)}] {results_dir}: {len(runs)} trained model(s)", flush=True)
        for r, run in enumerate(runs, 1):
            where = run.checkpoint.relative_to(root)
            print(f"  ({r}/{len(runs)}) {where}", flush=True)
            try:
                row = measure(run, root, args.device, echo=lambda message: print(f"    {message}", flush=True))
            except Exception as e:  # one bad run (no test split, a dataset moved away, ...) must not stop the rest
                print(f"    skipped: {type(e).__name__}: {e}", flush=True)
                skipped.append(str(run.checkpoint))
                continue
            rows.append(row)
            write_csv(rows, args.out)
            print(
                f"    validation files: {row['n_val_files']}; test CER raw {row['test_cer_raw']:.4f}, "
                f"fixed {row['test_cer_fixed']:.4f}, old {row['test_cer_old']:.4f} ({row['old']}), "
                f"new {row['test_cer_new']:.4f} ({row['new']})",
                flush=True,
            )
    if not rows:
        print("no run measured", file=sys.stderr)
        return 1
    print(summary(rows))
    print(f"-> {args.out}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
