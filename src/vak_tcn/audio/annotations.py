"""Annotation files (crowsetta's formats) and per-frame class probabilities (``.npz``), each written to a
temporary name and renamed: a reader never sees half a file."""

from __future__ import annotations

import contextlib
import pathlib
import threading
import zipfile

import numpy as np

from .._atomic import Replacement, atomic_path

__all__ = [
    "ANNOT_FORMATS",
    "PROBABILITIES_SUFFIX",
    "ProbabilityWriter",
    "raven_band",
    "warm_up_writer",
    "write_annotation",
]

#: formats written (crowsetta's names), and the suffix added to the audio file's name: ``raven`` is a Raven
#: selection table (Raven's own name for one, ``NAME.Table.1.selections.txt``), ``textgrid`` a Praat TextGrid
ANNOT_FORMATS = {
    "generic-seq": ".annot.csv",
    "simple-seq": ".csv",
    "aud-seq": ".txt",
    "raven": ".Table.1.selections.txt",
    "textgrid": ".TextGrid",
}
PROBABILITIES_SUFFIX = ".probabilities.npz"
#: the columns crowsetta writes for generic-seq (an empty annotation is this header alone)
GENERIC_SEQ_COLUMNS = ["label", "onset_s", "offset_s", "notated_path", "annot_path", "sequence", "annotation"]


_WRITER_WARMED = threading.Event()


def warm_up_writer() -> None:
    """Import crowsetta and write one annotation (to memory), in a thread, once per process.

    crowsetta (pandas, pandera, dask.dataframe) takes ~0.5 s to import and its first file ~0.5 s more
    (measured here: 0.54 s and 0.49 s); started while the first recording is read, that second is
    spent while the audio's FFTs (which release the GIL) run, not after the network."""
    if _WRITER_WARMED.is_set():
        return
    _WRITER_WARMED.set()

    def warm():
        with contextlib.suppress(Exception):  # only a warm-up: the real write says what is wrong
            import io

            import crowsetta

            seq = crowsetta.Sequence.from_keyword(labels=np.array(["a"]), onsets_s=np.zeros(1), offsets_s=np.ones(1))
            annot = crowsetta.Annotation(seq=seq, notated_path="warm-up.wav", annot_path="warm-up.csv")
            crowsetta.formats.seq.GenericSeq(annots=[annot]).to_file(io.StringIO())  # in memory, nothing written

    threading.Thread(target=warm, name="vak-tcn-warm-up", daemon=True).start()


#: decimals of the seconds written in simple-seq and aud-seq (microseconds, as Audacity writes its labels): a frame
#: edge computed as ``t - frame_dur/2`` is written ``1.051``, not ``1.0510000000000002``.  generic-seq keeps every
#: digit of the float: it is what ``vak predict`` writes, and annotate's equals it to the float
#: (tests/inference/test_annotate_vs_vak_predict.py).
TIME_DECIMALS = 6


def write_annotation(
    path: pathlib.Path,
    fmt: str,
    audio: pathlib.Path,
    labels,
    onsets_s,
    offsets_s,
    *,
    duration_s: float | None = None,
    band_hz: tuple[float, float] | None = None,
    channel: int | None = None,
) -> None:
    """One annotation file in ``fmt`` (:data:`ANNOT_FORMATS`), written to a temporary name and renamed.  Times
    are rounded to :data:`TIME_DECIMALS` in every format but generic-seq (vak's format: the floats as computed).

    ``duration_s``: the recording's, the end of a TextGrid (else its last offset).  ``band_hz``: the
    frequencies of a Raven selection (:func:`raven_band`; required for ``raven``).  ``channel``: the one
    annotated (0-based; Raven's ``Channel`` column is 1-based)."""
    import crowsetta

    labels = np.asarray(labels).astype(str)
    onsets_s, offsets_s = np.asarray(onsets_s, dtype=float), np.asarray(offsets_s, dtype=float)
    if fmt != "generic-seq":
        onsets_s, offsets_s = np.round(onsets_s, TIME_DECIMALS), np.round(offsets_s, TIME_DECIMALS)
    if fmt == "raven" and band_hz is None:
        raise ValueError("a Raven selection table needs the selections' frequencies (band_hz)")
    # a temporary name, flushed and renamed into place: the annotation's record, written after it,
    # must not outlive it in a power cut
    with atomic_path(path) as tmp:
        if fmt == "raven":
            tmp.write_text(raven_table(labels, onsets_s, offsets_s, band_hz, channel or 0), encoding="utf-8")
        elif fmt == "textgrid":
            tmp.write_text(textgrid_text(labels, onsets_s, offsets_s, duration_s), encoding="utf-8")
        elif fmt == "generic-seq":
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


def _decimal(x: float) -> str:
    """``x`` to the microsecond, as a plain decimal (``1.051``, ``0``; never ``1e-06``, which crowsetta's
    TextGrid reader does not parse)."""
    text = f"{float(x) + 0.0:.{TIME_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _float(x: float) -> str:
    """:func:`_decimal` with a decimal point always (``0.0``): crowsetta's Raven reader wants float columns."""
    text = _decimal(x)
    return text if "." in text else text + ".0"


def raven_band(samplerate: float, freq_cutoffs=None) -> tuple[float, float]:
    """The frequencies of a Raven selection for a segment (which has none): the spectrogram's
    ``freq_cutoffs`` when the model has them (the band it listens to; the upper one at most the Nyquist
    frequency), else 0 to the Nyquist frequency of the recording."""
    nyquist = float(samplerate) / 2
    if freq_cutoffs:
        return float(freq_cutoffs[0]), min(float(freq_cutoffs[1]), nyquist)
    return 0.0, nyquist


