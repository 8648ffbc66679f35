"""Annotate recordings of any length with a trained model, in bounded memory.

``vak-tcn annotate CONFIG AUDIO...`` (docs/annotate.md).  CONFIG is a stock vak *predict*
config, read by vak's own parser: the checkpoint, labelmap and frames standardizer, the
``[vak.prep.spect_params]``, the model table, ``majority_vote`` and ``min_segment_dur``.  The
clean-up (:func:`choose_cleanup`), as ``vak predict`` applies it to vak-tcn models: the settings
tuned on validation data and stored beside the checkpoint (``postprocess.json``, with gap filling),
then the config's ``majority_vote``/``min_segment_dur`` (vak's defaults for keys it leaves out).
For each recording:

audio blocks -> :class:`~vak_tcn.inference.spectrogram.StreamingSpectrogram` (vak's
spectrogram) -> the saved standardizer -> the network in chunks with enough context
(:class:`~vak_tcn.inference.chunked.ChunkedInference`) -> argmax -> vak's post-processing and
segments (:class:`~vak_tcn.inference.segments.SegmentStream`) -> one crowsetta annotation file
(and, on request, per-frame class probabilities in a compressed ``.npz``).

Every output is written to a temporary name in its directory and renamed, the annotation
last, so a finished annotation marks a finished recording and a rerun skips it.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import pathlib
import time
import zipfile
from collections.abc import Iterator

import numpy as np

from ..models import postprocess
from ..nn.precision import check_precision, with_precision
from ..plugins import vak_compat
from . import chunked, segments, spectrogram

__all__ = [
    "ANNOT_FORMATS",
    "Annotator",
    "Options",
    "RecordingError",
    "Result",
    "audio_info",
    "choose_cleanup",
    "find_audio",
    "output_paths",
]

#: crowsetta formats written, and the suffix added to the audio file's name
ANNOT_FORMATS = {"generic-seq": ".annot.csv", "simple-seq": ".csv", "aud-seq": ".txt"}
PROBABILITIES_SUFFIX = ".probabilities.npz"
#: the columns crowsetta writes for generic-seq (an empty annotation is this header alone)
GENERIC_SEQ_COLUMNS = ["label", "onset_s", "offset_s", "notated_path", "annot_path", "sequence", "annotation"]


class RecordingError(ValueError):
    """A recording that cannot be annotated (unreadable, wrong sample rate, NaN samples, ...)."""


@dataclasses.dataclass(frozen=True)
class Options:
    """What ``vak-tcn annotate`` does with each recording."""

    annot_format: str = "generic-seq"
    probabilities: bool = False
    post_processing: bool = True  # False: no clean-up at all (--no-post-processing)
    cleanup: str | None = None  # auto | tuned | config | none; None: see cleanup_mode
    channel: int | None = None
    chunk_seconds: float = 60.0
    samplerate: int | None = None  # required sample rate (else each file's own, checked against the model)
    threads: int | None = None  # torch's intra-op threads in each process (None: torch's default)
    precision: str = "32"  # "32" or "bf16" (vak_tcn.nn.precision)


@dataclasses.dataclass
class Result:
    audio: str
    duration_s: float
    n_segments: int
    seconds: float
    annotation: str

    @property
    def x_real_time(self) -> float:
        return self.duration_s / self.seconds if self.seconds > 0 else float("inf")


# ---------------------------------------------------------------- files
def find_audio(inputs: list[pathlib.Path], recursive: bool = False) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``(audio file, path relative to the output directory)`` for files and directories given.

    Directories are searched for every audio format vak reads (recursively with
    ``recursive``); files inside a directory keep their sub-path below it.
    """
    extensions = {f".{fmt}" for fmt in vak_compat.audio_formats()}
    found = []
    for item in inputs:
        item = pathlib.Path(item)
        if item.is_dir():
            pattern = "**/*" if recursive else "*"
            for path in sorted(item.glob(pattern)):
                if path.is_file() and path.suffix.lower() in extensions:
                    found.append((path, path.relative_to(item)))
        elif item.exists():
            found.append((item, pathlib.Path(item.name)))
        else:
            raise FileNotFoundError(f"audio file or directory not found: {item}")
    return found


