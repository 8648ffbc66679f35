"""End-to-end speed and peak memory of ``vak-tcn annotate`` on long recordings, vs stock vak predict.

    python benchmarks/bench_annotate.py [--minutes 1 10 120] [--models TCN ConvTCN TweetyNetPlugin]
                                        [--max-minutes ConvTCN=10 TweetyNetPlugin=10]
                                        [--vak-predict 10] [--vak-predict-max-gb 8] [--threads N]
                                        [--out bench-annotate]

Synthetic song (noise plus gated chirps, 32 kHz, 16-bit) is written block by block with
``soundfile.SoundFile`` (never held whole) for each duration.  Models get seeded, untrained
weights (speed and memory do not depend on training) with vak-tcn's default network sizes,
a standardizer fitted on 10 s of the same song, and a stock vak predict config (512-point
FFT, 64-sample hop: 2 ms frames, 500-10000 Hz).  Each ``vak-tcn annotate`` run is a fresh
process (``--chunk-seconds 60``); the table gives the recording's own seconds from its output
line, the whole process's wall time (imports and model loading included), both as multiples
of real time, and the process's peak resident memory (``ru_maxrss`` from ``os.wait4``).

``--vak-predict M``: stock ``vak prep`` + ``vak predict`` with vak's own TweetyNet on the
M-minute file, each a process measured the same way; and the same on the longest file,
with the address space capped at ``--vak-predict-max-gb`` so that it fails instead of
swapping the machine.

``--exact`` adds ``vak-tcn annotate --exact`` runs (vak's float64 spectrogram, two passes) beside the
default float32 ones; ``--profile`` prints each run's seconds per hour of audio per stage.

Agreement of the float32 default with ``--exact`` (docs/annotate.md), for a trained model::

    python benchmarks/bench_annotate.py --agreement predict.toml --data held-out/ other-seed/ real-bout/

annotates each folder (``--recursive``) both ways with ``--probabilities`` and prints, per folder and in
all, the share of frames whose label is the same, and each way's boundary precision, recall and F-score
against the folder's own annotations (``simple-seq`` ``NAME.wav.csv`` or ``NAME.wav.not.mat``) at 4 and
10 ms (``vak_tcn.metrics``, counts summed over files).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
import subprocess
import sys
import time

import numpy as np

RATE = 32000
SPECT_PARAMS = {"fft_size": 512, "step_size": 64, "freq_cutoffs": [500, 10000], "transform_type": "log_spect"}


def write_song(path: pathlib.Path, minutes: float, seed: int = 0, block_s: int = 10) -> pathlib.Path:
    """Synthetic song, written block by block."""
    import soundfile

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_name(path.name + ".tmp.wav")
    n = int(minutes * 60 * RATE)
    with soundfile.SoundFile(tmp, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        for start in range(0, n, block_s * RATE):
            t = np.arange(start, min(n, start + block_s * RATE)) / RATE
            chirp = np.sin(2 * np.pi * (2000 + 3000 * np.sin(3 * t)) * t) * (t % 0.5 < 0.2)
            f.write(0.01 * rng.standard_normal(len(t)) + 0.3 * chirp)
    os.replace(tmp, path)
    return path


def make_model(out: pathlib.Path, model: str, data_dir: pathlib.Path) -> pathlib.Path:
    """Seeded untrained weights, labelmap, standardizer and a stock vak predict config."""
    import joblib
    import soundfile
    import torch
    import vak
    from vak.transforms import FramesStandardizer

    from vak_tcn.experiments import configs
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.plugins import vak_compat

    out.mkdir(parents=True, exist_ok=True)
    labelmap = {"background": 0, **{c: i + 1 for i, c in enumerate("abcdefghijk")}}  # 12 classes
    sample = write_song(out.parent / "sample-10s.wav", 10 / 60, seed=1)
    audio, rate = soundfile.read(sample)
    spect = vak_compat.spectrogram(audio, rate, SpectParams.from_vak(SPECT_PARAMS))[0]
    joblib.dump(FramesStandardizer.fit(spect), out / "FramesStandardizer")
    (out / "labelmap.json").write_text(json.dumps(labelmap))
    torch.manual_seed(0)
    config = {"name": model, "network": {}, "optimizer": {}, "loss": {}, "metrics": {}}
    net = vak.models.get(
        model, config, num_classes=len(labelmap), input_shape=(1, spect.shape[0], 176), labelmap=labelmap
    )
    torch.save({"state_dict": net.state_dict()}, out / "checkpoint.pt")
    doc = configs.vak_config(
        command="predict",
        model=model,
        data_dir=data_dir,
        prep_output_dir=out / "prep",
        labelset="abcdefghijk",
        spect_params=SPECT_PARAMS,
        window_size=176,
        batch_size=8,
        checkpoint_path=out / "checkpoint.pt",
        labelmap_path=out / "labelmap.json",
        frames_standardizer_path=out / "FramesStandardizer",
        output_dir=out / "predict",
        annot_csv_filename="predict.annot.csv",
    )
    del doc["vak"]["prep"]["annot_format"]  # recordings to predict have no annotations
    del doc["vak"]["prep"]["labelset"]
    (out / "predict").mkdir(exist_ok=True)
    return configs.write_config(doc, out / "predict.toml")


def run_measured(cmd: list[str], max_gb: float | None = None) -> dict:
    """Run a command: its wall time, exit status, output and its own peak RSS (MB, from ``os.wait4``)."""

    def limit():
        if max_gb:
            cap = int(max_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    out_path = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-annotate-{os.getpid()}.log"
    with open(out_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, preexec_fn=limit)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = out_path.read_text()
    out_path.unlink()
    return {"wall_s": wall, "rc": proc.returncode, "peak_mb": usage.ru_maxrss / 1024, "output": output}


def console(name: str) -> str:
    return str(pathlib.Path(sys.executable).parent / name)


def true_segments(audio: pathlib.Path):
    """``(onsets_s, offsets_s)`` of a recording's own annotation: ``NAME.wav.csv`` (simple-seq) or
    ``NAME.wav.not.mat`` (notmat); None without one."""
    import crowsetta

    for suffix, fmt in ((".csv", "simple-seq"), (".not.mat", "notmat")):
        path = audio.with_name(audio.name + suffix)
        if path.is_file():
            seq = crowsetta.Transcriber(format=fmt).from_file(path).to_annot().seq
            return np.asarray(seq.onsets_s, dtype=float), np.asarray(seq.offsets_s, dtype=float)
    return None


def agreement(config: pathlib.Path, folders: list[pathlib.Path], out: pathlib.Path, tolerances=(0.004, 0.010)) -> int:
    """The float32 default against ``--exact``: frame labels, and boundary scores against the true syllables."""
    import pandas as pd

    from vak_tcn.metrics import boundaries_from_segments, boundary_precision_recall_fscore

    totals = {"frames": 0, "same": 0}
    counts = {}  # (way, tolerance) -> [hits, n_hyp, n_ref], all folders
    header = f"{'data':<24}{'files':>6}{'frames':>10}{'same':>9}"
    for way in ("exact", "float32"):
        header += "".join(f"{f'F {way} {t * 1000:g}ms':>18}" for t in tolerances)
    print(header)
    for folder in folders:
        results = {}
        for way, extra in (("exact", ["--exact"]), ("float32", [])):
            results[way] = out / "agreement" / folder.name / way
            cmd = [console("vak-tcn"), "annotate", str(config), str(folder), "--recursive", "--probabilities"]
            r = run_measured([*cmd, "--out", str(results[way]), *extra])
            if r["rc"] != 0:
                print(f"{folder} ({way}) failed:\n{r['output'][-3000:]}")
                return 1
        frames = same = files = 0
        folder_counts = {}
        for audio in sorted(folder.rglob("*.wav")):
            relative = audio.relative_to(folder)
            probs = {}
            for way, where in results.items():
                with np.load(where / relative.with_name(audio.name + ".probabilities.npz")) as npz:
                    probs[way] = npz["probabilities"].argmax(0)
            frames, same, files = (
                frames + probs["exact"].size,
                same + int(np.sum(probs["exact"] == probs["float32"])),
                files + 1,
            )
            truth = true_segments(audio)
            if truth is None:
                continue
            reference = boundaries_from_segments(*truth)
            for way, where in results.items():
                table = pd.read_csv(where / relative.with_name(audio.name + ".annot.csv"))
                hypothesis = boundaries_from_segments(
                    table["onset_s"].to_numpy(float), table["offset_s"].to_numpy(float)
                )
                for t in tolerances:
                    scores = boundary_precision_recall_fscore(hypothesis, reference, tolerance=t)
                    for c in (folder_counts, counts):
                        hits = c.setdefault((way, t), [0, 0, 0])
                        hits[0] += scores["n_hits"]
                        hits[1] += len(hypothesis)
                        hits[2] += len(reference)
        totals["frames"] += frames
        totals["same"] += same
        print(
            f"{folder.name:<24}{files:>6}{frames:>10}{same / max(frames, 1):>9.5f}"
            + _f_scores(folder_counts, tolerances)
        )
    print(
        f"{'all':<24}{'':>6}{totals['frames']:>10}{totals['same'] / max(totals['frames'], 1):>9.5f}"
        + _f_scores(counts, tolerances)
    )
    print("same: frames whose label (argmax) is the same both ways; F: boundary F-score against the true syllables")
    print("(hits, predicted and true boundaries summed over files; tolerance +/- 4 and 10 ms, vak_tcn.metrics)")
    return 0


def _f_scores(counts: dict, tolerances) -> str:
    text = ""
    for way in ("exact", "float32"):
        for t in tolerances:
            hits, n_hyp, n_ref = counts.get((way, t), (0, 0, 0))
            f = 2 * hits / (n_hyp + n_ref) if n_hyp + n_ref else float("nan")
            text += f"{f:>18.4f}"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 120])
    parser.add_argument("--models", nargs="+", default=["TCN", "ConvTCN", "TweetyNetPlugin"])
    parser.add_argument(
        "--max-minutes", nargs="*", default=[], help="MODEL=M: longest recording for that model (slow models)"
    )
    parser.add_argument("--vak-predict", type=float, default=None, help="minutes of the file for stock vak predict")
    parser.add_argument("--vak-predict-max-gb", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=None, help="passed to vak-tcn annotate --threads")
    parser.add_argument("--exact", action="store_true", help="also run vak-tcn annotate --exact (float64, two passes)")
    parser.add_argument("--profile", action="store_true", help="print each annotate run's seconds per stage")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-annotate"))
    parser.add_argument(
        "--agreement", type=pathlib.Path, default=None, metavar="CONFIG",
        help="a trained model's predict config: float32 against --exact on --data's folders (nothing else is run)",
    )  # fmt: skip
    parser.add_argument("--data", type=pathlib.Path, nargs="*", default=[], help="folders of annotated recordings")
    args = parser.parse_args(argv)
    if args.agreement is not None:
        return agreement(args.agreement.resolve(), [d.resolve() for d in args.data], args.out.resolve())
    max_minutes = {k: float(v) for k, v in (item.split("=") for item in args.max_minutes)}
    out = args.out.resolve()
    rows = []
    audio_dirs = {}
    for minutes in args.minutes:
        d = out / "audio" / f"{minutes:g}min"
        d.mkdir(parents=True, exist_ok=True)
        write_song(d / f"song-{minutes:g}min.wav", minutes)
        audio_dirs[minutes] = d
    ways = [("float32", [])] + ([("exact", ["--exact"])] if args.exact else [])
    print(
        f"{'model':<16}{'spect':>8}{'audio':>8}{'segments':>10}{'rec s':>9}{'x real':>9}{'e2e s':>9}{'x real':>9}"
        f"{'peak MB':>9}"
    )
    for model in args.models:
        config = make_model(out / "models" / model, model, audio_dirs[min(args.minutes)])
        for minutes in args.minutes:
            if minutes > max_minutes.get(model, float("inf")):
                continue
            audio = next(audio_dirs[minutes].glob("*.wav"))
            for way, extra in ways:  # in turn, so that a change in the machine's load falls on both
                result_dir = out / "annotations" / model / f"{minutes:g}min-{way}"
                for old in result_dir.glob("*"):
                    old.unlink()
                cmd = [console("vak-tcn"), "annotate", str(config), str(audio), "--out", str(result_dir)]
                cmd += ["--chunk-seconds", "60", *extra, *(["--profile"] if args.profile else [])]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                r = run_measured(cmd)
                line = re.search(r": ([\d.]+) s, (\d+) segments, ([\d.]+) s,", r["output"])
                if r["rc"] != 0 or line is None:
                    print(f"{model} {minutes} min failed:\n{r['output'][-3000:]}")
                    continue
                duration, n_segments, rec_s = float(line[1]), int(line[2]), float(line[3])
                row = dict(
                    tool="vak-tcn annotate",
                    model=model,
                    spectrogram=way,
                    minutes=minutes,
                    segments=n_segments,
                    recording_s=rec_s,
                    x_real=duration / rec_s,
                    e2e_s=r["wall_s"],
                    e2e_x_real=duration / r["wall_s"],
                    peak_mb=r["peak_mb"],
                )
                rows.append(row)
                print(
                    f"{model:<16}{way:>8}{minutes:>6g}mn{n_segments:>10}{rec_s:>9.1f}{row['x_real']:>9.0f}"
                    f"{r['wall_s']:>9.1f}{row['e2e_x_real']:>9.0f}{r['peak_mb']:>9.0f}",
                    flush=True,
                )
                if args.profile:
                    start = r["output"].find("profile:")
                    print(r["output"][start:].rstrip() if start >= 0 else "(no profile)", flush=True)
    if args.vak_predict is not None:
        for minutes, cap in ((args.vak_predict, None), (max(args.minutes), args.vak_predict_max_gb)):
            config = make_model(out / "models" / f"vak-TweetyNet-{minutes:g}min", "TweetyNet", audio_dirs[minutes])
            for command in ("prep", "predict"):
                r = run_measured([console("vak"), command, str(config)], max_gb=cap)
                row = dict(tool=f"vak {command}", model="TweetyNet", minutes=minutes, e2e_s=r["wall_s"], rc=r["rc"])
                row.update(peak_mb=r["peak_mb"], e2e_x_real=minutes * 60 / r["wall_s"], cap_gb=cap)
                if r["rc"] != 0:
                    row["error"] = (r["output"].strip().splitlines() or [""])[-1][-300:]
                rows.append(row)
                status = "ok" if r["rc"] == 0 else f"FAILED (exit {r['rc']}): {row.get('error', '')}"
                cap_note = f", address space capped at {cap:g} GB" if cap else ""
                print(
                    f"vak {command:<8} TweetyNet {minutes:>6g} min: {r['wall_s']:.1f} s "
                    f"({row['e2e_x_real']:.1f}x real time), peak {r['peak_mb']:.0f} MB{cap_note}: {status}",
                    flush=True,
                )
                if r["rc"] != 0:
                    break
    (out / "bench-annotate.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {out / 'bench-annotate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