#: a Raven selection table's columns (crowsetta's ``formats.bbox.Raven`` reads them; the labels are ``Annotation``)
RAVEN_COLUMNS = [
    "Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)", "Annotation",
]  # fmt: skip


def raven_table(labels, onsets_s, offsets_s, band_hz: tuple[float, float], channel: int = 0) -> str:
    """A Raven selection table, tab-separated, as Raven saves one (and crowsetta's ``Raven.to_file`` writes
    it): one selection per segment in the view ``Spectrogram 1``; no segment, the header alone."""
    low, high = (_float(f) for f in band_hz)
    lines = ["\t".join(RAVEN_COLUMNS)]
    for i, (label, onset, offset) in enumerate(zip(labels, onsets_s, offsets_s), start=1):
        if any(c in label for c in "\t\r\n"):
            raise ValueError(f"label {label!r}: a tab or a line break cannot be in a Raven selection table")
        row = [str(i), "Spectrogram 1", str(channel + 1), _float(onset), _float(offset), low, high, label]
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


#: the TextGrid's one interval tier
TEXTGRID_TIER = "syllables"


def textgrid_text(labels, onsets_s, offsets_s, duration_s: float | None = None) -> str:
    """A Praat TextGrid in Praat's (long) text format: one interval tier, :data:`TEXTGRID_TIER`, from 0 to
    the recording's end (``duration_s``; never before the last offset), a segment per interval and
    empty intervals between them, as Praat's own intervals tile a tier."""
    ends = [0.0, *(float(o) for o in offsets_s), float(duration_s or 0.0)]
    xmin, xmax = min([0.0, *(float(o) for o in onsets_s)]), max(ends)
    if xmax <= xmin:  # a recording of no length: Praat wants xmax > xmin
        xmax = xmin + 10.0**-TIME_DECIMALS
    intervals, t = [], xmin
    for label, onset, offset in zip(labels, onsets_s, offsets_s):
        if onset < t:
            raise ValueError(f"segment {label!r} at {onset} s overlaps the one before: not one TextGrid tier")
        if onset > t:
            intervals.append((t, onset, ""))
        intervals.append((onset, offset, str(label)))
        t = offset
    if xmax > t or not intervals:
        intervals.append((t, xmax, ""))
    n = _decimal
    lines = [
        'File type = "ooTextFile"', 'Object class = "TextGrid"', "",
        f"xmin = {n(xmin)} ", f"xmax = {n(xmax)} ", "tiers? <exists> ", "size = 1 ", "item []: ",
        "    item [1]:", '        class = "IntervalTier" ', f'        name = "{TEXTGRID_TIER}" ',
        f"        xmin = {n(xmin)} ", f"        xmax = {n(xmax)} ", f"        intervals: size = {len(intervals)} ",
    ]  # fmt: skip
    for i, (start, stop, text) in enumerate(intervals, start=1):
        text = text.replace('"', '""')  # Praat doubles a quote inside a string
        lines += [f"        intervals [{i}]:", f"            xmin = {n(start)} ", f"            xmax = {n(stop)} "]
        lines.append(f'            text = "{text}" ')
    return "\n".join(lines) + "\n"


class ProbabilityWriter:
    """Per-frame class probabilities ``(classes, frames)`` into a compressed ``.npz``, chunk by chunk.

    The array is stored Fortran-ordered, so frames are written as they come; ``np.load`` reads
    it as any ``.npz``: ``probabilities`` (float32), ``frame_times`` (s), ``labels`` and ``frame_labels``
    (each frame's class: the argmax of the network's logits, what the annotation is made from; kept
    beside the probabilities because their float32 softmax can tie where the logits do not).
    """

    def __init__(self, path: pathlib.Path, n_classes: int, n_frames: int, frame_times, labels: list[str]):
        self.path, self.replacement = path, Replacement(path)
        self.tmp = self.replacement.tmp
        self.zip = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        with self.zip.open("labels.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, np.asarray(labels, dtype=str), allow_pickle=False)
        with self.zip.open("frame_times.npy", "w", force_zip64=True) as f:  # frame_times(start, stop), in blocks
            np.lib.format.write_array_header_2_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n_frames,)})
            for start in range(0, n_frames, 2**20):
                f.write(np.asarray(frame_times(start, min(n_frames, start + 2**20)), dtype="<f8").tobytes())
        self.n_frames, self.written, self.frame_labels = n_frames, 0, []
        self.stream = self.zip.open("probabilities.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": True}
        header["shape"] = (int(n_classes), self.n_frames)
        np.lib.format.write_array_header_2_0(self.stream, header)

    def write(self, probabilities: np.ndarray, frame_labels: np.ndarray) -> None:
        """The next frames' probabilities ``(classes, frames)`` and classes (kept until :meth:`close`: two
        bytes a frame, 14 MB for a day at 2 ms frames)."""
        self.stream.write(np.ascontiguousarray(probabilities.T, dtype=np.float32).tobytes())
        self.frame_labels.append(np.asarray(frame_labels, dtype=np.int16))
        self.written += probabilities.shape[1]

    def close(self) -> None:
        self.stream.close()
        labels = np.concatenate(self.frame_labels) if self.frame_labels else np.zeros(0, np.int16)
        with self.zip.open("frame_labels.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array(f, labels, allow_pickle=False)
        self.zip.close()
        if self.written != self.n_frames:
            self.abort()
            raise RuntimeError(f"wrote {self.written} of {self.n_frames} frames of probabilities")
        self.replacement.commit()

    def abort(self) -> None:
        try:
            self.stream.close()
            self.zip.close()
        except Exception:
            pass
        self.replacement.abort()
