"""Live annotation: audio samples in, syllable onsets and offsets out, as the song arrives.

:class:`Stream` chains

1. :class:`LiveSpectrogram`: vak's spectrogram (:mod:`vak_tcn.inference.spectrogram`: the
   band-pass filter with its state carried, matplotlib's framing and window) computed from
   blocks of samples of any size as they arrive;
2. the model's saved frames standardizer;
3. :class:`~vak_tcn.nn.incremental.IncrementalNetwork`: the causal network, one step per
   new frame;
4. frame labels -> :class:`Event` s: an ``onset`` when a syllable's first frame is labelled,
   an ``offset`` when the frame after its last one is; or, with a clean-up
   (``--post-processing``), the events of :class:`~vak_tcn.live.cleanup.OnlineCleanup`,
   each as soon as the clean-up makes it certain (``min_segment_dur`` / ``min_gap_dur`` later).

The one difference from offline annotation is ``log_spect``'s normalisation: vak divides
each file's power by that *file's* maximum, which a live stream cannot know.  The rule here
(documented in docs/live.md): divide by ``reference_power`` when one is given (e.g. measured
with :func:`reference_power_of` on a recording from the same set-up); :meth:`Stream.from_config`
gives, without one, the level recorded when training ended (``reference_power.json`` beside the
checkpoint: the median of the training files' maximum power); without that, the running maximum
of the power so far (frame ``t`` by the maximum over frames ``<= t``).  With the
recording's own maximum as ``reference_power``, the stream's frame labels equal offline
inference of the same causal network exactly (tested).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import time

import numpy as np
import torch

from ..inference.spectrogram import SpectParams, StreamingSpectrogram, transform
from ..models import cleanup
from ..models.trained import TrainedModel, background_index, segments_drop_background
from ..nn.incremental import IncrementalNetwork
from ..plugins import vak_compat

__all__ = ["Event", "LiveSpectrogram", "Stream", "reference_power_of"]


class LiveSpectrogram(StreamingSpectrogram):
    """vak's spectrogram from pushed blocks of samples, normalised causally (see the module docs).

    Parameters
    ----------
    samplerate : int
    params : SpectParams
    reference_power : float, optional
        What ``log_spect`` divides the power by; None: the running maximum.
    """

    def __init__(self, samplerate: int, params: SpectParams, reference_power: float | None = None):
        super().__init__(lambda n: iter(()), 0, samplerate, params)
        self.reference_power = reference_power
        self.peak = 0.0  # running maximum of the power
        self.frames_done = 0
        self._carry = np.zeros(0)
        self._filter = None
        if params.freq_cutoffs:
            b, a = vak_compat.butter_bandpass(params.freq_cutoffs[0], params.freq_cutoffs[1], self.samplerate)
            self._filter = (b, a, np.zeros(max(len(a), len(b)) - 1))

    @property
    def reference_power(self) -> float | None:
        return self._reference_power

    @reference_power.setter
    def reference_power(self, value: float | None) -> None:
        if value is not None and not (math.isfinite(value) and value > 0):  # 0, NaN, inf: every frame the floor
            raise ValueError(f"reference_power must be a finite number > 0, got {value!r}")
        self._reference_power = None if value is None else float(value)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The spectrogram frames that the new samples complete: ``(freq bins, n)``.

        The samples must be finite (:meth:`Stream.push` replaces the others): one NaN would stay in
        the band-pass filter's state, and in the running maximum, for the rest of the stream."""
        from scipy import signal

        block = np.asarray(samples, dtype=float).ravel()
        if self._filter is not None:
            b, a, state = self._filter
            block, state = signal.lfilter(b, a, block, zi=state)
            self._filter = (b, a, state)
        p = self.params
        buffered = np.concatenate([self._carry, block]) if self._carry.size else block
        n = (len(buffered) - p.fft_size) // p.step_size + 1 if len(buffered) >= p.fft_size else 0
        if n <= 0:
            self._carry = buffered
            return np.zeros((len(self.freqbins), 0))
        power = self._psd(buffered, n)  # all bins: vak's maximum is over all of them
        self._carry = buffered[n * p.step_size :]
        self.frames_done += n
        peak: float | np.ndarray | None = None
        if p.transform_type == "log_spect":
            if self.reference_power is not None:
                peak = self.reference_power
            else:
                peak = np.maximum.accumulate(np.concatenate([[self.peak], power.max(axis=0)]))[1:]
                self.peak = float(peak[-1])
        spect = transform(power[self._keep], p, peak)
        # digital silence before any sound (power and running maximum 0): a floor, not NaN
        floor = -p.thresh if p.thresh else -10.0
        return np.nan_to_num(spect, nan=floor, neginf=floor, posinf=floor)


