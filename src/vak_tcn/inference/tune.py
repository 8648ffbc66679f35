"""``vak-tcn tune RESULTS_DIR``: tune the clean-up of trained models on their validation split.

For each trained model in a ``vak train`` or ``vak learncurve`` results directory (vak's layout:
``<results>/<Model>/checkpoints/*.pt``, for learncurve one per
``train_dur_<N>s/replicate_<M>/``), this module

1. finds the config vak copied into the results directory (the nearest ``*.toml`` above the
   checkpoint), and from it the prepared dataset and the model table;
2. loads the checkpoint the family tunes when training ends (``max-val-acc-checkpoint.pt``, else
   the only checkpoint, else ``checkpoint.pt``: :func:`~vak_tcn.models.results.checkpoint_in`), the
   labelmap and frames standardizer vak saved beside it (:class:`~vak_tcn.models.trained.TrainedModel`);
3. runs the network over every file of the dataset's **validation** split (the frames vak
   prepared; no other split's files are opened) with exact chunked inference, argmax
   (:func:`split_predictions`, which benchmarks/tune_generalisation.py also runs on the test split);
4. tunes the clean-up (:func:`vak_tcn.models.cleanup.tune`, the one-standard-error rule, with the
   config's fixed ``post_tfm_kwargs`` among the candidates) against the prepared frame labels, and
   writes ``postprocess.json`` (atomically) and ``postprocess.png`` beside the checkpoint
   (:func:`vak_tcn.models.after_training.tune_and_write`, as the family does when training ends); prints the
   chosen settings, what they gain on validation over raw and over the config's clean-up, a small
   table, and a warning when the validation split has one or two files;
5. writes the reference level for ``vak-tcn live`` (``reference_power.json``) beside the checkpoint
   when training did not (a run trained before vak-tcn recorded it).

``vak-tcn annotate`` then uses ``postprocess.json`` (docs/postprocessing.md).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from ..models import after_training, cleanup
from ..models.trained import TrainedModel, TrainedRun, find_runs
from ..plugins import vak_compat
from . import chunked

__all__ = [
    "TrainedRun",
    "find_runs",
    "split_predictions",
    "validation_predictions",
    "tune_run",
    "table",
    "write_figure",
    "main_tune",
]

FIGURE = "postprocess.png"
#: output frames per network call
CHUNK_FRAMES = 8192


def split_predictions(
    run: TrainedRun | TrainedModel,
    split: str = "val",
    device: str | None = None,
    dataset: pathlib.Path | None = None,
) -> dict:
    """The network's argmax frame labels and the reference frame labels of one split of the prepared
    dataset (only that split's rows and files are read): the model's training dataset, or ``dataset``
    (another one prepared with the same spectrogram settings and labels, e.g. by ``vak prep`` for eval).

    Returns ``{"predictions", "references", "frame_dur", "background", "dataset", "files", "split"}``,
    and, for spectrogram input, ``"frame_times"`` (each file's, vak's).
    """
    import json

    import torch
    from tqdm import tqdm

    model = run.load() if isinstance(run, TrainedRun) else run
    dataset = pathlib.Path(dataset) if dataset is not None else model.dataset
    if dataset != model.dataset:
        labelmap = json.loads((dataset / "labelmap.json").read_text())
        if labelmap != model.labelmap:
            raise ValueError(f"dataset {dataset}: its labelmap {labelmap} is not the model's {model.labelmap}")
    files = vak_compat.prepared_split_frame_labels(dataset, split)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    net, context = None, None
    predictions, references = [], []
    for frames_path, labels_path in tqdm(files, desc=f"{split} split ({len(files)} files)", leave=False):
        frames = np.asarray(vak_compat.load_frames(frames_path, model.input_type))
        if model.standardizer is not None:
            frames = model.standardizer(frames)
        if net is None:
            net = model.load_network(frames.shape[0]).to(device)
            context = chunked.context_of(net)[:2]
        with torch.inference_mode():
            runner = chunked.ChunkedInference(net, frames.shape[-1], CHUNK_FRAMES, *context, device)
            logits = [y for _, y in runner.feed(frames)] + [y for _, y in runner.finish()]
        predictions.append(np.concatenate(logits, axis=-1).argmax(axis=0))
        reference = np.load(labels_path)
        if reference.shape[-1] != frames.shape[-1]:
            raise ValueError(f"{labels_path}: {reference.shape[-1]} frame labels for {frames.shape[-1]} frames")
        references.append(reference)
    out = dict(
        predictions=predictions,
        references=references,
        frame_dur=model.frame_dur,
        background=model.background,
        dataset=dataset,
        files=[str(f) for f, _ in files],
        split=split,
    )
    if model.input_type == "spect":
        out["frame_times"] = [vak_compat.load_frame_times(f) for f, _ in files]
    return out


def validation_predictions(run: TrainedRun | TrainedModel, echo=print, device: str | None = None) -> dict:
    """:func:`split_predictions` of the validation split (``echo`` is accepted, and unused)."""
    return split_predictions(run, "val", device)


def table(result: cleanup.TuneResult, fixed: cleanup.Settings | None = None, top: int = 8) -> str:
    """No clean-up, the config's fixed clean-up (if any), the lowest mean and the chosen setting, then the
    others with the lowest character error rates, up to ``top`` rows besides those; ``-lowest``: the
    character error rate minus the lowest's, ``SE``: the standard error of the per-file differences
    from the lowest (a setting is within noise when ``-lowest <= SE``)."""
    fixed = fixed if fixed is not None else result.fixed
    lowest = result.settings.index(result.lowest)
    names: dict[int, list[str]] = {}
    for name, s in (("raw (none)", cleanup.Settings()), ("config's", fixed)):
        if s is not None and s in result.settings:
            names.setdefault(result.settings.index(s), []).append(name)
    names.setdefault(lowest, []).append("lowest")
    names.setdefault(result.best_index, []).append("CHOSEN")
    order = sorted(range(len(result.settings)), key=lambda k: (result.scores[k]["character_error_rate"], k))
    rank = {k: i for i, k in enumerate(order)}
    rows = sorted({*names, *[k for k in order if k not in names][:top]}, key=rank.__getitem__)
    low = result.scores[lowest]["character_error_rate"]
    lines = [
        f"{'':18} {'min_gap_dur':>11} {'min_seg_dur':>11} {'majority':>8} {'CER':>7} {'-lowest':>7} {'SE':>6} "
        f"{'frame err':>9} {'bnd F':>6}"
    ]
    for k in rows:
        s, sc = result.settings[k], result.scores[k]
        fscore = "" if sc["boundary_fscore"] is None else f"{sc['boundary_fscore']:.3f}"
        se = "" if result.se_from_lowest is None else f"{result.se_from_lowest[k]:.4f}"
        lines.append(
            f"{', '.join(names.get(k, [])):18} {s.min_gap_dur:>11g} {s.min_segment_dur:>11g} "
            f"{str(s.majority_vote).lower():>8} {sc['character_error_rate']:>7.4f} "
            f"{sc['character_error_rate'] - low:>7.4f} {se:>6} {sc['frame_error']:>9.4f} {fscore:>6}"
        )
    return "\n".join(lines)


def gains_text(result: cleanup.TuneResult) -> str:
    """What tuning bought on validation: character error rate raw -> chosen, config's -> chosen."""
    cer = result.validation_cer()
    text = f"validation character error rate: raw {cer['raw']:.4f} -> {cer['chosen']:.4f} (gain {cer['gain_over_raw']:.4f})"
    if cer["fixed"] is not None:
        text += f"; config's {cer['fixed']:.4f} -> {cer['chosen']:.4f} (gain {cer['gain_over_fixed']:.4f})"
    else:
        text += "; no config's clean-up (no post_tfm_kwargs)"
    return text


def write_figure(result: cleanup.TuneResult, path: pathlib.Path, title: str = "") -> pathlib.Path:
    """Character error rate against each setting: the best over the others, and the others at the chosen
    values; no clean-up and the config's fixed clean-up as horizontal lines, the lowest mean and the
    chosen setting marked, the rule and the validation gain in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import _atomic

    best, lowest = result.best, result.lowest
    cer = np.array([sc["character_error_rate"] for sc in result.scores])
    values_cer = result.validation_cer()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), sharey=True)
    for ax, field in zip(axes, ("min_segment_dur", "min_gap_dur", "majority_vote")):
        values = sorted({getattr(s, field) for s in result.settings})
        over_others = [min(c for s, c in zip(result.settings, cer) if getattr(s, field) == v) for v in values]
        at_best = [
            next((c for s, c in zip(result.settings, cer) if s == dataclasses.replace(best, **{field: v})), np.nan)
            for v in values
        ]
        x = np.arange(len(values)) if field == "majority_vote" else np.array(values, dtype=float) * 1000
        ax.plot(x, over_others, "o-", ms=4, label="best over the other settings")
        ax.plot(x, at_best, "s--", ms=4, label="others at the chosen values")
        ax.axhline(values_cer["raw"], color="tab:red", ls=":", lw=1, label="no clean-up (raw)")
        if values_cer["fixed"] is not None:
            ax.axhline(values_cer["fixed"], color="tab:purple", ls="-.", lw=1, label="the config's fixed clean-up")
        ax.axvline(x[values.index(getattr(best, field))], color="grey", lw=0.8)
        ax.plot(x[values.index(getattr(best, field))], values_cer["chosen"], "*", color="black", ms=12, label="chosen")
        if lowest != best:
            ax.plot(
                x[values.index(getattr(lowest, field))],
                values_cer["lowest"],
                "D",
                mfc="none",
                mec="tab:green",
                ms=8,
                label="lowest mean",
            )
        if field == "majority_vote":
            ax.set_xticks(x, [str(v).lower() for v in values])
            ax.set_xlabel(field)
        else:
            ax.set_xlabel(f"{field} (ms)")
    axes[0].set_ylabel("character error rate (validation)")
    axes[0].legend(fontsize=6)
    lines = [title] if title else []
    lines.append(f"chosen: {best.describe()}; {result.how_chosen()}")
    lines.append(gains_text(result))
    if result.warning:
        lines.append(f"WARNING: {result.warning.split(';')[0]}")
    fig.suptitle("\n".join(lines), fontsize=7)
    fig.tight_layout()
    with _atomic.atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return path


def tune_run(run: TrainedRun, settings: list[cleanup.Settings], echo=print, rule: str = "one-se") -> cleanup.TuneResult:
    """Tune one trained model; write ``postprocess.json`` and the figure beside its checkpoint, and the
    reference level for live use when it has none (``reference_power.json``, as training writes it).
    The config's fixed ``post_tfm_kwargs`` (:func:`~vak_tcn.models.cleanup.config_fixed_settings`)
    are a candidate (:func:`~vak_tcn.models.after_training.tune_and_write`)."""
    echo(f"{run.checkpoint}: running the model on the validation split")
    model = run.load()
    fixed = cleanup.config_fixed_settings(run.config)
    data = validation_predictions(model)
    result, out = after_training.tune_and_write(
        run.checkpoint,
        data["predictions"],
        data["references"],
        data["frame_dur"],
        background=data["background"],
        fixed=fixed,
        tuned_by="vak-tcn tune",
        frame_dur=data["frame_dur"],
        about={"config": str(run.config), "dataset": str(data["dataset"])},
        settings=settings,
        rule=rule,
    )
    figure = write_figure(result, run.checkpoint.with_name(FIGURE), title=str(run.checkpoint))
    echo(
        f"{len(result.settings)} settings on {result.n_files} validation file{'' if result.n_files == 1 else 's'} "
        f"({result.audio_s:.1f} s of audio) "
        f"in {result.seconds:.2f} s"
    )
    echo(table(result))
    echo(f"chosen: {result.best.describe()}")
    echo(f"  by {result.how_chosen()}")
    echo(f"  {gains_text(result)}")
    if result.warning:
        echo(f"warning: {result.warning}")
    echo(f"-> {out}\n-> {figure}")
    if model.reference is None:
        _record_reference(model, echo)
    return result


def _record_reference(model: TrainedModel, echo=print) -> None:
    """``reference_power.json`` beside the checkpoint of a run trained before it was recorded (or whose
    recording failed): the training split's level (:func:`~vak_tcn.models.after_training.record_reference`)."""
    try:
        doc, path = after_training.record_reference(model.checkpoint, model.dataset, "vak-tcn tune", model.spect_params)
    except (OSError, ValueError) as e:
        echo(f"no reference level for live use recorded: {e}")
        return
    echo(f"reference level for vak-tcn live: {doc['reference_power']:.6g} ({doc['n_files']} training files)")
    echo(f"-> {path}")


def main_tune(args) -> int:
    g = cleanup.DEFAULT_GRID
    settings = cleanup.grid(  # the grid options are lists of seconds, parsed by the CLI
        args.min_segment_dur or g["min_segment_dur"],
        args.min_gap_dur or g["min_gap_dur"],
        {"both": (False, True), "on": (True,), "off": (False,)}[args.majority_vote],
    )
    # no clean-up and the config's fixed clean-up are always candidates (cleanup.tune adds them)
    runs = find_runs(args.results_dir, args.checkpoint)
    print(f"{len(runs)} trained model(s) in {args.results_dir}; {len(settings)} clean-up settings each")
    results = [(run, tune_run(run, settings)) for run in runs]
    if len(results) > 1:  # learncurve: one line per replicate
        print("\nvalidation character error rate, raw and the config's clean-up -> chosen (gain):")
        root = pathlib.Path(args.results_dir).resolve()
        for run, result in results:
            cer = result.validation_cer()
            fixed = "" if cer["fixed"] is None else f", config's {cer['fixed']:.4f}"
            gain = f"{cer['gain_over_raw']:.4f}" + ("" if cer["fixed"] is None else f", {cer['gain_over_fixed']:.4f}")
            where = run.checkpoint.parent.relative_to(root)
            flag = " (few files)" if result.warning else ""
            print(
                f"  {where}: raw {cer['raw']:.4f}{fixed} -> {cer['chosen']:.4f} (gain {gain}; "
                f"{result.n_files} files{flag}): {result.best.describe()}"
            )
    return 0
