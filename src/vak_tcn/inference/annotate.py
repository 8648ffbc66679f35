"""Annotate recordings of any length with a trained model, in bounded memory: many recordings, resumable.

``vak-tcn annotate CONFIG AUDIO...`` (docs/annotate.md).  CONFIG is a stock vak *predict*
config: the checkpoint, labelmap and frames standardizer, the ``[vak.prep.spect_params]``, the
model table, ``majority_vote`` and ``min_segment_dur`` (read once, without importing vak when the model
is one of vak-tcn's networks, :class:`~vak_tcn.models.trained.TrainedModel`; else by vak's parser).  The
clean-up, as ``vak predict`` applies it to vak-tcn models
(:meth:`TrainedModel.from_predict_config <vak_tcn.models.trained.TrainedModel.from_predict_config>`):
the settings tuned on validation data and stored beside the checkpoint (``postprocess.json``, with gap
filling), then the config's ``majority_vote``/``min_segment_dur`` (vak's defaults for keys it leaves
out).  Each recording is annotated by the model's one runtime,
:class:`~vak_tcn.inference.annotator.Annotator`.

Every output is written to a temporary name in its directory and renamed, the annotation
last; then a record beside them (``NAME.annotate.json``, :mod:`~vak_tcn.inference.records`) says what
made them: the checkpoint, the clean-up, the options and the recording, by content.  A rerun skips a
recording only when its record vouches for every output it needs, made the same way
(:func:`~vak_tcn.inference.records.resume_state`); it annotates again what another model, clean-up or
option made, and never overwrites a file that no record claims (a folder's own ground truth, an
annotation edited by hand).  A recording that fails is recorded as failed, with the reason, and tried
again by the next run.  One run at a time writes in an output folder
(:func:`~vak_tcn.inference.records.output_lock`).  A file is annotated when its extension is one of the
formats the audio reader opens (:func:`~vak_tcn.audio.read.audio_extensions`), in folders as when named.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib

from .._processes import connect_scheduler, quiet_dask, terminal_interrupts_ignored
from ..audio.read import RecordingError, audio_info, find_audio
from ..audio.resample import resampler
from ..models.trained import ModelError, TrainedModel
from . import pipeline
from .annotator import Annotator, cleanup_request
from .options import MIN_CHUNK_SECONDS, Options, check_options, resolved
from .records import (
    MADE_WITH_PARTS,
    RECORD_SUFFIX,
    check_writable,
    foreign_refusal,
    output_lock,
    part_order,
    plan_outputs,
    record_failure,
    recording_about,
    recording_made_with,
    remove_stale_temporaries,
    resume_state,
    write_record,
)

__all__ = ["MIN_CHUNK_SECONDS", "Annotator", "ModelError", "Options", "annotate_all", "annotate_task", "check_options"]


# ---------------------------------------------------------------- one task (local or on a dask worker)
_ANNOTATORS: dict = {}


def _key(source) -> object:
    return str(source) if isinstance(source, (str, pathlib.Path)) else id(source)


def annotate_task(
    source: str | TrainedModel,
    audio: str,
    outputs: dict,
    options: Options,
    samplerate: int | None,
    record: str | None = None,
    made_with: dict | None = None,
    about: dict | None = None,
) -> dict:
    """Annotate one recording in this process (a dask task) with the model of ``source`` (a predict
    config's path, or the model itself); the model is loaded once per process.

        With ``record``: the record beside the outputs says ``made_with`` is writing them (pending)
        before they are written, and vouches for them (complete) after, or says why the recording failed
        (failed: a rerun tries it again; an interrupted run leaves it pending).  Returns ``{"ok": True,
        **Result}`` or ``{"ok": False, "audio": ..., "error": ...}``; :class:`ModelError` (no
        recording can be annotated) is raised.
    """
    key = (_key(source), options, samplerate)
    if key not in _ANNOTATORS:
        _ANNOTATORS.clear()
        model = pathlib.Path(source) if isinstance(source, str) else source
        _ANNOTATORS[key] = Annotator(model, options, samplerate)
    paths = {k: pathlib.Path(v) for k, v in outputs.items()}
    about = recording_about(about, audio)
    try:
        if record is not None:
            write_record(pathlib.Path(record), paths, made_with or {}, "pending", about)
        result = _ANNOTATORS[key].annotate(pathlib.Path(audio), paths)
        if record is not None:
            write_record(pathlib.Path(record), paths, made_with or {}, "complete", about)
    except ModelError:
        raise
    except Exception as e:  # this one file (anything else than RecordingError named by its type): go on with the others
        error = str(e) if isinstance(e, RecordingError) else f"{type(e).__name__}: {e}"
        if record is not None:
            record_failure(pathlib.Path(record), paths, made_with or {}, error, about)
        return {"ok": False, "audio": audio, "error": error}
    return {"ok": True, **dataclasses.asdict(result)}


# ---------------------------------------------------------------- many recordings
def _line(result: dict) -> str:
    if not result["ok"]:
        return f"FAILED {result['audio']}: {result['error']}"
    x = result["duration_s"] / result["seconds"] if result["seconds"] > 0 else float("inf")
    return (
        f"{result['audio']}: {result['duration_s']:.1f} s, {result['n_segments']} segments, "
        f"{result['seconds']:.1f} s, {x:.0f}x real time -> {result['annotation']}"
    )


def _on_dask(client, work, submit, report, remote: bool) -> None:
    """Submit every recording, report each as it finishes; on Ctrl-C or a model error, quietly."""
    from dask.distributed import as_completed

    futures = {submit(client, audio, outputs, record, made_with): d for audio, outputs, record, made_with, d in work}
    try:
        for future in as_completed(futures):
            report(future.result(), futures[future])
    except BaseException:  # Ctrl-C, or a model that does not load
        quiet_dask()
        with contextlib.suppress(Exception):
            if remote:  # a running task goes on (dask cannot stop it); its record says when it is done
                client.cancel(list(futures), force=True)
            else:
                client.run(quiet_dask)  # on this command's own workers too
        raise
    quiet_dask()


def annotate_all(
    source: pathlib.Path | TrainedModel,
    inputs: list[pathlib.Path],
    out_dir: pathlib.Path | None = None,
    options: Options = Options(),
    recursive: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    samplerate: int | None = None,
    echo=None,
    overwrite: bool | None = False,
) -> tuple[int, int, int]:
    """Annotate every recording found in ``inputs`` with the model of ``source`` (a stock vak predict
    config, read once, or a :class:`~vak_tcn.models.trained.TrainedModel` already loaded, whose clean-up
    is applied); returns ``(annotated, failed, skipped)``.

    Before any recording is read, ValueError for: an option that cannot work, a folder without
    audio, a file not in an audio format read here, two recordings that would write one file, an
    output folder that is a file or read-only, or that another ``vak-tcn annotate`` is writing
    (:func:`output_lock`), a config whose model does not load (:class:`ModelError`), and files under
    output names that no record vouches for (not overwritten unless ``overwrite``, ``--overwrite``; None:
    the caller has no such option, and the refusal does not offer it).  Recordings whose record vouches
    for their outputs, made the same way, are skipped (resume); those made another way, and those that
    failed, are annotated again.  In this process by default, on a local dask.distributed cluster of
    ``workers`` processes, or on the cluster at ``scheduler`` (one task per recording).  ``echo``
    (default: print above the progress bar) gets one line per recording and the summary.
    """
    from tqdm import tqdm

    echo = echo or tqdm.write

    check_options(options, workers)
    options = resolved(options)
    config_path = None
    if not isinstance(source, TrainedModel):
        config_path = pathlib.Path(source).resolve()
        # the config, read once: labelmap and standardizer checked here, before any audio is looked at
        source = TrainedModel.from_predict_config(config_path, cleanup_request(options))
    if out_dir is None:  # the config's output_dir, else the working directory
        configured = getattr(source.table, "output_dir", None)
        out_dir = pathlib.Path(configured) if configured else pathlib.Path.cwd()
    out_dir = pathlib.Path(out_dir)
    planned = plan_outputs(find_audio(inputs, recursive), out_dir, options)
    check_writable([out_dir])
    with output_lock(out_dir, echo):
        return _annotate_planned(
            source, config_path, planned, out_dir, options, workers, scheduler, samplerate, echo, overwrite
        )


def _annotate_planned(model, config_path, planned, out_dir, options, workers, scheduler, samplerate, echo, overwrite):
    """:func:`annotate_all` once the recordings and their outputs are known, ``out_dir`` locked."""
    from tqdm import tqdm

    # the checkpoint is checked here (the network built), before any work
    _ANNOTATORS.clear()
    annotator = _ANNOTATORS[(_key(model), options, samplerate)] = Annotator(model, options, samplerate)
    echo(f"clean-up: {annotator.cleanup.describe()}; from {annotator.cleanup_source}")
    made_with = annotator.made_with()
    about = {"checkpoint_path": str(pathlib.Path(annotator.checkpoint_path).resolve())}
    if config_path is not None:
        about = {"config": str(config_path), **about}
    # the task's model: the config's path on dask workers (each loads it once), the model itself here
    task_source = str(config_path) if config_path is not None and (workers or scheduler) else model
    todo, skipped, failed, done, foreign, other, n_other, retried = [], 0, 0, 0, [], set(), 0, []
    infos, resampled = {}, {}  # the headers read here (read once); recordings to resample, by rate
    for audio, outputs, record in planned:
        ours = recording_made_with(made_with, audio)
        if annotator.model_samplerate is not None:  # a recording at another rate is resampled: its record says so
            with contextlib.suppress(RecordingError):  # said when it is annotated
                infos[audio] = audio_info(audio)
                resampling = annotator.resampling(infos[audio].samplerate)
                if resampling is not None:
                    ours = {**ours, "resampled": resampling}
        state, details = resume_state(outputs, record, ours)
        if state == "done":
            skipped += 1
            continue
        if state == "foreign":
            foreign.extend(details)
            if not overwrite:
                continue
        if state == "other":
            n_other += 1
            other.update(details)
        if state == "failed":
            retried.append(f"{audio}: {details[0]}")
        todo.append((audio, outputs, record, ours))
        if "resampled" in ours and (samplerate is None or ours["resampled"]["from"] == samplerate):
            resampled[ours["resampled"]["from"]] = resampled.get(ours["resampled"]["from"], 0) + 1
    if foreign and not overwrite:
        raise foreign_refusal(foreign, out_dir, None if overwrite is None else "--overwrite")
    if foreign:
        echo(
            f"{len(foreign)} file(s) under --out {out_dir} that no {RECORD_SUFFIX} record vouches for (e.g. "
            f"{foreign[0]}): annotated over them (--overwrite)"
        )
    check_writable({path.parent for _, outputs, record, _ in todo for path in (*outputs.values(), record)})
    if skipped:
        echo(
            f"{skipped} recording(s) already annotated in {out_dir} with this checkpoint, clean-up and options: skipped"
        )
    if n_other:
        what = ", ".join(MADE_WITH_PARTS.get(part, part) for part in sorted(other, key=part_order))
        echo(f"{n_other} recording(s) in {out_dir} were annotated with a different {what}: annotating them again")
    if retried:
        echo(f"{len(retried)} recording(s) failed in an earlier run (e.g. {retried[0]}): trying them again")
    if resampled:
        rates = ", ".join(f"{n} at {rate} Hz" for rate, n in sorted(resampled.items()))
        echo(
            f"{rates.replace(' at', ' recording(s) at', 1)} resampled to {annotator.model_samplerate} Hz ({resampler()})"
        )
    work = []
    for audio, outputs, record, ours in todo:
        try:
            duration = (infos.get(audio) or audio_info(audio)).duration_s
        except RecordingError as e:
            echo(_line({"ok": False, "audio": str(audio), "error": str(e)}))
            record_failure(record, outputs, ours, str(e), recording_about(about, audio))
            failed += 1
            continue
        for path in (*outputs.values(), record):  # a killed run's half-written files: never under a final name
            remove_stale_temporaries(path)
        work.append(
            (
                str(audio.resolve()),
                {k: str(v.resolve()) for k, v in outputs.items()},
                str(record.resolve()),
                ours,
                duration,
            )
        )
    # audio (in h, min or s, as long as it is), as exact as the durations: the bar ends at its total, never
    # past it (it showed 101 %, with tqdm's warning "clamping frac to range [0, 1]")
    total_s = sum(item[-1] for item in work)
    scale, unit = (3600, "h") if total_s >= 3600 else (60, "min") if total_s >= 60 else (1, "s")
    total = total_s / scale
    bar = tqdm(
        total=total, desc="annotate", disable=not work, leave=False,
        bar_format=f"{{desc}}: {{percentage:3.0f}}%|{{bar}}| {{n:.1f}}/{{total:.1f}} {unit} audio "
        "[{elapsed}<{remaining}]",
    )  # fmt: skip
    progress = {"audio": 0.0, "reported": 0}

    profile = pipeline.Profile()

    def report(result: dict, duration: float) -> None:
        nonlocal done, failed
        done, failed = done + result["ok"], failed + (not result["ok"])
        echo(_line(result))
        progress["audio"] += duration / scale
        progress["reported"] += 1
        bar.update((total if progress["reported"] == len(work) else min(progress["audio"], total)) - bar.n)
        if result.get("profile"):
            seconds = dict(result["profile"])
            one = pipeline.Profile()
            one.audio_seconds, one.wall_seconds = seconds.pop("audio_seconds"), seconds.pop("wall_seconds")
            one.seconds.update(seconds)
            profile.merge(one)

    def submit(client, audio, outputs, record, ours):
        task = (task_source, audio, outputs, options, samplerate, record, ours, about)
        return client.submit(annotate_task, *task, pure=False)

    try:
        if workers is None and scheduler is None:
            for audio, outputs, record, ours, duration in work:
                result = annotate_task(task_source, audio, outputs, options, samplerate, record, ours, about)
                report(result, duration)
        elif work:
            _annotate_on_dask(work, submit, report, workers, scheduler)
    finally:
        bar.close()
    echo(f"{done} annotated, {failed} failed" + (f", {skipped} skipped (already annotated)" if skipped else ""))
    if options.profile and profile.audio_seconds:
        echo(profile.table())
    return done, failed, skipped


def _annotate_on_dask(work, submit, report, workers: int | None, scheduler: str | None) -> None:
    from dask.distributed import Client, LocalCluster

    level = logging.getLogger("distributed").level
    cluster = client = None
    try:
        if scheduler:
            client = connect_scheduler(scheduler)
        else:
            with terminal_interrupts_ignored():  # Ctrl-C reaches this process alone; it stops the workers
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
            client = Client(cluster)
        _on_dask(client, work, submit, report, remote=bool(scheduler))
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        logging.getLogger("distributed").setLevel(level)
