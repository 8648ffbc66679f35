"""The one runtime of a trained model: :class:`Annotator`.

For each recording: audio blocks (:func:`~vak_tcn.audio.read.block_reader`) -> vak's spectrogram
(:class:`~vak_tcn.inference.spectrogram.Float32Spectrogram`, one pass in float32; with ``--exact``
:class:`~vak_tcn.inference.spectrogram.StreamingSpectrogram`, vak's float64 arithmetic, two passes) ->
the saved standardizer -> the network in chunks with enough context
(:class:`~vak_tcn.inference.chunked.ChunkedInference`) -> argmax -> vak's post-processing and
segments (:class:`~vak_tcn.inference.segments.SegmentStream`) -> one crowsetta annotation file
(and, on request, per-frame class probabilities in a compressed ``.npz``).  The stages overlap in
threads (:mod:`vak_tcn.inference.pipeline`): reading and filtering, the blocks' FFTs on a pool, the
network, and the segments and probabilities.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time

import numpy as np

from ..audio import resample
from ..audio.annotations import ANNOT_FORMATS, ProbabilityWriter, raven_band, warm_up_writer, write_annotation
from ..audio.read import RecordingError, audio_info, block_reader
from ..models import cleanup
from ..models.trained import TrainedModel
from ..nn.precision import check_precision, with_precision
from . import chunked, pipeline, segments, spectrogram
from .options import Options, resolved
from .records import as_json, sha256_of

__all__ = ["Annotator", "Result", "cleanup_request", "model_samplerate"]


@dataclasses.dataclass
class Result:
    audio: str
    duration_s: float
    n_segments: int
    seconds: float
    annotation: str
    #: seconds per stage (``Options.profile``; :class:`~vak_tcn.inference.pipeline.Profile`)
    profile: dict | None = None


# ---------------------------------------------------------------- clean-up
def cleanup_request(options: Options) -> cleanup.Request:
    """The clean-up the options ask for: ``--post-processing``, or off (``--no-post-processing``)."""
    return cleanup.Request(cli=options.cleanup, off_by=None if options.post_processing else "--no-post-processing")


# ---------------------------------------------------------------- the model's sample rate
def model_samplerate(model: TrainedModel, given: int | None) -> int | None:
    """The rate recordings are resampled to: the model's (:attr:`TrainedModel.samplerate
    <vak_tcn.models.trained.TrainedModel.samplerate>`), else ``given`` (``--model-samplerate``), else None
    (each recording's own rate, if it gives the frequency bins the model takes).  ValueError, in one line,
    when ``given`` contradicts the rate the model records."""
    if given is not None and model.samplerate is not None and int(given) != model.samplerate:
        raise ValueError(
            f"--model-samplerate {given}: the model was trained at {model.samplerate} Hz "
            f"({model.samplerate_source}); leave the option out"
        )
    return model.samplerate or (int(given) if given is not None else None)


# ---------------------------------------------------------------- the annotator
class Annotator:
    """The one runtime of a trained model: a :class:`~vak_tcn.models.trained.TrainedModel`, its network
    loaded once, that annotates recordings one after the other (:meth:`annotate`; frame labels under
    another clean-up: :func:`~vak_tcn.inference.segments.of_frame_labels`).  ``vak-tcn annotate``,
    ``vak-tcn report``, the Python API (:mod:`vak_tcn.api`) and the benchmarks run a model through it.

    Parameters
    ----------
    model : TrainedModel or path
        The trained model, or a stock vak predict config to load it from (with the clean-up the
        options ask for: :func:`cleanup_request`).
    options : Options
    samplerate : int, optional
        The sample rate every recording must have; without it, each recording's own rate is
        accepted if it gives the model's number of frequency bins.
    """

    def __init__(
        self, model: TrainedModel | str | pathlib.Path, options: Options = Options(), samplerate: int | None = None
    ):
        import torch

        if options.annot_format not in ANNOT_FORMATS:
            raise ValueError(
                f"--annot-format {options.annot_format!r}: vak-tcn writes {', '.join(sorted(ANNOT_FORMATS))}"
            )
        options = resolved(options)
        self.options, self.samplerate = options, samplerate
        self.precision = check_precision(options.precision, "--precision")
        if options.threads:
            torch.set_num_threads(options.threads)
        from scipy import fft, signal  # noqa: F401  (every recording's filter and FFTs: imported once, here)

        if not isinstance(model, TrainedModel):
            model = TrainedModel.from_predict_config(model, cleanup_request(options))
        #: the trained model: everything the annotator knows of it is read from here
        self.model = model
        #: the rate recordings at other rates are resampled to (the model's, else ``--model-samplerate``)
        self.model_samplerate = model_samplerate(model, options.model_samplerate)
        accelerator = getattr(model.table, "trainer", None)
        accelerator = getattr(accelerator, "accelerator", "cpu") if accelerator is not None else "cpu"
        self.device = "cuda" if accelerator == "gpu" and torch.cuda.is_available() else "cpu"
        self.net = None
        self._pool = None
        if model.n_freqbins is not None:
            self._load_network(model.n_freqbins)

    # the model's, by the names annotate's callers have always used (read through, never copied)
    labelmap = property(lambda self: self.model.labelmap)
    spect_params = property(lambda self: self.model.spect_params)
    standardizer = property(lambda self: self.model.standardizer)
    model_config = property(lambda self: self.model.model_config)
    checkpoint_path = property(lambda self: self.model.checkpoint)
    n_freqbins = property(lambda self: self.model.n_freqbins)
    cleanup = property(lambda self: self.model.cleanup)
    cleanup_source = property(lambda self: self.model.cleanup_source)
    majority_vote = property(lambda self: self.model.cleanup.majority_vote)
    min_segment_dur = property(lambda self: self.model.cleanup.min_segment_dur or None)
    min_gap_dur = property(lambda self: self.model.cleanup.min_gap_dur or None)

    @property
    def pool(self):
        """Threads for the blocks' FFTs, transforms and standardization, made once: as many as torch's
        (``--threads``; one per worker process with ``--workers``), else one per core."""
        if self._pool is None:
            import weakref
            from concurrent.futures import ThreadPoolExecutor

            workers = self.options.threads or pipeline.cpu_count()
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="vak-tcn-fft")
            weakref.finalize(self, self._pool.shutdown, wait=False)  # its threads end with the annotator
        return self._pool

    def _load_network(self, n_freqbins: int) -> None:
        net = self.model.load_network(n_freqbins)
        self.net = with_precision(net.to(self.device), self.precision, self.device)
        self.left, self.right, self.exact_context = chunked.context_of(self.net)

    def made_with(self) -> dict:
        """What makes this annotator's outputs what they are, by content: a record's ``made_with``
        (:func:`~vak_tcn.inference.records.resume_state`).  Hashes the checkpoint and the standardizer (once per run)."""
        standardizer = self.model.standardizer_path
        return as_json(
            {
                "checkpoint": {"sha256": sha256_of(self.checkpoint_path)},
                "labelmap": self.labelmap,
                "frames_standardizer": {"sha256": sha256_of(standardizer)} if standardizer else None,
                "model": {"name": self.model_config.get("name"), "network": self.model_config.get("network") or {}},
                "spect_params": dataclasses.asdict(self.spect_params),
                "clean_up": self.cleanup.asdict(),
                "precision": self.precision,
                # float32 (the default) is named; --exact is what every record before it was made with
                **({} if self.options.exact else {"spectrogram": "float32"}),
                "channel": self.options.channel,
            }
        )

    def rate_for(self, samplerate: int) -> int:
        """The rate the model sees audio at ``samplerate`` at: the model's (resampled to it), where known
        (:func:`model_samplerate`); else its own."""
        return self.model_samplerate or samplerate

    def resampling(self, samplerate: int) -> dict | None:
        """How audio at ``samplerate`` is resampled (a record's ``made_with["resampled"]``); None: it is not."""
        rate = self.rate_for(samplerate)
        if rate == samplerate:
            return None
        return {"from": int(samplerate), "to": int(rate), "by": f"{resample.RESAMPLER} {resample.QUALITY}"}

    def prepare(self, samplerate: int) -> None:
        """Load the network for audio at ``samplerate`` (resampled to the model's rate, where known);
        :class:`RecordingError` if the config's spect_params give it another number of frequency bins than
        the model takes."""
        if self.model_samplerate is None:
            hint = (
                "; name the rate the model was trained at with --model-samplerate HZ (recordings are resampled to it)"
            )
        else:
            source = self.model.samplerate_source if self.model.samplerate else "--model-samplerate"
            hint = f" (the model's rate {self.model_samplerate} Hz: {source})"
        try:
            n_freqbins = self.model.check_samplerate(self.rate_for(samplerate), hint)
        except ValueError as e:
            raise RecordingError(str(e)) from None
        if self.net is None:
            self._load_network(n_freqbins)

    def annotate(self, audio: pathlib.Path, outputs: dict[str, pathlib.Path]) -> Result:
        """Annotate one recording; write its outputs; raise :class:`RecordingError` if it is bad."""
        t0 = time.perf_counter()
        audio = pathlib.Path(audio)
        info = audio_info(audio)
        if self.samplerate is not None and info.samplerate != self.samplerate:
            raise RecordingError(f"sample rate {info.samplerate} Hz, expected {self.samplerate} Hz")
        params = self.spect_params
        self.prepare(info.samplerate)
        warm_up_writer()
        profile = pipeline.Profile()
        kind = spectrogram.StreamingSpectrogram if self.options.exact else spectrogram.Float32Spectrogram
        reader = block_reader(audio, info, self.options.channel)
        rate, n_samples = self.rate_for(info.samplerate), info.n_samples
        if rate != info.samplerate:  # the model's rate: its frames' times stay in seconds of the recording
            reader = resample.resampled_reader(reader, info.n_samples, info.samplerate, rate)
            n_samples = resample.resampled_length(info.n_samples, info.samplerate, rate)
        spect = kind(reader, n_samples, rate, params, profile=profile)
        n = spect.n_frames
        times = spect.frame_times
        stream = segments.stream_for(self.labelmap, times, n, self.cleanup)
        writer = None
        if "probabilities" in outputs:
            names = [k for k, _ in sorted(self.labelmap.items(), key=lambda kv: kv[1])]
            writer = ProbabilityWriter(outputs["probabilities"], len(self.labelmap), n, times, names)
        try:
            # log_spect: the whole recording's maximum power first (float32: the one pass, its work kept)
            with profile("spectrogram pass"):
                peak = spect.prepare(self.pool, self.standardizer) if n else None
            if n == 0 or (params.transform_type == "log_spect" and peak == 0.0):
                # no frame, or digital silence (vak's log_spect would be 0/0): no segments
                if writer is not None:
                    probs = np.zeros((len(self.labelmap), n), dtype=np.float32)
                    probs[stream.background] = 1.0
                    writer.write(probs, np.full(n, stream.background))
            else:
                with profile("network pass"):
                    self._run(spect, n, stream, writer, profile)
            if writer is not None:
                with profile("write"):
                    writer.close()
                writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        finally:
            if isinstance(spect, spectrogram.Float32Spectrogram):
                spect.close()
        with profile("clean-up"):
            labels, onsets_s, offsets_s = stream.finish()
        with profile("write"):
            write_annotation(
                outputs["annotation"], self.options.annot_format, audio, labels, onsets_s, offsets_s,
                duration_s=info.duration_s, band_hz=raven_band(info.samplerate, params.freq_cutoffs),
                channel=self.options.channel,
            )  # fmt: skip
        seconds = time.perf_counter() - t0
        profile.audio_seconds, profile.wall_seconds = info.duration_s, seconds
        about = dict(profile.seconds, audio_seconds=profile.audio_seconds, wall_seconds=seconds)
        return Result(
            str(audio), info.duration_s, len(labels), seconds, str(outputs["annotation"]),
            profile=about if self.options.profile else None,
        )  # fmt: skip

    def _run(self, spect, n: int, stream: segments.SegmentStream, writer, profile: pipeline.Profile) -> None:
        """The network over the spectrogram's blocks (here), in chunks; the segments and probabilities of
        each chunk in another thread, while the network computes the next."""
        import torch

        chunk = max(1, int(round(self.options.chunk_seconds * spect.samplerate / self.spect_params.step_size)))
        runner = chunked.ChunkedInference(self.net, n, chunk, self.left, self.right, self.device)

        def consume(logits: np.ndarray) -> None:
            with profile("clean-up"):
                labels = logits.argmax(axis=0)
                stream.feed(labels)
                probabilities = torch.softmax(torch.from_numpy(logits), dim=0).numpy() if writer is not None else None
            if writer is not None:
                with profile("write"):
                    writer.write(probabilities, labels)

        with pipeline.Consumer(consume) as sink:
            blocks = spect.network_blocks(self.standardizer, self.pool)
            try:  # waiting for a block is charged to the stages that make it; its chunks' time to the network
                for block in blocks:
                    for _, logits in profile.timed("network", runner.feed(block)):
                        sink.put(logits)
                for _, logits in profile.timed("network", runner.finish()):
                    sink.put(logits)
            finally:
                blocks.close()
