"""Frame-label agreement of recordings resampled to the model's rate with the recording made at it.

    PYTHONPATH=src python benchmarks/resample_agreement.py RESULTS_DIR AUDIO [AUDIO ...] [--rates 44100 48000]
        [--out DIR]

RESULTS_DIR: a ``vak train`` results directory (its first trained model, as ``vak-tcn tune``/``report``
find it); AUDIO: recordings at the model's rate (e.g. a test split's ``.cbin`` files).  Each recording is
resampled with soxr (HQ) to each of ``--rates`` and written as a float WAV; ``vak-tcn annotate``'s
driver (:func:`vak_tcn.inference.annotate.annotate_all`) annotates the originals and the copies, the
copies resampled back to the model's rate as annotate reads them.  Prints, per rate, the agreement of
the frame labels with those of the original, on the original's frames: raw (the argmax of the
per-frame probabilities) and cleaned (the labels of the annotation's segments at each frame's time,
the model's clean-up applied).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile

import numpy as np


def read(path: pathlib.Path) -> tuple[np.ndarray, int]:
    from vak_tcn.audio.read import audio_info, block_reader

    info = audio_info(path)
    samples = np.concatenate(list(block_reader(path, info, None)(1 << 20)))
    return samples.astype(np.float64), info.samplerate


def frame_labels(out: pathlib.Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(raw labels, cleaned labels, frame times)`` of one annotated recording (cleaned: the segment's
    label at each frame's time, -1 between segments)."""
    import crowsetta

    with np.load(out / f"{name}.probabilities.npz") as npz:
        raw, times, names = npz["probabilities"].argmax(axis=0), npz["frame_times"], list(npz["labels"])
    (annot,) = crowsetta.Transcriber(format="generic-seq").from_file(out / f"{name}.annot.csv").to_annot()
    cleaned = np.full(len(times), -1)
    for label, onset, offset in zip(annot.seq.labels, annot.seq.onsets_s, annot.seq.offsets_s, strict=True):
        cleaned[(times >= onset) & (times < offset)] = names.index(str(label))
    return raw, cleaned, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=pathlib.Path)
    parser.add_argument("audio", nargs="+", type=pathlib.Path, help="recordings at the model's sample rate")
    parser.add_argument("--rates", nargs="+", type=int, default=[44100, 48000])
    parser.add_argument("--out", type=pathlib.Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()

    import soundfile
    import soxr

    from vak_tcn.inference.annotate import Options, annotate_all
    from vak_tcn.models.trained import find_runs

    runs = find_runs(args.results_dir)
    model = runs[0].load()
    print(f"model: {runs[0].checkpoint}; trained at {model.samplerate} Hz ({model.samplerate_source})")
    work = args.out or pathlib.Path(tempfile.mkdtemp(prefix="resample-agreement-"))
    options = Options(probabilities=True)
    copies = {rate: work / f"audio-{rate}" for rate in args.rates}
    for path in args.audio:
        samples, rate = read(path)
        if rate != model.samplerate:
            raise SystemExit(f"{path}: {rate} Hz, the model's rate is {model.samplerate} Hz")
        for other, folder in copies.items():
            folder.mkdir(parents=True, exist_ok=True)
            resampled = soxr.resample(samples, rate, other, "HQ")
            soundfile.write(folder / f"{path.name}.wav", resampled, other, subtype="DOUBLE")
    echo = lambda line: None  # noqa: E731  (one line per recording: not needed here)
    annotate_all(model, list(args.audio), out_dir=work / "annot-model-rate", options=options, echo=echo)
    for other, folder in copies.items():
        said = []
        annotate_all(model, [folder], out_dir=work / f"annot-{other}", options=options, echo=said.append)
        print(*[line for line in said if "resampled" in line or "failed" in line], sep="\n")
        counts = np.zeros(3)  # frames, raw agreeing, cleaned agreeing
        for path in args.audio:
            raw, cleaned, times = frame_labels(work / "annot-model-rate", path.name)
            raw_o, cleaned_o, times_o = frame_labels(work / f"annot-{other}", f"{path.name}.wav")
            n = min(len(raw), len(raw_o))
            assert abs(len(raw) - len(raw_o)) <= 1 and np.allclose(times[:n], times_o[:n])
            counts += (len(raw), np.sum(raw[:n] == raw_o[:n]), np.sum(cleaned[:n] == cleaned_o[:n]))
        print(
            f"{other} Hz -> {model.samplerate} Hz: {len(args.audio)} recording(s), {int(counts[0])} frames; "
            f"raw frame labels equal on {100 * counts[1] / counts[0]:.3f} %, cleaned on {100 * counts[2] / counts[0]:.3f} %"
        )


if __name__ == "__main__":
    main()
