"""The ``vak-tcn report`` command: its options and what it runs (docs/report.md).

Light at import (no NumPy, vak or torch): :mod:`vak_tcn.cli` imports it when ``vak-tcn report``
runs (or is asked for ``--help``); :func:`main` loads vak's plugins and imports the rest.
"""

from __future__ import annotations

import math
import pathlib

from .._cli_args import add_run_options, errors_in_one_line

__all__ = ["add_arguments", "main"]


def add_arguments(parser) -> None:
    errors_in_one_line(parser)
    parser.add_argument(
        "source",
        type=pathlib.Path,
        help="the output folder of `vak-tcn annotate`, or a `vak train`/`learncurve` results directory",
    )
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder to write the report into")
    parser.add_argument(
        "--reference",
        type=pathlib.Path,
        default=None,
        help="reference annotations: a prepared vak dataset (its --split) or a folder of annotation files "
        "(default for a results directory: its dataset's test split)",
    )
    parser.add_argument(
        "--reference-format", default=None, help="crowsetta format of --reference files (default: from their names)"
    )
    parser.add_argument("--split", default="test", help="split of a prepared dataset to compare with (default test)")
    parser.add_argument(
        "--audio",
        type=pathlib.Path,
        action="append",
        default=[],
        help="folder of the annotated recordings, when the annotations do not name them (repeatable)",
    )
    parser.add_argument("--queue", type=int, default=None, metavar="N", help="review queue size (default 2%%, 20-300)")
    parser.add_argument("--tolerance", type=float, default=0.004, help="boundary tolerance, seconds (default 0.004)")
    parser.add_argument("--strip-seconds", type=float, default=10.0, help="seconds of audio per image (default 10)")
    parser.add_argument(
        "--page-seconds", type=float, default=300.0, help="seconds of audio per recording page (default 300)"
    )
    add_run_options(parser)


def _check_numbers(args) -> None:
    for option, value, low in (
        ("--tolerance", args.tolerance, 0.0),
        ("--strip-seconds", args.strip_seconds, 0.5),
        ("--page-seconds", args.page_seconds, 0.5),
    ):
        if not (math.isfinite(value) and value >= low):
            raise ValueError(f"{option} must be a number of seconds >= {low:g}, got {value}")
    if args.queue is not None and args.queue < 0:
        raise ValueError(f"--queue must be an integer >= 0, got {args.queue}")


def _is_results_dir(path: pathlib.Path) -> bool:
    return path.is_dir() and next(path.rglob("checkpoints/*.pt"), None) is not None


def _warn(line: str) -> None:
    import sys

    print(f"vak-tcn report: warning: {line}", file=sys.stderr)


def _unmatched_line(where, unmatched: list[tuple[str, str]], shown: int = 10) -> str:
    listed = ", ".join(f"{file} ({name})" for file, name in unmatched[:shown])
    more = f", and {len(unmatched) - shown} more (all in summary.json)" if len(unmatched) > shown else ""
    return (
        f"--reference {where}: {len(unmatched)} reference annotation(s) match no annotated recording, not used: "
        f"{listed}{more}"
    )


def main(args) -> int:
    # vak is not imported here: a results directory of one of vak-tcn's networks is read and run without it
    # (TrainedModel.from_run), any other model loads vak and the plugins itself
    from tqdm import tqdm

    from . import data, pages
    from .build import ReportOptions, build_report
    from .outputs import ReportFiles, check_out

    _check_numbers(args)
    source, out = args.source, args.out
    if not source.exists():
        raise FileNotFoundError(f"not found: {source} (give the folder vak-tcn annotate wrote, or a results directory)")
    check_out(out, [source, args.reference])
    files = ReportFiles(out)
    files.claim(["index.html", "summary.json"])  # the first files it writes: refused before any work
    try:
        meta, recordings, unmatched = _read(args, source, out, files, data, pages, tqdm)
        options = ReportOptions(args.tolerance, args.strip_seconds, args.page_seconds, args.queue)
        build_report(recordings, out, options, meta=meta, files=files, unmatched_references=unmatched)
    except BaseException:
        files.abort()  # nothing of this run left behind
        raise
    return 0


def _read(args, source, out, files, data, pages, tqdm):
    """``(meta lines, recordings with their references, unmatched references)``."""
    meta = []
    reference = args.reference
    if _is_results_dir(source):
        from ..models.predict_config import checkpoint_line, choose_run
        from . import model

        run = choose_run(source, args.run, args.checkpoint)
        tqdm.write(checkpoint_line(run, args.checkpoint))
        config = "predictions/predict.toml"
        files.claim([config])
        files.mkdir(out / "predictions" / model.RAW)
        files.mkdir(out / "predictions" / model.CLEANED)
        files.add([config])
        dataset, folders, split_dirs = model.predict_split(
            run, args.split, out / "predictions", echo=tqdm.write, config_path=files.path(config)
        )
        # the split's audio is known: a recording whose annotation has no segment (it names no file) is found
        audio_dirs = [*(args.audio or []), *split_dirs]
        recordings = data.read_predictions(folders[model.CLEANED], audio_dirs, version=model.CLEANED, warn=_warn)
        raw = {rec.name: rec for rec in data.read_predictions(folders[model.RAW], audio_dirs, version=model.RAW)}
        for rec in recordings:
            rec.predictions[model.RAW] = raw[rec.name].predicted
            rec.probabilities = raw[rec.name].probabilities
        reference = reference or dataset
        meta.append(f"model <code>{pages.escape(run.checkpoint)}</code>, {pages.escape(args.split)} split")
    else:
        recordings = data.read_predictions(source, args.audio, warn=_warn)
        meta.append(f"annotations <code>{pages.escape(source.resolve())}</code>")
    unmatched = []
    if reference is not None:
        refs = data.read_references(reference, args.reference_format, args.split)
        slack = max(data.END_SLACK, args.tolerance)
        unmatched = data.attach_references(recordings, refs, reference, slack=slack)
        n = sum(rec.reference is not None for rec in recordings)
        if unmatched:
            _warn(_unmatched_line(reference, unmatched))
        not_used = f"; {len(unmatched)} of its annotations match no recording" if unmatched else ""
        meta.append(f"reference <code>{pages.escape(pathlib.Path(reference).resolve())}</code> ({n} of "
                    f"{len(recordings)} recordings{not_used})")  # fmt: skip
    return meta, recordings, unmatched
