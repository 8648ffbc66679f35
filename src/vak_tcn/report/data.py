"""What a report shows, read from disk: predicted segments, probabilities, audio, references.

* :func:`read_predictions`: the output folder of ``vak-tcn annotate`` (its ``NAME.annotate.json``
  records name every annotation and probabilities file it wrote; without records, its
  ``*.annot.csv`` files), one :class:`Recording` per annotated audio file;
* :func:`read_references`: reference annotations, from a prepared vak dataset (one split) or a
  folder of annotation files in any crowsetta format, keyed by audio file name;
* :func:`attach_references`: each recording's reference, by the audio file's name.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from ..audio.annotations import ANNOT_FORMATS, PROBABILITIES_SUFFIX
from ..audio.read import RecordingError, audio_info
from ..inference.records import RECORD_SUFFIX, read_record

__all__ = [
    "Probabilities",
    "Recording",
    "Segments",
    "attach_references",
    "read_annotation",
    "read_predictions",
    "read_references",
]

#: crowsetta formats guessed from a reference file's name (a folder of references)
GUESSED_FORMATS = {".not.mat": "notmat", ".annot.csv": "generic-seq", ".textgrid": "textgrid"}
#: seconds a reference segment may end after its recording (hand annotations' rounded times) before the
#: reference is refused as running past the recording's end
END_SLACK = 0.010


@dataclasses.dataclass(frozen=True)
class Segments:
    """Labelled segments of one recording, sorted by onset: times in seconds, labels as strings."""

    onsets: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, onsets, offsets, labels) -> Segments:
        onsets, offsets = np.asarray(onsets, dtype=float).ravel(), np.asarray(offsets, dtype=float).ravel()
        labels = np.asarray(labels).astype(str).ravel()
        order = np.argsort(onsets, kind="stable")
        return cls(onsets[order], offsets[order], labels[order])

    @classmethod
    def empty(cls) -> Segments:
        return cls.of([], [], [])

    def __len__(self) -> int:
        return int(self.onsets.size)

    @property
    def durations(self) -> np.ndarray:
        return self.offsets - self.onsets

    def counts(self) -> dict[str, int]:
        """Segments per label."""
        names, counts = np.unique(self.labels, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts)}

    def song_time(self) -> float:
        """Seconds inside segments."""
        return float(self.durations.sum())

    def between(self, start: float, stop: float) -> np.ndarray:
        """Indices of the segments that overlap ``[start, stop)``."""
        return np.flatnonzero((self.offsets > start) & (self.onsets < stop))


@dataclasses.dataclass(frozen=True)
class Probabilities:
    """Per-frame class probabilities as ``vak-tcn annotate --probabilities`` writes them."""

    frame_times: np.ndarray  # (frames,), seconds
    values: np.ndarray  # (classes, frames), float32
    labels: list[str]  # class names, labelmap order

    @classmethod
    def read(cls, path: pathlib.Path) -> Probabilities:
        try:
            with np.load(path, allow_pickle=False) as npz:
                return cls(npz["frame_times"], npz["probabilities"], [str(x) for x in npz["labels"]])
        except Exception as e:
            raise ValueError(
                f"{path}: not a probabilities file of vak-tcn annotate ({type(e).__name__}: {e})"
            ) from None

    def of_label(self, label: str, segments: Segments) -> np.ndarray:
        """Mean probability of ``label`` over the frames of each segment (centres in ``[onset, offset)``;
        a segment shorter than a frame takes the first frame at or after its centre; no frames: 1)."""
        if not self.frame_times.size:
            return np.ones(len(segments))
        if label not in self.labels:
            return np.zeros(len(segments))
        cumulative = np.concatenate([[0.0], np.cumsum(self.values[self.labels.index(label)], dtype=np.float64)])
        start = np.searchsorted(self.frame_times, segments.onsets, side="left")
        stop = np.searchsorted(self.frame_times, segments.offsets, side="left")
        centre = np.clip(np.searchsorted(self.frame_times, (segments.onsets + segments.offsets) / 2), 0, None)
        short = stop <= start
        start = np.where(short, np.minimum(centre, self.frame_times.size - 1), start)
        stop = np.where(short, start + 1, stop)
        return (cumulative[stop] - cumulative[start]) / (stop - start)


@dataclasses.dataclass
class Recording:
    """One annotated recording: its audio, its predicted segments (one or more versions, e.g. raw and
    cleaned; the first is the one reviewed), probabilities and reference when there are."""

    name: str  # the audio file's path below the annotations folder, e.g. night1/rec_001.wav
    audio: pathlib.Path | None  # None: not found, for an annotation with no segment (shown without spectrogram)
    duration: float
    samplerate: int
    predictions: dict[str, Segments]
    annotation: pathlib.Path
    probabilities: Probabilities | None = None
    reference: Segments | None = None
    reference_file: str | None = None

    @property
    def predicted(self) -> Segments:
        """The reviewed version of the predictions (the first)."""
        return next(iter(self.predictions.values()))

    @property
    def file_name(self) -> str:
        """The audio file's name (references are matched by it)."""
        return self.audio.name if self.audio is not None else pathlib.Path(self.name).name


