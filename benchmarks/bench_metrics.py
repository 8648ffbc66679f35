"""Boundary precision/recall/F-score: vak-tcn vs vocalpy, on 10^3..10^5 boundaries.

    python benchmarks/bench_metrics.py [--sizes 1000 10000 100000] [--repeat 5]
                                       [--tolerance 0.004] [--vocalpy-max-s 60] [--vocalpy-max-gb 4]

Boundary sets mimic song: reference boundaries ~16 ms apart on average (gamma
distributed, so some are closer than the tolerance and compete); predictions
are the reference jittered by ~3 ms, with 10% dropped and 20% spurious ones
added, rounded to 1 ms and made unique (vocalpy requires strictly increasing
arrays).  Prints the median time of vak-tcn (vocalpy's greedy rule and the
optimal matching) and of :func:`vocalpy.metrics.segmentation.ir.precision_recall_fscore`,
the speed ratio, and whether the hit counts agree.

vocalpy builds the n_ref x n_hyp distance matrix (9 bytes per pair with the
boolean mask) and then loops in Python with list membership tests (quadratic in
the number of hits), so it is capped: it runs in a child process that is
stopped after ``--vocalpy-max-s`` seconds, and sizes whose matrix would exceed
``--vocalpy-max-gb`` are not run at all.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import numpy as np

from vak_tcn.metrics import boundary_precision_recall_fscore


def boundary_sets(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(hypothesis, reference) boundary times in seconds, ~n reference boundaries."""
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


def _vocalpy_child(conn, hyp, ref, tolerance, repeat, max_s):
    from vocalpy.metrics.segmentation import ir

    times, n_tp = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        _, n_tp, _ = ir.precision_recall_fscore(hyp, ref, "fscore", tolerance=tolerance)
        times.append(time.perf_counter() - start)
        if sum(times) > max_s / 2:  # no time for another run
            break
    conn.send((statistics.median(times), n_tp, len(times)))
    conn.close()


def time_vocalpy(hyp, ref, tolerance, repeat, max_s):
    """(median seconds, hits, runs) or None if it ran past max_s (then it is stopped)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_vocalpy_child, args=(child, hyp, ref, tolerance, repeat, max_s))
    proc.start()
    child.close()
    result = parent.recv() if parent.poll(max_s) else None
    if result is None:
        proc.terminate()
    proc.join()
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="reference boundaries")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median reported)")
    parser.add_argument("--tolerance", type=float, default=0.004, help="seconds (default 0.004)")
    parser.add_argument("--vocalpy-max-s", type=float, default=60.0, help="stop vocalpy after this many seconds")
    parser.add_argument("--vocalpy-max-gb", type=float, default=4.0, help="skip vocalpy if its matrices need more")
    args = parser.parse_args(argv)

    head = (
        f"{'n_ref':>7} {'n_hyp':>7} {'vak-tcn (ms)':>12} {'optimal (ms)':>12} {'vocalpy (s)':>12} "
        f"{'speed-up':>9} {'hits':>7} {'vocalpy hits':>12} {'optimal hits':>12}"
    )
    print(f"tolerance {args.tolerance} s; median of {args.repeat} runs (vocalpy: fewer if slow)")
    print(head)
    print("-" * len(head))
    notes = []
    for n in args.sizes:
        hyp, ref = boundary_sets(n)
        ours_t, ours = median_time(
            lambda hyp=hyp, ref=ref: boundary_precision_recall_fscore(hyp, ref, args.tolerance), args.repeat
        )
        opt_t, opt = median_time(
            lambda hyp=hyp, ref=ref: boundary_precision_recall_fscore(hyp, ref, args.tolerance, matching="optimal"),
            args.repeat,
        )
        gb = 9 * hyp.size * ref.size / 1e9
        if gb > args.vocalpy_max_gb:
            vp, why = None, f"not run: its distance matrix and mask need {gb:.0f} GB (> {args.vocalpy_max_gb:g} GB)"
        else:
            vp = time_vocalpy(hyp, ref, args.tolerance, args.repeat, args.vocalpy_max_s)
            why = f"stopped after {args.vocalpy_max_s:g} s" if vp is None else ""
        if vp is None:
            vp_col, ratio, vp_hits = "> cap", "-", "-"
            notes.append(f"n_ref={ref.size}: vocalpy {why}")
        else:
            vp_col, ratio, vp_hits = f"{vp[0]:.3f}", f"{vp[0] / ours_t:.0f}x", str(vp[1])
            if vp[2] < args.repeat:
                notes.append(f"n_ref={ref.size}: vocalpy timed over {vp[2]} run(s)")
        print(
            f"{ref.size:>7} {hyp.size:>7} {ours_t * 1e3:>12.2f} {opt_t * 1e3:>12.2f} {vp_col:>12} "
            f"{ratio:>9} {ours['n_hits']:>7} {vp_hits:>12} {opt['n_hits']:>12}"
        )
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