def output_paths(relative: pathlib.Path, out_dir: pathlib.Path, options: Options) -> dict[str, pathlib.Path]:
    base = pathlib.Path(out_dir) / relative
    paths = {"annotation": base.with_name(base.name + ANNOT_FORMATS[options.annot_format])}
    if options.probabilities:
        paths["probabilities"] = base.with_name(base.name + PROBABILITIES_SUFFIX)
    return paths


def _temporary(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _remove_stale_temporaries(path: pathlib.Path) -> None:
    """Delete what a killed run left of ``path`` (``.NAME.PID.tmp`` of a process no longer running on
    this machine); a run still writing it keeps its file."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    samplerate: int
    n_samples: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.samplerate


def audio_info(path: pathlib.Path) -> AudioInfo:
    """Sample rate, length and channels from the file's header (nothing else is read)."""
    path = pathlib.Path(path)
    try:
        if path.suffix.lower() == ".cbin":
            data, rate = vak_compat.audio_formats()["cbin"](path)
            data = np.asarray(data)
            return AudioInfo(int(rate), data.shape[0], 1 if data.ndim == 1 else data.shape[1])
        import soundfile

        info = soundfile.info(str(path))
        return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))
    except Exception as e:
        raise RecordingError(f"cannot read audio: {type(e).__name__}: {e}".strip()) from e


def _block_reader(path: pathlib.Path, info: AudioInfo, channel: int | None):
    """``read_blocks(n)`` for :class:`StreamingSpectrogram`: one channel, float64 as vak reads it."""
    if info.channels > 1 and channel is None:
        raise RecordingError(f"{info.channels} channels: choose one with --channel")
    if info.channels > 1 and not 0 <= channel < info.channels:
        raise RecordingError(f"--channel {channel} out of range for {info.channels} channels")

    def pick(block: np.ndarray, start: int) -> np.ndarray:
        if block.ndim == 2:
            block = block[:, channel or 0]
        if not np.all(np.isfinite(block)):
            bad = start + int(np.nonzero(~np.isfinite(block))[0][0])
            raise RecordingError(f"non-finite sample (NaN or inf) at sample {bad} ({bad / info.samplerate:.3f} s)")
        return block

    if path.suffix.lower() == ".cbin":  # evfuncs reads whole files; cbin files are short

        def read_blocks(n: int) -> Iterator[np.ndarray]:
            data = np.asarray(vak_compat.audio_formats()["cbin"](path)[0])
            for start in range(0, data.shape[0], n):
                yield pick(data[start : start + n], start)

        return read_blocks

    import soundfile

    def read_blocks(n: int) -> Iterator[np.ndarray]:
        try:
            with soundfile.SoundFile(str(path)) as f:
                start = 0
                while True:
                    block = f.read(n, dtype="float64", always_2d=False)
                    if len(block) == 0:
                        break
                    yield pick(block, start)
                    start += len(block)
        except RecordingError:
            raise
        except Exception as e:
            raise RecordingError(f"cannot read audio: {type(e).__name__}: {e}") from e

    return read_blocks