def _segments_of(annot) -> Segments:
    seq = getattr(annot, "seq", None)
    if seq is None or isinstance(seq, list):  # crowsetta: a bbox format, or several sequences
        raise ValueError("not a sequence annotation (onsets, offsets, labels)")
    if seq.onsets_s is None:
        raise ValueError("its onsets are in samples only (no sample rate to turn them into seconds)")
    return Segments.of(seq.onsets_s, seq.offsets_s, seq.labels)


def _raven_segments(path: pathlib.Path) -> Segments:
    """A Raven selection table's selections as segments (the labels in its ``Annotation`` column); the
    header alone (annotate's table of a recording with no segment, which crowsetta refuses) is none."""
    import crowsetta

    if path.read_text().strip().count("\n") == 0:
        return Segments.empty()
    try:
        boxes = crowsetta.formats.bbox.Raven.from_file(path, annot_col="Annotation").to_bbox()
    except Exception as e:
        raise ValueError(f"{path}: cannot read it as a raven selection table ({type(e).__name__}: {e})") from None
    return Segments.of([b.onset for b in boxes], [b.offset for b in boxes], [b.label for b in boxes])


def read_annotation(path: pathlib.Path, fmt: str) -> list[tuple[str | None, Segments]]:
    """``[(notated audio path or None, segments)]`` of one annotation file (a format may hold several);
    ValueError naming the file when crowsetta cannot read it."""
    import crowsetta

    path = pathlib.Path(path)
    if fmt == "generic-seq" and path.read_text().strip().count("\n") == 0:  # annotate's empty annotation
        return [(None, Segments.empty())]
    if fmt == "aud-seq" and not path.read_text().strip():  # no segment: an empty file (no header in aud-seq)
        return [(None, Segments.empty())]
    if fmt == "raven":  # a bbox format in crowsetta: its boxes' times and labels
        return [(None, _raven_segments(path))]
    try:
        read = crowsetta.Transcriber(format=fmt).from_file(path)
        # a TextGrid's times as written (crowsetta rounds them to the millisecond by default)
        annots = read.to_annot(round_times=False) if fmt == "textgrid" else read.to_annot()
        annots = annots if isinstance(annots, list) else [annots]
        return [(None if a.notated_path is None else str(a.notated_path), _segments_of(a)) for a in annots]
    except Exception as e:
        raise ValueError(f"{path}: cannot read it as a {fmt} annotation ({type(e).__name__}: {e})") from None


# ---------------------------------------------------------------- predictions (annotate's outputs)
@dataclasses.dataclass(frozen=True)
class _Output:
    """One annotation annotate wrote."""

    name: str  # the recording's path below the annotations folder
    annotation: pathlib.Path
    fmt: str
    probabilities: pathlib.Path | None
    size: int | None  # the recording's size in bytes, as annotate's record gives it
    recorded: str | None = None  # the recording's path when annotated, as annotate's record gives it


def _recorded_size(entry: dict) -> int | None:
    recording = (entry.get("made_with") or {}).get("recording")
    size = recording.get("size") if isinstance(recording, dict) else None
    return size if isinstance(size, int) else None