def reference_power_of(
    path: str | pathlib.Path, spect_params: SpectParams, channel: int | None = None, samplerate: int | None = None
) -> float:
    """The maximum power of a recording's spectrogram: a ``reference_power`` for live streams.

    A :class:`~vak_tcn.audio.read.RecordingError` (a ``ValueError``) naming the file if
    it cannot serve: unreadable, at a sample rate other than ``samplerate`` (when given), with a
    non-finite sample, or silent (its maximum power 0 would make every frame the floor).
    """
    from ..audio.read import RecordingError, audio_info, block_reader

    path = pathlib.Path(path)
    try:
        info = audio_info(path)
        if samplerate is not None and info.samplerate != samplerate:
            raise RecordingError(
                f"sample rate {info.samplerate} Hz, the audio's is {samplerate} Hz: "
                "give a recording at the audio's rate"
            )
        spect = StreamingSpectrogram(block_reader(path, info, channel), info.n_samples, info.samplerate, spect_params)
        peak = spect.max_power()
    except RecordingError as e:
        raise RecordingError(f"{path}: {e}") from e
    if not math.isfinite(peak):
        raise RecordingError(f"{path}: non-finite maximum power ({peak}): give another recording")
    if peak <= 0:
        raise RecordingError(
            f"{path}: silent (maximum power 0): give a recording from the same set-up with loud song in it"
        )
    return peak