# ---------------------------------------------------------------- writers
def write_annotation(path: pathlib.Path, fmt: str, audio: pathlib.Path, labels, onsets_s, offsets_s) -> None:
    """One crowsetta annotation file, written to a temporary name and renamed."""
    import crowsetta

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    labels = np.asarray(labels).astype(str)
    onsets_s, offsets_s = np.asarray(onsets_s, dtype=float), np.asarray(offsets_s, dtype=float)
    try:
        if fmt == "generic-seq":
            if len(labels) == 0:  # crowsetta cannot write an empty sequence: its header alone
                tmp.write_text(",".join(GENERIC_SEQ_COLUMNS) + "\n")
            else:
                seq = crowsetta.Sequence.from_keyword(labels=labels, onsets_s=onsets_s, offsets_s=offsets_s)
                annot = crowsetta.Annotation(seq=seq, notated_path=audio, annot_path=path)
                crowsetta.formats.seq.GenericSeq(annots=[annot]).to_file(tmp)
        elif fmt == "simple-seq":
            crowsetta.formats.seq.SimpleSeq(
                onsets_s=onsets_s, offsets_s=offsets_s, labels=labels, annot_path=path, notated_path=audio
            ).to_file(tmp)
        elif fmt == "aud-seq":
            crowsetta.formats.seq.AudSeq(
                start_times=onsets_s, end_times=offsets_s, labels=labels, annot_path=path, notated_path=audio
            ).to_file(tmp)
        else:  # pragma: no cover - checked by Options' users
            raise ValueError(f"annotation format {fmt!r} not one of {sorted(ANNOT_FORMATS)}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ProbabilityWriter:
    """Per-frame class probabilities ``(classes, frames)`` into a compressed ``.npz``, chunk by chunk.

    The array is stored Fortran-ordered, so frames are written as they come; ``np.load`` reads
    it as any ``.npz``: ``probabilities`` (float32), ``frame_times`` (s) and ``labels``.
    """

    def __init__(self, path: pathlib.Path, n_classes: int, n_frames: int, frame_times, labels: list[str]):
        self.path, self.tmp = path, _temporary(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.zip = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        with self.zip.open("labels.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.asarray(labels, dtype=str), allow_pickle=False)
        with self.zip.open("frame_times.npy", "w", force_zip64=True) as f:  # frame_times(start, stop), in blocks
            np.lib.format.write_array_header_2_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n_frames,)})
            for start in range(0, n_frames, 2**20):
                f.write(np.asarray(frame_times(start, min(n_frames, start + 2**20)), dtype="<f8").tobytes())
        self.n_frames, self.written = n_frames, 0
        self.stream = self.zip.open("probabilities.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": True}
        header["shape"] = (int(n_classes), self.n_frames)
        np.lib.format.write_array_header_2_0(self.stream, header)

    def write(self, probabilities: np.ndarray) -> None:
        self.stream.write(np.ascontiguousarray(probabilities.T, dtype=np.float32).tobytes())
        self.written += probabilities.shape[1]

    def close(self) -> None:
        self.stream.close()
        self.zip.close()
        if self.written != self.n_frames:
            self.abort()
            raise RuntimeError(f"wrote {self.written} of {self.n_frames} frames of probabilities")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.stream.close()
            self.zip.close()
        except Exception:
            pass
        self.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- clean-up
CLEANUP_CHOICES = postprocess.MODES


def cleanup_mode(options: Options, model_config: dict) -> tuple[str, str]:
    """The clean-up mode and where it was set: ``--post-processing`` (``--no-post-processing``: none),
    else ``VAK_TCN_POST_PROCESSING``, else the network table's ``post_processing``, else ``auto``."""
    if not options.post_processing:
        return "none", "--no-post-processing"
    if options.cleanup is not None:
        return postprocess.check_mode(options.cleanup, "--post-processing"), "--post-processing"
    from_env = postprocess.mode_from_env()
    if from_env is not None:
        return from_env, postprocess.MODE_ENV
    table = (model_config.get("network") or {}).get(postprocess.MODE_KEY)
    if table is not None:
        return postprocess.check_mode(table, f"network parameter '{postprocess.MODE_KEY}'"), "the network table"
    return "auto", "default"