def _annotate_outputs(folder: pathlib.Path) -> list[_Output]:
    """What annotate wrote in ``folder``, found through its records (else its ``*.annot.csv`` files)."""
    suffix_format = {suffix: fmt for fmt, suffix in ANNOT_FORMATS.items()}
    found = []
    for record in sorted(folder.rglob(f"*{RECORD_SUFFIX}")):
        base = record.name[: -len(RECORD_SUFFIX)]
        annotation = probabilities = fmt = size = recorded = None
        for output, entry in read_record(record).items():
            if not isinstance(entry, dict) or entry.get("state") != "complete":
                continue
            path = record.with_name(output)
            if output == base + PROBABILITIES_SUFFIX:
                probabilities = path
            elif output[len(base) :] in suffix_format and path.is_file():
                annotation, fmt, size = path, suffix_format[output[len(base) :]], _recorded_size(entry)
                recorded = entry.get("recording_path") if isinstance(entry.get("recording_path"), str) else None
        if annotation is not None:
            prob = probabilities if probabilities is not None and probabilities.is_file() else None
            name = str(record.parent.relative_to(folder) / base)
            found.append(_Output(name, annotation, fmt, prob, size, recorded))
    if not found:  # no records (copied without them): annotate's default format
        suffix = ANNOT_FORMATS["generic-seq"]
        for annotation in sorted(folder.rglob(f"*{suffix}")):
            base = annotation.name[: -len(suffix)]
            prob = annotation.with_name(base + PROBABILITIES_SUFFIX)
            name = str(annotation.parent.relative_to(folder) / base)
            found.append(_Output(name, annotation, "generic-seq", prob if prob.is_file() else None, None))
    return found


def _audio_candidates(name: str, notated: str | None, audio_dirs) -> list[pathlib.Path]:
    """Where a recording may be: the path its annotation names, then in each ``--audio`` folder its path
    below the annotations folder, then its file name."""
    candidates = [pathlib.Path(notated)] if notated else []
    candidates += [pathlib.Path(d) / name for d in audio_dirs]
    return candidates + [pathlib.Path(d) / pathlib.Path(name).name for d in audio_dirs]


def _not_found(name: str, notated: str | None, annotation: pathlib.Path, audio_dirs) -> FileNotFoundError:
    said = f" (it names {notated}, not found)" if notated else ""
    where = f"; not in --audio {', '.join(map(str, audio_dirs))}" if audio_dirs else ""
    return FileNotFoundError(
        f"{annotation}: the audio file {pathlib.Path(name).name} it annotates was not found{said}{where}: "
        "give the folder of the recordings with --audio"
    )


def _audio_root(name: str, audio: pathlib.Path) -> pathlib.Path | None:
    """The folder annotate was given, from a recording found at ``audio`` whose path below the
    annotations folder is ``name`` (``night1/rec.wav`` found at ``/data/night1/rec.wav``: ``/data``)."""
    parts = pathlib.Path(name).parts
    if len(audio.parts) > len(parts) and audio.parts[-len(parts) :] == parts:
        return pathlib.Path(*audio.parts[: -len(parts)])
    return None


def _same_recording(path: pathlib.Path, size: int | None) -> bool:
    """``path`` is a file, of the size annotate's record gives (when it gives one)."""
    return path.is_file() and (size is None or path.stat().st_size == size)


def _probabilities_duration(prob: Probabilities | None) -> float | None:
    """About a recording's duration from the frames annotate wrote: the last frame's time plus one frame."""
    if prob is None or not prob.frame_times.size:
        return None
    times = prob.frame_times
    step = float(times[1] - times[0]) if times.size > 1 else float(times[0])
    return float(times[-1] + step)


