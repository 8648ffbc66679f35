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
    "warm_up_writer",
    "write_annotation",
]

#: crowsetta formats written, and the suffix added to the audio file's name
ANNOT_FORMATS = {"generic-seq": ".annot.csv", "simple-seq": ".csv", "aud-seq": ".txt"}
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


def write_annotation(path: pathlib.Path, fmt: str, audio: pathlib.Path, labels, onsets_s, offsets_s) -> None:
    """One crowsetta annotation file, written to a temporary name and renamed.  Times are rounded to
    :data:`TIME_DECIMALS` in simple-seq and aud-seq; generic-seq (vak's format) keeps the floats as computed."""
    import crowsetta

    labels = np.asarray(labels).astype(str)
    onsets_s, offsets_s = np.asarray(onsets_s, dtype=float), np.asarray(offsets_s, dtype=float)
    if fmt != "generic-seq":
        onsets_s, offsets_s = np.round(onsets_s, TIME_DECIMALS), np.round(offsets_s, TIME_DECIMALS)
    # a temporary name, flushed and renamed into place: the annotation's record, written after it,
    # must not outlive it in a power cut
    with atomic_path(path) as tmp:
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


class ProbabilityWriter:
    """Per-frame class probabilities ``(classes, frames)`` into a compressed ``.npz``, chunk by chunk.

    The array is stored Fortran-ordered, so frames are written as they come; ``np.load`` reads
    it as any ``.npz``: ``probabilities`` (float32), ``frame_times`` (s) and ``labels``.
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
        self.replacement.commit()

    def abort(self) -> None:
        try:
            self.stream.close()
            self.zip.close()
        except Exception:
            pass
        self.replacement.abort()