def choose_cleanup(config_path: pathlib.Path, predict, options: Options) -> tuple[postprocess.Settings, str]:
    """The clean-up to apply and a line saying where it comes from: what ``vak predict`` does with
    the same config (docs/postprocessing.md).

    ``auto``: ``postprocess.json`` beside the checkpoint (tuned after training, or by
    ``vak-tcn tune``) when there is one, followed by the config's ``majority_vote`` and
    ``min_segment_dur`` (vak's defaults for keys it leaves out), as vak predict applies them
    after the model (:func:`postprocess.then`); else the config's alone.  ``tuned``: the same, an
    error without the file.  ``config``: the config's alone.  ``none``: no clean-up at all.
    """
    mode, set_by = cleanup_mode(options, predict.model.asdict() if hasattr(predict.model, "asdict") else {})
    if mode == "none":
        return postprocess.Settings(), f"none ({set_by})"
    import tomllib

    with open(config_path, "rb") as fh:
        table = tomllib.load(fh).get("vak", {}).get("predict", {})
    explicit = [key for key in ("majority_vote", "min_segment_dur") if key in table]
    from_config = postprocess.Settings(
        min_segment_dur=float(predict.min_segment_dur or 0.0), majority_vote=bool(predict.majority_vote)
    )
    config_source = (
        f"the config's ({', '.join(explicit)} in [vak.predict] of {config_path})" if explicit else "vak's defaults"
    )
    tuned = postprocess.stored_settings(predict.checkpoint_path, mode, set_by)
    if tuned is not None:
        return postprocess.then(tuned[0], from_config), f"tuned ({tuned[1]}), then {config_source}"
    if mode == "auto":
        return from_config, f"{config_source} (no {postprocess.FILENAME} beside the checkpoint)"
    return from_config, f"{config_source} ({mode} mode, set by {set_by})"