def read_predictions(folder: pathlib.Path, audio_dirs=(), version: str = "prediction", warn=None) -> list[Recording]:
    """One :class:`Recording` per annotation in ``vak-tcn annotate``'s output ``folder``.

    The audio: the path a generic-seq annotation names, else ``--audio`` folders (the recording's path
    below the annotations folder, then its file name), else, for an annotation that names none (one
    with no segment, which annotate writes as its header alone; simple-seq, aud-seq), the folders the
    other recordings were found in (a file of the size annotate recorded).  Errors name the folder or
    file.  An annotation with no segment whose audio is found nowhere is still a recording: zero
    segments, ``audio`` None, the duration of its probabilities' frames (else 0), and one ``warn`` line
    for all such.
    """
    folder = pathlib.Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"annotations folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file: give the folder vak-tcn annotate wrote (its --out)")
    outputs = _annotate_outputs(folder)
    if not outputs:
        raise ValueError(
            f"{folder} holds no annotation written by vak-tcn annotate (no *{RECORD_SUFFIX} record, "
            f"no *{ANNOT_FORMATS['generic-seq']} file): give the folder annotate wrote (its --out)"
        )
    read = []
    for output in outputs:
        ((notated, segments),) = read_annotation(output.annotation, output.fmt)[:1]
        audio = next((c for c in _audio_candidates(output.name, notated, audio_dirs) if c.is_file()), None)
        read.append((output, notated, segments, audio))
    roots = list(dict.fromkeys(
        root for output, _, _, audio in read if audio is not None
        for root in (_audio_root(output.name, audio), audio.parent) if root is not None
    ))  # fmt: skip
    recordings, without_audio = [], []
    for output, notated, segments, audio in read:
        if audio is None and not notated:  # where annotate read it, else in the folders the others were found in
            candidates = [pathlib.Path(output.recorded)] if output.recorded else []
            candidates += [root / output.name for root in roots] + [
                root / pathlib.Path(output.name).name for root in roots
            ]
            audio = next((c for c in candidates if _same_recording(c, output.size)), None)
        prob = Probabilities.read(output.probabilities) if output.probabilities is not None else None
        if audio is not None:
            try:
                info = audio_info(audio)
            except RecordingError as e:
                raise ValueError(f"{audio} (annotated in {output.annotation}): {e}") from None
            duration, samplerate = info.duration_s, info.samplerate
        elif len(segments) or notated:
            raise _not_found(output.name, notated, output.annotation, audio_dirs)
        else:  # no segment, no audio: a page of zero segments all the same
            without_audio.append(output.annotation)
            duration, samplerate = _probabilities_duration(prob) or 0.0, 0
        recordings.append(
            Recording(
                name=output.name,
                audio=audio,
                duration=duration,
                samplerate=samplerate,
                predictions={version: segments},
                annotation=output.annotation,
                probabilities=prob,
            )
        )
    if without_audio and warn is not None:
        more = f" and {len(without_audio) - 1} more" if len(without_audio) > 1 else ""
        warn(
            f"{len(without_audio)} annotation(s) with no segment name no audio file, and none was found beside the "
            f"other recordings or in --audio: {without_audio[0]}{more}; shown with 0 segments and no spectrogram "
            "(give the folder of the recordings with --audio to see them)"
        )
    return recordings


# ---------------------------------------------------------------- references
def _dataset_references(dataset: pathlib.Path, split: str) -> dict[str, tuple[str, Segments]]:
    from ..plugins.vak_compat import read_prepared_dataset, source_column

    df = read_prepared_dataset(dataset, None if split == "all" else split)
    if df.empty:
        raise ValueError(f"--reference {dataset}: the prepared dataset has no '{split}' split (see --split)")
    if "annot_path" not in df.columns or df["annot_path"].isna().all():
        raise ValueError(f"--reference {dataset}: the prepared dataset has no annotations (annot_path)")
    refs, cache = {}, {}
    for audio, annot_path, fmt in zip(df[source_column(df)], df["annot_path"], df["annot_format"]):
        if annot_path not in cache:
            cache[annot_path] = read_annotation(pathlib.Path(annot_path), fmt)
        annots = cache[annot_path]
        name = pathlib.Path(audio).name
        match = [s for notated, s in annots if notated and pathlib.Path(notated).name == name]
        refs[name] = (str(annot_path), match[0] if match else annots[0][1])
    return refs


def _guess_format(folder: pathlib.Path) -> str:
    names = [p.name.lower() for p in folder.rglob("*") if p.is_file()]
    for suffix, fmt in GUESSED_FORMATS.items():
        if any(n.endswith(suffix) for n in names):
            return fmt
    raise ValueError(
        f"--reference {folder}: give --reference-format (a crowsetta format: "
        "notmat, simple-seq, generic-seq, aud-seq, textgrid, ...); it could not be told from the file names"
    )