@dataclasses.dataclass(frozen=True)
class Event:
    """A syllable's onset or offset, as soon as it is known.

    ``time`` is in seconds from the start of the stream, with vak's convention (the boundary
    between two frames: a frame's centre minus / plus half a frame); ``probability`` is the
    network's probability of ``label`` at the syllable's first (onset) or last (offset) frame;
    ``frame`` is that frame's index.
    """

    kind: str
    label: str
    time: float
    frame: int
    probability: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Stream:
    """A trained causal model, listening: push audio samples, get :class:`Event` s.

    Build it with :meth:`from_config` from a stock vak predict config.

    Attributes
    ----------
    segments : list of (label, onset_s, offset_s)
        Every syllable closed so far.
    latency_s : float
        Algorithmic latency, in seconds, from the audio sample that completes a frame to the
        push that can label it: the network's lookahead (0 for a causal TCN, 4 frames for
        ConvTCN) times the hop.  Add the compute time of a push, and the wait for a hop's
        worth of samples when pushing several frames at once.
    frame_delay_s : float
        From a frame's centre (its time) to the sample that completes it: ``fft_size / 2``.
    cleanup : Settings or None
        The clean-up applied to the frame labels (None: none, events at once).
    onset_delay_s, offset_delay_s : float
        What the clean-up adds to the latency of onsets and offsets (0 without clean-up).
    compute_s : list of float
        Wall time of each :meth:`push`.
    samples_in : int
        Samples pushed so far.
    nonfinite_samples, nonfinite_stretches : int
        Non-finite samples (NaN, inf) pushed so far, and the stretches they form: non-finite
        samples less than :attr:`nonfinite_gap_s` apart are one stretch (a run of them, or a
        stream of scattered ones, e.g. integer PCM read as float32).  Each is replaced by 0
        (silence) before the band-pass filter, so one bad sample costs a click, not the rest of
        the stream, and times stay on the audio's clock; :meth:`pop_nonfinite` says where, once
        per stretch.
    recorded_power : float or None
        The reference level recorded when training ended, usable for this audio
        (:meth:`~vak_tcn.models.trained.TrainedModel.reference_power`), whether or not the stream
        divides by it; None without one (:meth:`from_config`; :attr:`recorded_source` says why).
    """

    #: non-finite samples less than this many seconds apart are one stretch (reported once)
    nonfinite_gap_s = 1.0

    def __init__(
        self,
        network: torch.nn.Module,
        labelmap: dict,
        spect_params: SpectParams,
        samplerate: int,
        standardizer=None,
        reference_power: float | None = None,
        record_labels: bool = False,
        cleanup=None,
    ):
        from .cleanup import OnlineCleanup

        try:
            self.engine = IncrementalNetwork(network)
        except (TypeError, ValueError) as err:
            raise ValueError(f"live annotation: {err}") from err
        self.spectrogram = LiveSpectrogram(samplerate, spect_params, reference_power)
        self.standardizer = standardizer
        self.labels = {int(v): k for k, v in labelmap.items()}
        self.background = background_index(labelmap)  # the clean-up's background: annotate's, vak predict's
        # the class that makes no events: vak's to_segments leaves it out only when the labelmap has vak's
        # background label (without one, every class makes segments in annotate, so events here)
        self._silent = self.background if segments_drop_background(labelmap) else None
        #: where :attr:`spectrogram`'s reference power comes from (:meth:`from_config` says)
        self.reference_source = "given" if reference_power is not None else "running maximum"
        self.samplerate = int(samplerate)
        self.params = spect_params
        self.frame_dur = spect_params.step_size / self.samplerate
        self.latency_s = self.engine.lookahead * spect_params.step_size / self.samplerate
        self.frame_delay_s = spect_params.fft_size / 2 / self.samplerate
        self.segments: list[tuple[str, float, float]] = []
        self.compute_s: list[float] = []
        self.samples_in = 0
        self.nonfinite_samples = 0
        self.nonfinite_stretches = 0
        self._bad_open: list[int] | None = None  # [first sample, count, last sample] of a stretch still going on
        self._bad_done: list[tuple[int, int, int]] = []  # stretches ended since the last pop_nonfinite()
        self.recorded_power: float | None = None
        self.recorded_source = "no recorded level (not built from a config)"
        self._open: tuple[int, int, float] | None = None  # (label, first frame, probability)
        self._last: tuple[int, float] | None = None  # (label, probability) of the previous frame
        self._frame = 0  # index of the next labelled frame
        #: every frame's label, when ``record_labels`` (for measurements; grows with the stream)
        self.frame_labels: list[int] | None = [] if record_labels else None
        self.cleanup = None if cleanup is None or cleanup.is_off else cleanup
        self.cleanup_source = "given" if self.cleanup else "none"
        self._cleaner = OnlineCleanup(self.cleanup, self.frame_dur, self.background) if self.cleanup else None
        self.onset_delay_s = self._cleaner.onset_delay_frames * self.frame_dur if self._cleaner else 0.0
        self.offset_delay_s = (self._cleaner.offset_delay_frames - 1) * self.frame_dur if self._cleaner else 0.0

    @classmethod
    def from_config(
        cls,
        predict_config: str | pathlib.Path | TrainedModel,
        samplerate: int,
        reference_power: float | None = None,
        record_labels: bool = False,
        post_processing: str = "none",
        recorded_reference: bool = True,
    ) -> Stream:
        """A stream for the model of a stock vak predict config (checkpoint, labelmap, standardizer), or
        for a model already loaded (a results directory's: its clean-up set, ``post_processing`` unused).

        ``reference_power``: what ``log_spect`` divides by; None: the level recorded when training
        ended (``reference_power.json`` beside the checkpoint,
        :meth:`~vak_tcn.models.trained.TrainedModel.reference_power`) when ``recorded_reference`` and
        there is a usable one, else the running maximum.  :attr:`reference_source` says which.

        ``post_processing``: ``none`` (default: events at once), or ``auto``/``tuned``/``config``:
        the clean-up ``vak-tcn annotate`` would apply (:func:`~vak_tcn.models.cleanup.resolve_mode`),
        at the delay it needs; :attr:`cleanup_source` says where it came from.
        """
        model = predict_config
        if not isinstance(model, TrainedModel):
            model = TrainedModel.from_predict_config(predict_config, cleanup.Request(cli=post_processing))
        n_freqbins = model.check_samplerate(samplerate)  # a ValueError if the model takes other frequency bins
        network = model.load_network(n_freqbins)  # float32, on the CPU (as annotate's network in float32)
        recorded, why = model.reference_power(samplerate)
        source = "given"
        if reference_power is None and recorded_reference:
            reference_power = recorded
            source = why if reference_power is not None else f"running maximum ({why})"
        elif reference_power is None:
            source = "running maximum"
        stream = cls(
            network,
            model.labelmap,
            model.spect_params,
            samplerate,
            model.standardizer,
            reference_power,
            record_labels,
            cleanup=model.cleanup,
        )
        stream.cleanup_source, stream.reference_source = model.cleanup_source, source
        stream.recorded_power, stream.recorded_source = recorded, why
        return stream

    @property
    def event_labels(self) -> list[str]:
        """The labels that make events (so a trigger can fire on them): every class but the background
        when the events leave it out (vak's background label, or any labelmap's with a clean-up)."""
        silent = self.background if self._cleaner is not None else self._silent
        return [name for index, name in sorted(self.labels.items()) if index != silent]

    def _time(self, frame: int, edge: int) -> float:
        centre = (self.params.fft_size / 2 + frame * self.params.step_size) / self.samplerate
        return max(0.0, centre + edge * self.frame_dur / 2)

    def _events(self, logits: torch.Tensor) -> list[Event]:
        events = []
        if logits.shape[-1] == 0:
            return events
        z = logits.numpy().astype(np.float64)
        z = np.exp(z - z.max(axis=0))
        probs = z / z.sum(axis=0)
        labels = probs.argmax(axis=0)
        best = probs[labels, np.arange(probs.shape[1])]
        if self.frame_labels is not None:
            self.frame_labels.extend(labels.tolist())
        if self._cleaner is not None:
            for label, prob in zip(labels.tolist(), best.tolist()):
                events += self._cleaned(self._cleaner.push(label, prob))
            self._frame += len(labels)
            return events
        for label, prob in zip(labels.tolist(), best.tolist()):
            frame = self._frame
            if self._last is None or label != self._last[0]:
                if self._open is not None:  # the previous syllable ended at the previous frame
                    events.append(self._close(frame - 1))
                if label != self._silent:
                    self._open = (label, frame, prob)
                    events.append(Event("onset", self.labels[label], self._time(frame, -1), frame, prob))
            self._last = (label, prob)
            self._frame += 1
        return events

    def _cleaned(self, events: list[tuple[str, int, int, float]]) -> list[Event]:
        """:class:`Event` s of the clean-up's ``(kind, label, frame, probability)``; closed segments recorded."""
        out = []
        for kind, label, frame, prob in events:
            out.append(Event(kind, self.labels[label], self._time(frame, -1 if kind == "onset" else +1), frame, prob))
        closed = self._cleaner.segments
        self.segments += [(self.labels[lbl], self._time(a, -1), self._time(b, +1)) for lbl, a, b in closed]
        closed.clear()
        return out

    def _close(self, last_frame: int) -> Event:
        label, first, _ = self._open
        self._open = None
        onset, offset = self._time(first, -1), self._time(last_frame, +1)
        self.segments.append((self.labels[label], onset, offset))
        return Event("offset", self.labels[label], offset, last_frame, self._last[1])

    def _nonfinite_gap(self) -> int:
        return max(1, round(self.nonfinite_gap_s * self.samplerate))

    def _note_nonfinite(self, bad: np.ndarray) -> None:
        """Record the non-finite samples of a block (``bad``: its mask) in stretches, across blocks:
        a sample at most :attr:`nonfinite_gap_s` after the previous one goes on its stretch."""
        gap = self._nonfinite_gap()
        where = self.samples_in + np.flatnonzero(bad)
        for run in np.split(where, np.flatnonzero(np.diff(where) > gap) + 1):
            first, last, n = int(run[0]), int(run[-1]), len(run)
            if self._bad_open is not None and first - self._bad_open[2] <= gap:  # the stretch goes on
                self._bad_open[1] += n
                self._bad_open[2] = last
            else:
                self._end_nonfinite()
                self._bad_open = [first, n, last]

    def _end_nonfinite(self) -> None:
        if self._bad_open is not None:
            first, n, last = self._bad_open
            self._bad_open = None
            self._bad_done.append((first, n, last))
            self.nonfinite_samples += n
            self.nonfinite_stretches += 1

    def pop_nonfinite(self) -> list[tuple[float, float, int]]:
        """``(start_s, end_s, count)`` of each stretch of non-finite samples that ended since the last
        call: from its first sample to the end of its last one.  A stretch ends once
        :attr:`nonfinite_gap_s` of finite samples follow it (or at :meth:`finish`), so it is reported
        that much after its last bad sample, once."""
        done, self._bad_done = self._bad_done, []
        return [(first / self.samplerate, (last + 1) / self.samplerate, n) for first, n, last in done]

    def push(self, samples: np.ndarray) -> list[Event]:
        """Feed audio samples (any number); return the events they complete.  Non-finite samples
        are replaced by 0 and counted (:attr:`nonfinite_samples`, :meth:`pop_nonfinite`)."""
        start = time.perf_counter()
        block = np.asarray(samples, dtype=float).ravel()
        bad = ~np.isfinite(block)
        if bad.any():
            self._note_nonfinite(bad)
            block = np.where(bad, 0.0, block)
        self.samples_in += len(block)
        if self._bad_open is not None and self.samples_in - 1 - self._bad_open[2] >= self._nonfinite_gap():
            self._end_nonfinite()  # a second of finite samples since its last bad one
        spect = self.spectrogram.push(block)
        events: list[Event] = []
        if spect.shape[-1]:
            if self.standardizer is not None:
                spect = self.standardizer(spect)
            logits = self.engine.push(torch.from_numpy(np.ascontiguousarray(spect, dtype=np.float32))[None])
            events = self._events(logits)
        self.compute_s.append(time.perf_counter() - start)
        return events

    def finish(self) -> list[Event]:
        """End of the stream: the last frames' events, and the offset of a syllable still open."""
        self._end_nonfinite()
        events = self._events(self.engine.flush())
        if self._cleaner is not None:
            return events + self._cleaned(self._cleaner.finish())
        if self._open is not None:
            events.append(self._close(self._frame - 1))
        return events

    def annotation(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(labels, onsets_s, offsets_s)`` of the syllables so far."""
        if not self.segments:
            return np.array([], dtype=str), np.zeros(0), np.zeros(0)
        labels, onsets, offsets = zip(*self.segments)
        return np.array(labels), np.array(onsets), np.array(offsets)
