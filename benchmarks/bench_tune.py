"""The post-processing tuner on synthetic validation data: seconds for the default grid of 100 settings.

    python benchmarks/bench_tune.py [--hours 1] [--file-seconds 10] [--frame-dur 0.002] [--error 0.03]

Reference frame labels mimic song: syllables of 20-120 ms (6 classes) separated by silent gaps
of 4-60 ms.  Predictions are the reference with errors of the kinds clean-up repairs: a fraction
``--error`` of the frames flipped to a random class (isolated frames and 2-5 frame bursts),
syllables split by 1-3 background frames, and their edges shifted by a frame or two.  Prints
the number of files, frames and raw runs, the tuner's total and per-setting time, and the
chosen setting with its character error rate beside raw (clean-up off).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vak_tcn.models import cleanup


def one_file(n: int, rng: np.random.Generator, error: float, frame_dur: float) -> tuple[np.ndarray, np.ndarray]:
    ref = np.zeros(n, dtype=np.int64)
    i = int(rng.integers(5, 50))
    while True:
        length = int(rng.uniform(0.020, 0.120) / frame_dur)
        gap = int(rng.uniform(0.004, 0.060) / frame_dur)
        if i + length + gap >= n:
            break
        ref[i : i + length] = rng.integers(1, 7)
        i += length + gap
    pred = ref.copy()
    starts = np.flatnonzero(rng.random(n) < error / 3)
    for s in starts:  # bursts of 1-5 wrong frames
        pred[s : s + rng.integers(1, 6)] = rng.integers(0, 7)
    edges = np.flatnonzero(np.diff(ref) != 0)
    for e in edges[rng.random(edges.size) < 0.3]:  # edges moved by a frame or two
        shift = int(rng.integers(1, 3))
        pred[e + 1 : e + 1 + shift] = pred[e]
    fg = np.flatnonzero(ref[1:-4] != 0)
    for s in rng.choice(fg, size=max(1, fg.size // 400), replace=False):  # split syllables
        pred[s : s + rng.integers(1, 4)] = 0
    return pred, ref


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--file-seconds", type=float, default=10.0)
    p.add_argument("--frame-dur", type=float, default=0.002)
    p.add_argument("--error", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n_files = max(1, round(args.hours * 3600 / args.file_seconds))
    n = round(args.file_seconds / args.frame_dur)
    files = [one_file(n, rng, args.error, args.frame_dur) for _ in range(n_files)]
    preds, refs = [f[0] for f in files], [f[1] for f in files]
    n_runs = sum(int(np.count_nonzero(np.diff(pr)) + 1) for pr in preds)
    t0 = time.perf_counter()
    result = cleanup.tune(preds, refs, args.frame_dur)
    seconds = time.perf_counter() - t0
    raw = result.scores_of(cleanup.Settings())
    print(
        f"{n_files} files, {result.n_frames} frames ({result.audio_s / 3600:.2f} h at {args.frame_dur * 1000:g} ms), "
        f"{n_runs} runs of predicted labels"
    )
    print(
        f"tuner: {len(result.settings)} settings in {seconds:.2f} s ({seconds / len(result.settings) * 1000:.0f} ms each)"
    )
    print(
        f"chosen ({result.rule}): {result.best.describe()}: CER {result.best_scores['character_error_rate']:.4f} (raw {raw['character_error_rate']:.4f})"
    )


if __name__ == "__main__":
    main()