def _folder_references(folder: pathlib.Path, fmt: str) -> dict[str, tuple[str, Segments]]:
    import crowsetta

    if fmt not in crowsetta.formats.as_list():
        raise ValueError(
            f"--reference-format {fmt!r}: not a crowsetta format ({', '.join(crowsetta.formats.as_list())})"
        )
    exts = crowsetta.formats.by_name(fmt).ext
    exts = [exts] if isinstance(exts, str) else list(exts)
    if fmt == "generic-seq":
        exts = [ANNOT_FORMATS["generic-seq"]]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and any(p.name.endswith(e) for e in exts))
    files = [p for p in files if not p.name.endswith((RECORD_SUFFIX, ".toml"))]
    if not files:
        raise ValueError(f"--reference {folder}: no {fmt} annotation file ({', '.join(exts)}) in it")
    refs: dict[str, tuple[str, Segments]] = {}
    for path in files:
        for notated, segments in read_annotation(path, fmt):
            if notated:
                name = pathlib.Path(notated).name
            else:  # the annotation's own name less its extension: bout_1.wav.csv -> bout_1.wav
                name = next(path.name[: -len(e)] for e in exts if path.name.endswith(e))
            if name in refs:
                raise ValueError(f"--reference {folder}: {refs[name][0]} and {path} both annotate {name}")
            refs[name] = (str(path), segments)
    return refs


def read_references(path: pathlib.Path, fmt: str | None = None, split: str = "test") -> dict[str, tuple[str, Segments]]:
    """Reference annotations, ``{audio file name: (annotation file, segments)}``.

    ``path``: a prepared vak dataset (a folder with ``metadata.json``: the rows of ``split``, read with
    their own ``annot_format``), or a folder of annotation files in the crowsetta format ``fmt``
    (guessed from the file names when None: ``.not.mat``, ``.annot.csv``, ``.TextGrid``), or one file.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--reference not found: {path}")
    if path.is_dir() and (path / "metadata.json").is_file():
        return _dataset_references(path, split)
    if path.is_file():
        if fmt is None:
            raise ValueError(f"--reference {path} is a file: give its --reference-format")
        return {
            pathlib.Path(notated).name if notated else path.stem: (str(path), segments)
            for notated, segments in read_annotation(path, fmt)
        }
    return _folder_references(path, fmt or _guess_format(path))


def attach_references(
    recordings: list[Recording], references: dict[str, tuple[str, Segments]], where, slack: float = END_SLACK
) -> list[tuple[str, str]]:
    """Give each recording the reference of its audio file (by name).  Returns the references that match
    no recording, ``[(annotation file, audio file name)]``.

    ValueError when none matches (a reference for other recordings), and when a reference runs past its
    recording's end (a segment ending more than ``slack`` seconds after it: the annotation of another
    or a longer recording, whose segments would all be counted missed).  A recording whose duration is
    unknown (no audio, no probabilities) takes its reference's.
    """
    used, past = set(), []
    for rec in recordings:
        key = rec.file_name if rec.file_name in references else pathlib.Path(rec.name).name
        if key not in references:
            continue
        used.add(key)
        rec.reference_file, rec.reference = references[key]
        if not len(rec.reference):
            continue
        end = float(rec.reference.offsets.max())
        if rec.audio is None and rec.probabilities is None:
            rec.duration = max(rec.duration, end)
        elif end > rec.duration + slack:
            past.append((rec, end, int(np.sum(rec.reference.offsets > rec.duration + slack))))
    if not used:
        example = next(iter(references), "none")
        raise ValueError(
            f"--reference {where}: none of its {len(references)} annotation(s) is of an annotated recording "
            f"(e.g. it annotates {example}; the annotations folder has {recordings[0].file_name})"
        )
    if past:
        rec, end, n = past[0]
        others = f"; {len(past) - 1} other recording(s) too" if len(past) > 1 else ""
        raise ValueError(
            f"--reference {where}: {rec.reference_file} annotates {rec.name} up to {end:.3f} s, but the recording "
            f"({rec.audio if rec.audio is not None else rec.annotation}) lasts {rec.duration:.3f} s: {n} of its "
            f"{len(rec.reference)} segments end past it{others}; is it the annotation of another recording? "
            "give the right reference, or one without this recording"
        )
    return [(references[key][0], key) for key in references if key not in used]
