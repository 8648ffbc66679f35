"""``vak-tcn tune RESULTS_DIR``: tune the clean-up of trained models on their validation split.

For each trained model in a ``vak train`` or ``vak learncurve`` results directory (vak's layout:
``<results>/<Model>/checkpoints/*.pt``, for learncurve one per
``train_dur_<N>s/replicate_<M>/``), this module

1. finds the config vak copied into the results directory (the nearest ``*.toml`` above the
   checkpoint), and from it the prepared dataset and the model table;
2. loads the checkpoint the family tunes when training ends (``max-val-acc-checkpoint.pt``, else
   the only checkpoint, else ``checkpoint.pt``: :func:`~vak_tcn.models.trained.checkpoint_in`), the
   labelmap and frames standardizer vak saved beside it (:class:`~vak_tcn.models.trained.TrainedModel`);
3. runs the network over every file of the dataset's **validation** split (the frames vak
   prepared; no other split's files are opened) with exact chunked inference, argmax;
4. tunes the clean-up (:func:`vak_tcn.models.postprocess.tune`) against the prepared frame
   labels, and writes ``postprocess.json`` (atomically) and ``postprocess.png`` beside the
   checkpoint; prints the chosen settings and a small table;
5. writes the reference level for ``vak-tcn live`` (``reference_power.json``) beside the checkpoint
   when training did not (a run trained before vak-tcn recorded it).

``vak-tcn annotate`` then uses ``postprocess.json`` (docs/postprocessing.md).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from ..models import postprocess
from ..models.trained import TrainedModel, checkpoint_in, config_above, training_reference, write_reference
from ..plugins import vak_compat
from . import chunked

__all__ = ["TrainedRun", "find_runs", "validation_predictions", "tune_run", "write_figure", "main_tune"]

FIGURE = "postprocess.png"
#: output frames per network call
CHUNK_FRAMES = 8192


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    checkpoint: pathlib.Path
    run_dir: pathlib.Path  # vak's results_path of this training run (labelmap, standardizer)
    config: pathlib.Path

    def load(self) -> TrainedModel:
        return TrainedModel.from_run(self.checkpoint, self.run_dir, self.config)


def find_runs(results_dir: pathlib.Path, checkpoint_name: str | None = None) -> list[TrainedRun]:
    """The trained models of a results directory, one per ``checkpoints`` directory, each with the
    checkpoint the family tunes when training ends (:func:`~vak_tcn.models.trained.checkpoint_in`),
    or ``checkpoint_name``."""
    results_dir = pathlib.Path(results_dir).resolve()
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {results_dir}")
    runs = []
    for ckpt_dir in sorted({p.parent for p in results_dir.rglob("checkpoints/*.pt")}):
        ckpt = checkpoint_in(ckpt_dir, checkpoint_name)
        if ckpt is None:
            continue
        run_dir = ckpt_dir.parent.parent  # <run>/<Model>/checkpoints/
        config = config_above(run_dir, results_dir)
        if config is None:
            raise FileNotFoundError(f"no vak config (*.toml) in {results_dir} or above {ckpt} within it")
        runs.append(TrainedRun(ckpt, run_dir, config))
    if not runs:
        raise FileNotFoundError(
            f"no checkpoint ({checkpoint_name or '*.pt'}) under {results_dir}: expected vak's layout "
            "<results>/<Model>/checkpoints/ (train) or <results>/train_dur_*/replicate_*/<Model>/checkpoints/"
        )
    return runs


def validation_predictions(run: TrainedRun | TrainedModel, echo=print, device: str | None = None) -> dict:
    """The network's argmax frame labels and the reference frame labels of the validation split.

    Returns ``{"predictions", "references", "frame_dur", "background", "dataset", "files"}``.
    """
    import torch
    from tqdm import tqdm

    model = run.load() if isinstance(run, TrainedRun) else run
    files = vak_compat.prepared_split_frame_labels(model.dataset, "val")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    net, context = None, None
    predictions, references = [], []
    for frames_path, labels_path in tqdm(files, desc=f"validation split ({len(files)} files)", leave=False):
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
    return dict(
        predictions=predictions,
        references=references,
        frame_dur=model.frame_dur,
        background=model.background,
        dataset=model.dataset,
        files=[str(f) for f, _ in files],
    )


def _fixed_settings(section) -> postprocess.Settings | None:
    kwargs = getattr(section, "post_tfm_kwargs", None) or {}
    if not kwargs:
        return None
    return postprocess.Settings(
        min_segment_dur=float(kwargs.get("min_segment_dur") or 0.0), majority_vote=bool(kwargs.get("majority_vote"))
    )


def table(result: postprocess.TuneResult, fixed: postprocess.Settings | None = None, top: int = 8) -> str:
    """Raw, the config's fixed clean-up (if any), then the best ``top`` settings."""
    rows = [("raw (none)", postprocess.Settings())]
    if fixed is not None:
        rows.append(("config's fixed", fixed))
    order = sorted(range(len(result.settings)), key=lambda k: result.scores[k]["character_error_rate"])
    rows += [("best" if k == result.best_index else "", result.settings[k]) for k in order[:top]]
    lines = [
        f"{'':14} {'min_gap_dur':>11} {'min_seg_dur':>11} {'majority':>8} {'CER':>7} {'frame err':>9} {'bnd F':>6}"
    ]
    for name, s in rows:
        sc = result.scores_of(s)
        if sc is None:
            continue
        fscore = "" if sc["boundary_fscore"] is None else f"{sc['boundary_fscore']:.3f}"
        lines.append(
            f"{name:14} {s.min_gap_dur:>11g} {s.min_segment_dur:>11g} {str(s.majority_vote).lower():>8} "
            f"{sc['character_error_rate']:>7.4f} {sc['frame_error']:>9.4f} {fscore:>6}"
        )
    return "\n".join(lines)