# ---------------------------------------------------------------- the annotator
class Annotator:
    """A trained model, loaded once, that annotates recordings one after the other.

    Parameters
    ----------
    config_path : path
        A stock vak predict config.
    options : Options
    samplerate : int, optional
        The sample rate every recording must have; without it, each recording's own rate is
        accepted if it gives the model's number of frequency bins.
    """

    def __init__(self, config_path: pathlib.Path, options: Options = Options(), samplerate: int | None = None):
        import torch

        from ..nn.tcn import inference_copy

        if options.annot_format not in ANNOT_FORMATS:
            raise ValueError(
                f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}"
            )
        self.options, self.samplerate = options, samplerate
        self.precision = check_precision(options.precision, "--precision")
        if options.threads:
            torch.set_num_threads(options.threads)
        config_path = pathlib.Path(config_path)
        if not config_path.exists():
            raise FileNotFoundError(f"config file not found: {config_path}")
        cfg = vak_compat.load_config(config_path, unprepped_ok=True)
        if cfg.predict is None:
            raise ValueError(f"{config_path} has no [vak.predict] table: annotate takes a vak predict config")
        predict = cfg.predict
        self.spect_params = spectrogram.SpectParams.from_vak(cfg.prep.spect_params if cfg.prep else {})
        for key in ("checkpoint_path", "labelmap_path", "frames_standardizer_path"):
            path = getattr(predict, key)
            if path is not None and not pathlib.Path(path).is_file():
                raise FileNotFoundError(f"[vak.predict] {key}: file not found: {path}")
        self.labelmap = json.loads(pathlib.Path(predict.labelmap_path).read_text())
        self.standardizer = (
            vak_compat.load_frames_standardizer(predict.frames_standardizer_path)
            if predict.frames_standardizer_path
            else None
        )
        self.n_freqbins = len(self.standardizer.mean_freqs) if self.standardizer is not None else None
        self.model_config = predict.model.asdict()
        self.window_size = int(predict.dataset.params.get("window_size", 1) or 1)
        self.checkpoint_path = predict.checkpoint_path
        self.cleanup, self.cleanup_source = choose_cleanup(config_path, predict, options)
        self.majority_vote = self.cleanup.majority_vote
        self.min_segment_dur = self.cleanup.min_segment_dur or None
        self.min_gap_dur = self.cleanup.min_gap_dur or None
        accelerator = getattr(predict.trainer, "accelerator", "cpu")
        self.device = "cuda" if accelerator == "gpu" and torch.cuda.is_available() else "cpu"
        self._inference_copy = inference_copy
        self.net = None
        if self.n_freqbins is not None:
            self._load_network(self.n_freqbins)

    def _load_network(self, n_freqbins: int) -> None:
        model = vak_compat.load_model(
            self.model_config, self.labelmap, (1, n_freqbins, self.window_size), self.checkpoint_path
        )
        self.net = with_precision(self._inference_copy(model.network).to(self.device), self.precision, self.device)
        self.n_freqbins = n_freqbins
        self.left, self.right, self.exact = chunked.context_of(self.net)

    def prepare(self, samplerate: int) -> None:
        """Load the network for audio at ``samplerate``; :class:`RecordingError` if the config's
        spect_params give it another number of frequency bins than the model takes."""
        freqbins = self.spect_params.freqbins(samplerate)
        if self.n_freqbins is not None and len(freqbins) != self.n_freqbins:
            raise RecordingError(
                f"sample rate {samplerate} Hz gives {len(freqbins)} frequency bins with the config's "
                f"spect_params; the model takes {self.n_freqbins} (wrong sample rate for this model?)"
            )
        if self.net is None:
            self._load_network(len(freqbins))

    def annotate(self, audio: pathlib.Path, outputs: dict[str, pathlib.Path]) -> Result:
        """Annotate one recording; write its outputs; raise :class:`RecordingError` if it is bad."""
        t0 = time.perf_counter()
        audio = pathlib.Path(audio)
        info = audio_info(audio)
        if self.samplerate is not None and info.samplerate != self.samplerate:
            raise RecordingError(f"sample rate {info.samplerate} Hz, expected {self.samplerate} Hz")
        params = self.spect_params
        self.prepare(info.samplerate)
        spect = spectrogram.StreamingSpectrogram(
            _block_reader(audio, info, self.options.channel), info.n_samples, info.samplerate, params
        )
        n = spect.n_frames
        times = spect.frame_times
        _, _, timebin_dur_from_vec = vak_compat.frame_labels_functions()
        frame_dur = float(timebin_dur_from_vec(times(0, min(n, 1000)))) if n >= 2 else float("nan")
        stream = segments.SegmentStream(
            self.labelmap, times, frame_dur, self.majority_vote, self.min_segment_dur, min_gap_dur=self.min_gap_dur
        )
        writer = None
        if "probabilities" in outputs:
            names = [k for k, _ in sorted(self.labelmap.items(), key=lambda kv: kv[1])]
            writer = ProbabilityWriter(outputs["probabilities"], len(self.labelmap), n, times, names)
        try:
            silent = n == 0 or (params.transform_type == "log_spect" and spect.max_power() == 0.0)
            if silent:  # no frame, or digital silence (vak's log_spect would be 0/0): no segments
                if writer is not None:
                    probs = np.zeros((len(self.labelmap), n), dtype=np.float32)
                    probs[stream.background] = 1.0
                    writer.write(probs)
            else:
                self._run(spect, n, stream, writer)
            if writer is not None:
                writer.close()
                writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        labels, onsets_s, offsets_s = stream.finish()
        write_annotation(outputs["annotation"], self.options.annot_format, audio, labels, onsets_s, offsets_s)
        return Result(str(audio), info.duration_s, len(labels), time.perf_counter() - t0, str(outputs["annotation"]))

    def _run(self, spect, n: int, stream: segments.SegmentStream, writer: ProbabilityWriter | None) -> None:
        import torch

        chunk = max(1, int(round(self.options.chunk_seconds * spect.samplerate / self.spect_params.step_size)))
        runner = chunked.ChunkedInference(self.net, n, chunk, self.left, self.right, self.device)

        def emit(results):
            for _, logits in results:
                stream.feed(logits.argmax(axis=0))
                if writer is not None:
                    writer.write(torch.softmax(torch.from_numpy(logits), dim=0).numpy())

        for _, block in spect.blocks():
            if self.standardizer is not None:
                block = self.standardizer(block)
            emit(runner.feed(block))
        emit(runner.finish())


# ---------------------------------------------------------------- one task (local or on a dask worker)
_ANNOTATORS: dict = {}


