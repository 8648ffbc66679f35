"""``vak-tcn bench``: speed and memory of TweetyNet (vak's), TCN and ConvTCN, and plugin overheads.

For each model and window size, in a fresh subprocess (so peak memory and thread settings
are its own): parameter count, receptive field, training throughput (frames/s for forward +
backward + Adam step), inference throughput (frames/s and "x real time" for the given frame
duration) and peak memory (GPU: ``torch.cuda.max_memory_allocated``; CPU: growth of the
process's peak resident set while training).  Each timing is the median of ``--repeats``
runs after ``--warmup`` runs.  Ratios are to TweetyNet measured in the same invocation.

Plugin overheads: the time the start-up hook adds to a Python process that never imports
vak, and to ``import vak`` (medians of interleaved runs with ``VAK_TCN_DISABLE=1`` and
without).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time

from .._atomic import atomic_write, write_text
from ..models import catalogue

#: the models, by display name (the catalogue's)
MODELS = tuple(entry.label for entry in catalogue.MODELS)
#: ratios are to this model, vak's own TweetyNet network
REFERENCE = catalogue.get("TweetyNetPlugin").label


def _build(model: str, num_classes: int, freqbins: int):
    network = catalogue.get(model).network_class()
    return network(num_classes=num_classes, num_input_channels=1, num_freqbins=freqbins)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure_one(
    model: str, window: int, batch: int, freqbins: int, num_classes: int, device: str, warmup: int, repeats: int
) -> dict:
    """Measure one model in this process (called in a subprocess by :func:`run`)."""
    import torch

    from ..nn.tcn import inference_copy

    torch.manual_seed(0)
    net = _build(model, num_classes, freqbins).to(device)
    n_params = sum(p.numel() for p in net.parameters())
    x = torch.randn(batch, 1, freqbins, window, device=device)
    y = torch.randint(0, num_classes, (batch, window), device=device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    rss_before = _peak_rss_mb()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    net.train()
    for _ in range(warmup):
        train_step()
    sync()
    train_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        train_step()
        sync()
        train_times.append(time.perf_counter() - start)
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = _peak_rss_mb() - rss_before

    infer_net = inference_copy(net)  # as vak-tcn's family runs predict and eval
    infer_times = []
    with torch.inference_mode():
        for _ in range(warmup):
            infer_net(x)
        sync()
        for _ in range(repeats):
            start = time.perf_counter()
            infer_net(x)
            sync()
            infer_times.append(time.perf_counter() - start)
    frames = batch * window
    return {
        "model": model,
        "window": window,
        "batch": batch,
        "device": device,
        "params": n_params,
        "receptive_field": getattr(net, "receptive_field", None),
        "train_frames_per_s": frames / statistics.median(train_times),
        "infer_frames_per_s": frames / statistics.median(infer_times),
        "peak_train_memory_mb": peak_mb,
        "threads": torch.get_num_threads(),
    }


def _startup_overheads(repeats: int) -> dict:
    """Median wall time of `python -c pass` and `python -c 'import vak'`, hook on vs off."""

    def timed(code: str, disabled: bool) -> float:
        env = {k: v for k, v in os.environ.items() if k != "VAK_TCN_DISABLE"}
        if disabled:
            env["VAK_TCN_DISABLE"] = "1"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    out = {}
    for name, code, n in (("startup", "pass", repeats * 5), ("import_vak", "import vak", repeats)):
        timed(code, False), timed(code, True)  # warm the file cache
        on, off = [], []
        for _ in range(n):  # interleaved, so drifts in machine load hit both
            on.append(timed(code, False))
            off.append(timed(code, True))
        out[f"{name}_with_hook_s"] = statistics.median(on)
        out[f"{name}_without_hook_s"] = statistics.median(off)
        out[f"{name}_overhead_ms"] = 1000 * (statistics.median(on) - statistics.median(off))
    # in-process cost of the hook itself: import of vak_tcn.plugins.startup, no subprocess noise
    code = "import time, sys; t=time.perf_counter(); import vak_tcn.plugins.startup; print(time.perf_counter()-t)"
    env = {**os.environ, "VAK_TCN_DISABLE": "1"}
    samples = [
        float(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout)
        for _ in range(repeats * 3)
    ]
    out["hook_import_ms"] = 1000 * statistics.median(samples)
    return out


def run(args: argparse.Namespace) -> dict:
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    results = []
    for window in args.windows:
        for model in args.models:
            cmd = [
                sys.executable,
                "-m",
                "vak_tcn.experiments.bench",
                "--_one",
                model,
                str(window),
                str(args.batch),
                str(args.freqbins),
                str(args.classes),
                device,
                str(args.warmup),
                str(args.repeats),
            ]
            print(f"  measuring {model} window {window} batch {args.batch} on {device} ...", flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"benchmark of {model} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for row in results:
        ref = (
            next(r for r in results if r["model"] == REFERENCE and r["window"] == row["window"])
            if REFERENCE in args.models
            else None
        )
        row["x_real_time"] = row["infer_frames_per_s"] * args.frame_dur
        if ref:
            row["train_vs_tweetynet"] = row["train_frames_per_s"] / ref["train_frames_per_s"]
            row["infer_vs_tweetynet"] = row["infer_frames_per_s"] / ref["infer_frames_per_s"]
            row["memory_vs_tweetynet"] = (
                row["peak_train_memory_mb"] / ref["peak_train_memory_mb"] if ref["peak_train_memory_mb"] > 0 else None
            )
    report = {
        "results": results,
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "machine": _machine(),
    }
    if not args.skip_overheads:
        print("  measuring plugin overheads (start-up hook, import vak) ...", flush=True)
        report["overheads"] = _startup_overheads(args.overhead_repeats)
    return report


def _machine() -> dict:
    import platform

    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def format_table(report: dict) -> str:
    lines = [
        f"{'model':9} {'window':>6} {'params':>9} {'RF':>5} {'train fr/s':>11} {'x TN':>6} {'infer fr/s':>11} {'x TN':>6} {'x real':>8} {'peak MB':>8} {'x TN':>5}"
    ]
    for r in report["results"]:

        def ratio(key, r=r):
            return f"{r[key]:.2f}" if r.get(key) is not None else "-"

        lines.append(
            f"{r['model']:9} {r['window']:>6} {r['params']:>9,} {r['receptive_field'] or '-':>5} {r['train_frames_per_s']:>11,.0f} {ratio('train_vs_tweetynet'):>6} "
            f"{r['infer_frames_per_s']:>11,.0f} {ratio('infer_vs_tweetynet'):>6} {r['x_real_time']:>8,.0f} {r['peak_train_memory_mb']:>8.0f} {ratio('memory_vs_tweetynet'):>5}"
        )
    if "overheads" in report:
        o = report["overheads"]
        lines.append(
            f"plugin overhead: start-up hook import {o['hook_import_ms']:.2f} ms in-process; python start {o['startup_overhead_ms']:+.1f} ms "
            f"({o['startup_with_hook_s'] * 1000:.0f} vs {o['startup_without_hook_s'] * 1000:.0f} ms); import vak {o['import_vak_overhead_ms']:+.0f} ms "
            f"({o['import_vak_with_hook_s']:.2f} vs {o['import_vak_without_hook_s']:.2f} s)"
        )
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--windows", nargs="+", type=int, default=[176, 2000])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument(
        "--freqbins",
        type=int,
        default=152,
        help="spectrogram frequency bins (default 152: 500-10000 Hz at 32 kHz, fft 512)",
    )
    p.add_argument("--classes", type=int, default=12)
    p.add_argument(
        "--frame-dur", type=float, default=0.002, help="seconds per frame, for 'x real time' (default 0.002)"
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--overhead-repeats", type=int, default=7)
    p.add_argument("--skip-overheads", action="store_true")
    p.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("bench-results"), help="directory for bench.json and bench.csv"
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Raise ValueError naming the first option that cannot give a measurement."""
    for option in ("batch", "repeats", "freqbins", "classes", "overhead_repeats"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be at least 0, got {args.warmup}")
    bad = [w for w in args.windows if w < 1]
    if bad:
        raise ValueError(f"--windows must be at least 1 frame, got {bad[0]}")
    if args.frame_dur <= 0:
        raise ValueError(f"--frame-dur must be positive seconds, got {args.frame_dur}")
    device = args.device
    if device != "auto" and device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ValueError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA GPU is visible to torch here; use --device cpu or auto")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: only {torch.cuda.device_count()} CUDA GPU(s) visible")


def main_bench(args: argparse.Namespace) -> int:
    check_arguments(args)
    print(f"vak-tcn bench: {', '.join(args.models)}; windows {args.windows}; batch {args.batch}", flush=True)
    report = run(args)
    table = format_table(report)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "bench.json", json.dumps(report, indent=2, default=str))
    import pandas as pd

    with atomic_write(args.out / "bench.csv", "w", newline="") as fh:
        pd.DataFrame(report["results"]).to_csv(fh, index=False)
    write_text(args.out / "bench.txt", table + "\n")
    print(f"wrote {args.out / 'bench.json'}, {args.out / 'bench.csv'}, {args.out / 'bench.txt'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_one":
        model, window, batch, freqbins, classes, device, warmup, repeats = sys.argv[2:10]
        print(
            json.dumps(
                measure_one(
                    model, int(window), int(batch), int(freqbins), int(classes), device, int(warmup), int(repeats)
                )
            )
        )