def write_figure(result: postprocess.TuneResult, path: pathlib.Path, title: str = "") -> pathlib.Path:
    """Character error rate against each setting: the best over the others, and the others at the chosen values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import _atomic

    best = result.best
    cer = np.array([sc["character_error_rate"] for sc in result.scores])
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    for ax, field in zip(axes, ("min_segment_dur", "min_gap_dur", "majority_vote")):
        values = sorted({getattr(s, field) for s in result.settings})
        over_others = [min(c for s, c in zip(result.settings, cer) if getattr(s, field) == v) for v in values]
        at_best = [
            next((c for s, c in zip(result.settings, cer) if s == dataclasses.replace(best, **{field: v})), np.nan)
            for v in values
        ]
        x = np.arange(len(values)) if field == "majority_vote" else np.array(values, dtype=float) * 1000
        ax.plot(x, over_others, "o-", label="best over the other settings")
        ax.plot(x, at_best, "s--", label="others at the chosen values")
        ax.axvline(x[values.index(getattr(best, field))], color="grey", lw=0.8)
        if field == "majority_vote":
            ax.set_xticks(x, [str(v).lower() for v in values])
            ax.set_xlabel(field)
        else:
            ax.set_xlabel(f"{field} (ms)")
    axes[0].set_ylabel("character error rate (validation)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    with _atomic.atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return path


def tune_run(run: TrainedRun, settings: list[postprocess.Settings], echo=print) -> postprocess.TuneResult:
    """Tune one trained model; write ``postprocess.json`` and the figure beside its checkpoint, and the
    reference level for live use when it has none (``reference_power.json``, as training writes it)."""
    echo(f"{run.checkpoint}: running the model on the validation split")
    model = run.load()
    data = validation_predictions(model, echo)
    result = postprocess.tune(
        data["predictions"], data["references"], data["frame_dur"], settings, background=data["background"]
    )
    section = model.table
    extra = {
        "checkpoint": run.checkpoint.name,
        "tuned_by": "vak-tcn tune",
        "config": str(run.config),
        "dataset": str(data["dataset"]),
        "split": "val",
        "n_files": result.n_files,
        "audio_s": round(result.audio_s, 3),
        "frame_dur": data["frame_dur"],
        "tuner_seconds": round(result.seconds, 3),
    }
    out = postprocess.write_settings(postprocess.settings_path(run.checkpoint), result, extra)
    figure = write_figure(result, run.checkpoint.with_name(FIGURE), title=str(run.checkpoint))
    echo(
        f"{len(settings)} settings on {result.n_files} validation files ({result.audio_s:.1f} s of audio) "
        f"in {result.seconds:.2f} s"
    )
    echo(table(result, _fixed_settings(section)))
    echo(f"best: {result.best.describe()}")
    echo(f"-> {out}\n-> {figure}")
    if model.reference is None:
        _record_reference(model, echo)
    return result


def _record_reference(model: TrainedModel, echo=print) -> None:
    """``reference_power.json`` beside the checkpoint of a run trained before it was recorded (or whose
    recording failed): the training split's level (:func:`~vak_tcn.models.trained.training_reference`)."""
    try:
        doc = training_reference(model.dataset, model.spect_params)
    except (OSError, ValueError) as e:
        echo(f"no reference level for live use recorded: {e}")
        return
    echo(f"reference level for vak-tcn live: {doc['reference_power']:.6g} ({doc['n_files']} training files)")
    echo(f"-> {write_reference(model.checkpoint, doc, 'vak-tcn tune')}")


def _durations(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{option}: comma-separated durations in seconds, got {text!r}") from None
    if not values or any(not v >= 0 for v in values):
        raise ValueError(f"{option}: durations >= 0 in seconds, comma-separated; got {text!r}")
    return values


def main_tune(args) -> int:
    g = postprocess.DEFAULT_GRID
    settings = postprocess.grid(
        _durations(args.min_segment_dur, "--min-segment-dur") if args.min_segment_dur else g["min_segment_dur"],
        _durations(args.min_gap_dur, "--min-gap-dur") if args.min_gap_dur else g["min_gap_dur"],
        {"both": (False, True), "on": (True,), "off": (False,)}[args.majority_vote],
    )
    if postprocess.Settings() not in settings:  # raw is always a candidate: tuned is never worse on val
        settings.insert(0, postprocess.Settings())
    runs = find_runs(args.results_dir, args.checkpoint)
    print(f"{len(runs)} trained model(s) in {args.results_dir}; {len(settings)} clean-up settings each")
    results = [(run, tune_run(run, settings)) for run in runs]
    if len(results) > 1:  # learncurve: one line per replicate
        print("\nvalidation character error rate, raw -> tuned:")
        root = pathlib.Path(args.results_dir).resolve()
        for run, result in results:
            raw = result.scores_of(postprocess.Settings())
            raw_cer = f"{raw['character_error_rate']:.4f}" if raw is not None else "?"
            where = run.checkpoint.parent.relative_to(root)
            print(
                f"  {where}: {raw_cer} -> {result.best_scores['character_error_rate']:.4f} ({result.best.describe()})"
            )
    return 0