def annotate_task(config_path: str, audio: str, outputs: dict, options: Options, samplerate: int | None) -> dict:
    """Annotate one recording in this process (a dask task); the model is loaded once per process.

    Returns ``{"ok": True, **Result}`` or ``{"ok": False, "audio": ..., "error": ...}``.
    """
    key = (str(config_path), options, samplerate)
    if key not in _ANNOTATORS:
        _ANNOTATORS.clear()
        _ANNOTATORS[key] = Annotator(pathlib.Path(config_path), options, samplerate)
    try:
        result = _ANNOTATORS[key].annotate(pathlib.Path(audio), {k: pathlib.Path(v) for k, v in outputs.items()})
    except RecordingError as e:
        return {"ok": False, "audio": audio, "error": str(e)}
    except Exception as e:  # anything else about this one file: name it, go on with the others
        return {"ok": False, "audio": audio, "error": f"{type(e).__name__}: {e}"}
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


def annotate_all(
    config_path: pathlib.Path,
    inputs: list[pathlib.Path],
    out_dir: pathlib.Path | None = None,
    options: Options = Options(),
    recursive: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    samplerate: int | None = None,
    echo=None,
) -> tuple[int, int, int]:
    """Annotate every recording found in ``inputs``; returns ``(annotated, failed, skipped)``.

    Recordings whose outputs exist are skipped (resume).  In this process by default, on a local
    dask.distributed cluster of ``workers`` processes, or on the cluster at ``scheduler``
    (one task per recording).  ``echo`` (default: print above the progress bar) gets one line
    per recording and the summary.
    """
    from tqdm import tqdm

    echo = echo or tqdm.write

    config_path = pathlib.Path(config_path).resolve()
    if out_dir is None:  # the config's output_dir, else the working directory
        cfg = vak_compat.load_config(config_path, unprepped_ok=True)
        configured = getattr(cfg.predict, "output_dir", None) if cfg.predict is not None else None
        out_dir = pathlib.Path(configured) if configured else pathlib.Path.cwd()
    out_dir = pathlib.Path(out_dir)
    if options.annot_format not in ANNOT_FORMATS:
        raise ValueError(f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}")
    if options.chunk_seconds <= 0:
        raise ValueError(f"--chunk-seconds must be > 0, got {options.chunk_seconds}")
    # the config, checkpoint, labelmap and standardizer are checked here, before any work
    _ANNOTATORS.clear()
    annotator = _ANNOTATORS[(str(config_path), options, samplerate)] = Annotator(config_path, options, samplerate)
    echo(f"clean-up: {annotator.cleanup.describe()}; from {annotator.cleanup_source}")
    todo, skipped, failed, done = [], 0, 0, 0
    for audio, relative in find_audio(inputs, recursive):
        outputs = output_paths(relative, out_dir, options)
        if all(p.exists() for p in outputs.values()):
            skipped += 1
            continue
        try:
            duration = audio_info(audio).duration_s
        except RecordingError as e:
            echo(_line({"ok": False, "audio": str(audio), "error": str(e)}))
            failed += 1
            continue
        for path in outputs.values():  # a killed run's half-written files: never under a final name, removed now
            _remove_stale_temporaries(path)
        todo.append((str(audio.resolve()), {k: str(v.resolve()) for k, v in outputs.items()}, duration))
    if skipped:
        echo(f"{skipped} recording(s) already annotated in {out_dir}: skipped")
    total_h = sum(d for *_, d in todo) / 3600
    bar = tqdm(total=round(total_h, 4), unit="h audio", desc="annotate", disable=not todo, leave=False)

    def report(result: dict, duration: float) -> None:
        nonlocal done, failed
        done, failed = done + result["ok"], failed + (not result["ok"])
        echo(_line(result))
        bar.update(round(duration / 3600, 4))

    if workers is None and scheduler is None:
        for audio, outputs, duration in todo:
            report(annotate_task(str(config_path), audio, outputs, options, samplerate), duration)
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        with Client(scheduler or cluster) as client:
            futures = {
                client.submit(annotate_task, str(config_path), audio, outputs, options, samplerate, pure=False): d
                for audio, outputs, d in todo
            }
            for future in as_completed(futures):
                report(future.result(), futures[future])
        if cluster is not None:
            cluster.close()
    bar.close()
    echo(f"{done} annotated, {failed} failed" + (f", {skipped} skipped (already annotated)" if skipped else ""))
    return done, failed, skipped
