"""``vak-tcn bench-live``: the latency of live annotation with a causal TCN.

For the poster's causal TCN (8 layers, kernel 2, 64 channels; untrained weights: speed does not
depend on them) at 2 ms frames (32 kHz audio, ``step_size`` 64, ``fft_size`` 512, 152 bins):

* compute per push of 1, 4 and 16 frames through :class:`~vak_tcn.nn.incremental.IncrementalNetwork`
  (median, p99 and maximum over ``--pushes`` pushes after a warm-up);
* the whole pipeline (:class:`~vak_tcn.live.stream.Stream`: filter, spectrogram, network, events)
  fed synthetic song as fast as it goes, in pushes of one frame and of the largest hop: x real time;
* the algorithmic latency: from the sample that completes a frame to the push that labels it
  (the network's lookahead; 0 for a causal TCN), and from a frame's centre to that sample
  (``fft_size / 2``).

Prints a table; ``--out`` writes it as JSON too.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="TCN", choices=["TCN", "ConvTCN"])
    p.add_argument("--hops", type=int, nargs="+", default=[1, 4, 16], help="frames per push (default 1 4 16)")
    p.add_argument("--pushes", type=int, default=10000, help="timed pushes per hop size (default 10000)")
    p.add_argument("--seconds", type=float, default=30.0, help="audio for the pipeline run (default 30 s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: lowest latency)")
    p.add_argument("--out", type=pathlib.Path, default=None, help="write the figures as JSON here")


def _percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max_ms": 1000 * ordered[-1],
    }


def measure(model: str = "TCN", hops=(1, 4, 16), pushes: int = 10000, seconds: float = 30.0, threads: int = 1) -> dict:
    import torch

    from ..inference.spectrogram import SpectParams
    from ..models import catalogue
    from ..nn.incremental import IncrementalNetwork
    from .stream import Stream

    if pushes < 1 or seconds <= 0 or threads < 1 or any(h < 1 for h in hops):
        raise ValueError("--pushes, --seconds, --threads and every --hops value must be positive")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rate, params = 32000, SpectParams(fft_size=512, step_size=64, transform_type="log_spect", freq_cutoffs=(500, 10000))
    bins = len(params.freqbins(rate))
    labelmap = {"background": 0, **{c: i + 1 for i, c in enumerate("abcdefghij")}}
    net = catalogue.get(model).network_class()(num_classes=len(labelmap), num_freqbins=bins, causal=True).eval()
    engine = IncrementalNetwork(net)
    report = {"model": model, "frame_ms": 1000 * params.step_size / rate, "threads": threads, "hops": {}}
    for hop in hops:
        frames = torch.randn(1, bins, hop)
        for _ in range(200):  # warm-up, and a full receptive field of state
            engine.push(frames)
        times = []
        for _ in range(pushes):
            start = time.perf_counter()
            engine.push(frames)
            times.append(time.perf_counter() - start)
        report["hops"][hop] = {**_percentiles(times), "per_frame_ms": 1000 * statistics.median(times) / hop}
    # the whole pipeline, as fast as it goes
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    audio = 0.01 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 3000 * t) * (t % 0.5 < 0.2)
    report["pipeline"] = {}
    for hop in (1, max(hops)):  # fed as fast as it goes, in pushes of `hop` frames of audio
        stream = Stream(net, labelmap, params, rate)
        size = hop * params.step_size
        start = time.perf_counter()
        for i in range(0, n, size):
            stream.push(audio[i : i + size])
        stream.finish()
        wall = time.perf_counter() - start
        report["pipeline"][hop] = {
            "audio_s": seconds,
            "wall_s": wall,
            "x_real_time": seconds / wall,
            **_percentiles(stream.compute_s),
        }
    report["algorithmic_latency_ms"] = 1000 * stream.latency_s
    report["frame_centre_to_sample_ms"] = 1000 * stream.frame_delay_s
    return report


def format_report(r: dict) -> str:
    lines = [
        f"vak-tcn bench-live: causal {r['model']}, {r['frame_ms']:g} ms frames, {r['threads']} thread(s)",
        f"{'frames/push':>11} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'ms/frame':>9}",
    ]
    for hop, h in r["hops"].items():
        lines.append(
            f"{hop:>11} {h['median_ms']:>10.3f} {h['p99_ms']:>8.3f} {h['max_ms']:>8.3f} {h['per_frame_ms']:>9.3f}"
        )
    for hop, p in r["pipeline"].items():
        lines.append(
            f"pipeline (filter + spectrogram + network + events), {hop}-frame pushes: {p['x_real_time']:.1f}x real time "
            f"({p['audio_s']:g} s in {p['wall_s']:.2f} s); per push median {p['median_ms']:.3f} ms, p99 {p['p99_ms']:.3f} ms"
        )
    lines.append(
        f"algorithmic latency: {r['algorithmic_latency_ms']:.1f} ms after the sample that completes a frame "
        f"(+ compute); a frame's centre is {r['frame_centre_to_sample_ms']:.1f} ms before that sample"
    )
    return "\n".join(lines)


def main_latency(args: argparse.Namespace) -> int:
    report = measure(args.model, args.hops, args.pushes, args.seconds, args.threads)
    print(format_report(report))
    if args.out is not None:
        from .._atomic import write_text

        write_text(args.out, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0
