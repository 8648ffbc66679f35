"""Boundary precision/recall/F-score: vak-tcn vs vocalpy, on 10^3..10^5 boundaries.

    python benchmarks/bench_metrics.py [--sizes 1000 10000 100000] [--repeat 5]

Boundary sets mimic song: reference boundaries ~15 ms apart on average; predictions are the
reference jittered by a few ms, with 10% dropped and 20% spurious ones added. Prints the
median time of each implementation, the speed ratio and whether the hit counts agree.
vocalpy builds an n x n distance matrix (8 * n^2 bytes), so sizes whose matrix would exceed
--vocalpy-max-gb are skipped for vocalpy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from vak_tcn.metrics import boundary_precision_recall_fscore


def boundary_sets(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = np.cumsum(rng.gamma(4.0, 0.004, n))
    hyp = ref + rng.normal(0, 0.003, n)
    hyp = hyp[rng.random(n) > 0.1]
    hyp = np.concatenate([hyp, rng.uniform(0, ref[-1], n // 5)])
    return np.unique(np.round(hyp, 3)), np.unique(np.round(ref, 3))


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=0.004)
    parser.add_argument("--vocalpy-max-gb", type=float, default=8.0)
    args = parser.parse_args(argv)
    from vocalpy.metrics.segmentation import ir

    print(f"{'boundaries':>10} {'vak-tcn (s)':>12} {'vocalpy (s)':>12} {'speed-up':>9} {'same hits':>9}")
    for n in args.sizes:
        hyp, ref = boundary_sets(n)
        ours_t, ours = median_time(lambda: boundary_precision_recall_fscore(hyp, ref, args.tolerance), args.repeat)
        if 8 * hyp.size * ref.size / 1e9 > args.vocalpy_max_gb:
            print(f"{n:>10} {ours_t:>12.5f} {'skipped':>12} {'':>9} {'':>9}  (vocalpy would need {8 * hyp.size * ref.size / 1e9:.0f} GB)")
            continue
        vp_repeat = max(1, args.repeat if n <= 10000 else 1)
        vp_t, vp = median_time(lambda: ir.precision_recall_fscore(hyp, ref, "fscore", tolerance=args.tolerance), vp_repeat)
        print(f"{n:>10} {ours_t:>12.5f} {vp_t:>12.5f} {vp_t / ours_t:>8.0f}x {str(ours['n_hits'] == vp[1]):>9}")


if __name__ == "__main__":
    main()
