"""``vak-tcn bench``: speed and memory of TweetyNet (vak's), TCN and ConvTCN, and plugin overheads.

For each model and window size, in a fresh subprocess (so peak memory and thread settings
are its own): parameter count, receptive field, training throughput (frames/s for forward +
backward + Adam step), inference throughput (frames/s and "x real time" for the given frame
duration) and peak memory (GPU: ``torch.cuda.max_memory_allocated``; CPU: growth of the
process's peak resident set while training).  Ratios are to TweetyNet measured in the same
invocation.

Robust to load (``--rounds N``, default 3): every model is measured once per round, the models
taking turns (A B C A B C ...), so a burst of load on the machine falls on all of them instead of
on one model's turn.  A round's timing is the median of ``--repeats`` runs after ``--warmup``
runs; a row reports the median over rounds, and each ratio to TweetyNet is computed per round
(the same round's TweetyNet) and reported as min / median / max.  A ratio whose spread, (max -
min) / median, exceeds ``--spread-limit`` (default 0.2) is flagged: the machine's load changed
while it was measured, and the ratio should not be quoted.

Precision (``--precision 32 bf16``): each model is measured in each precision, in its own
subprocess; bf16 runs training steps and inference under ``torch.autocast(dtype=bfloat16)``
(:mod:`vak_tcn.nn.precision`), and falls back to float32 with a warning where the hardware has
no bf16.  Ratios are to TweetyNet in float32.  A bf16 row also gives the frame-label agreement
with float32: the share of frames whose argmax label is the same, for the same (seeded) network
on the same seeded synthetic input.  ``--profile`` adds torch.profiler's top operators of one
inference call per row.

Refinement stages (``--stages 1 3``): each TCN model is measured with each number of stages
(MS-TCN's, :mod:`vak_tcn.nn.stages`); TweetyNet has no stages and is measured once.
``--network KEY=VALUE ...`` sets keys of the TCN models' network table as a config would (e.g.
``num_layers=7 causal=false stage_layers=6 stage_channels=32``; values in TOML syntax).

Plugin overheads: the time the start-up hook adds to a Python process that never imports
vak, and to ``import vak`` (medians of interleaved runs with ``VAK_TCN_DISABLE=1`` and
without).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time

from .. import settings
from .._atomic import atomic_write, write_text
from .._cli_args import add_option, given_as
from ..models import catalogue

#: the models, by display name (the catalogue's)
MODELS = tuple(entry.label for entry in catalogue.MODELS)
#: ratios are to this model, vak's own TweetyNet network
REFERENCE = catalogue.get("TweetyNetPlugin").label


def _build(model: str, num_classes: int, freqbins: int, stages: int = 1, network_table: dict | None = None):
    entry = catalogue.get(model)
    # TweetyNet has no stages nor TCN keys: the table and stages apply to the TCN models only
    extra = {**(network_table or {}), "stages": stages} if entry.uses_tcn else {}
    return entry.network_class()(num_classes=num_classes, num_input_channels=1, num_freqbins=freqbins, **extra)


def parse_network_table(items: list[str]) -> dict:
    """``["num_layers=7", "causal=false"]`` -> ``{"num_layers": 7, "causal": False}`` (TOML values);
    ValueError naming the item that is not ``KEY=VALUE``."""
    import tomllib

    table = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--network: expected KEY=VALUE (a network-table key), got {item!r}")
        try:
            table[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError(f"--network {item}: {value!r} is not a TOML value (e.g. 7, 0.2, false)") from None
    if "stages" in table:
        raise ValueError("--network: give the number of stages with --stages, not as a network key")
    return table


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure_one(
    model: str,
    window: int,
    batch: int,
    freqbins: int,
    num_classes: int,
    device: str,
    warmup: int,
    repeats: int,
    precision: str = "32",
    profile: bool = False,
    stages: int = 1,
    network_table: dict | None = None,
) -> dict:
    """Measure one model in this process (called in a subprocess by :func:`run`)."""
    import torch

    from ..nn.precision import autocast, effective_precision, with_precision
    from ..nn.tcn import inference_copy

    device_type = torch.device(device).type
    precision = effective_precision(precision, device_type)

    torch.manual_seed(0)
    net = _build(model, num_classes, freqbins, stages, network_table).to(device)
    n_params = sum(p.numel() for p in net.parameters())
    x = torch.randn(batch, 1, freqbins, window, device=device)
    y = torch.randint(0, num_classes, (batch, window), device=device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def train_step():  # bf16: forward and loss under autocast ("bf16-mixed"), float32 weights and optimizer
        opt.zero_grad(set_to_none=True)
        with autocast(precision, device_type):
            loss = loss_fn(net(x), y)
        loss.backward()
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

    infer_net = with_precision(inference_copy(net), precision, device_type)  # as the family runs predict/eval
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
        agreement = None
        if precision != "32":  # frame labels of the same network and input in float32 vs this precision
            torch.manual_seed(1)
            probe = torch.randn(batch, 1, freqbins, window, device=device)
            labels = infer_net(probe).argmax(dim=1)
            labels_32 = infer_net.network(probe).argmax(dim=1)
            agreement = float((labels == labels_32).float().mean())
        table = None
        if profile:
            from torch.profiler import profile as torch_profile

            with torch_profile() as prof:
                infer_net(x)
            table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8)
    frames = batch * window
    return {
        "model": model,
        "stages": stages,
        "network": (network_table or {}) if catalogue.get(model).uses_tcn else {},
        "window": window,
        "batch": batch,
        "device": device,
        "precision": precision,
        "label_agreement_vs_32": agreement,
        "profile": table,
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
        env = settings.child_env({"disable": True if disabled else None})
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
    env = settings.child_env({"disable": True})
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
    combos = [
        (window, model, stages, precision)
        for window, model in itertools.product(args.windows, args.models)
        # a model without refinement stages (TweetyNet, the unit of every ratio) is measured once, with
        # stages = 1, whatever --stages lists
        for stages in (args.stages if catalogue.get(model).uses_tcn else [1])
        for precision in args.precision
    ]
    rounds = [
        [_measure_in_subprocess(args, device, *combo, r, args.rounds) for combo in combos] for r in range(args.rounds)
    ]
    results = _combine_rounds(rounds, args.frame_dur, args.spread_limit)
    report = {
        "results": results,
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "machine": _machine(),
    }
    if not args.skip_overheads:
        print("  measuring plugin overheads (start-up hook, import vak) ...", flush=True)
        report["overheads"] = _startup_overheads(args.overhead_repeats)
    return report


#: the row fields that are timings: the median over rounds is reported
TIMED = ("train_frames_per_s", "infer_frames_per_s", "peak_train_memory_mb")
#: ratio to TweetyNet -> the timing it divides
RATIOS = {"train_vs_tweetynet": "train_frames_per_s", "infer_vs_tweetynet": "infer_frames_per_s"}


def _measure_in_subprocess(args, device, window, model, stages, precision, round_index, n_rounds) -> dict:
    """One model measured in a fresh subprocess (its own peak memory and threads)."""
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
        precision,
        str(int(args.profile)),
        str(stages),
        json.dumps(args.network_table),
    ]
    staged = f" with {stages} stages" if stages > 1 else ""
    turn = f", round {round_index + 1}/{n_rounds}" if n_rounds > 1 else ""
    print(
        f"  measuring {model}{staged} window {window} batch {args.batch} on {device} in {precision}{turn} ...",
        flush=True,
    )
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark of {model} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    if row["precision"] != precision and round_index == 0:
        print(f"  {precision} is not supported on {device}: {model} was measured in float32", flush=True)
    row["precision_requested"] = precision
    return row


def _reference(rows: list[dict], window: int) -> dict | None:
    """TweetyNet in float32 at ``window`` (a bf16 request that fell back to float32 counts too)."""
    return next((r for r in rows if r["model"] == REFERENCE and r["window"] == window and r["precision"] == "32"), None)


def _combine_rounds(rounds: list[list[dict]], frame_dur: float, spread_limit: float) -> list[dict]:
    """One row per model from its rounds: timings are the medians over rounds; each ratio to TweetyNet
    is computed per round and given as its median with ``<ratio>_min``/``_max``, its spread
    (``(max - min) / median``) in ``<ratio>_spread`` and ``unsteady`` naming the ratios over ``spread_limit``."""
    results = []
    for i, first in enumerate(rounds[0]):
        mine = [r[i] for r in rounds]
        row = {**first, **{key: statistics.median(r[key] for r in mine) for key in TIMED}, "rounds": len(mine)}
        row["x_real_time"] = row["infer_frames_per_s"] * frame_dur
        unsteady = []
        for ratio, key in RATIOS.items():
            refs = (_reference(rnd, first["window"]) for rnd in rounds)  # each round's own TweetyNet
            per_round = [row_r[key] / ref[key] for row_r, ref in zip(mine, refs) if ref is not None]
            if per_round:
                median = statistics.median(per_round)
                spread = (max(per_round) - min(per_round)) / median
                row.update({ratio: median, f"{ratio}_min": min(per_round), f"{ratio}_max": max(per_round)})
                row[f"{ratio}_spread"] = spread
                if spread > spread_limit:
                    unsteady.append(ratio)
        refs = [ref for ref in (_reference(rnd, first["window"]) for rnd in rounds) if ref is not None]
        if refs:
            ref_mb = statistics.median(ref["peak_train_memory_mb"] for ref in refs)
            row["memory_vs_tweetynet"] = row["peak_train_memory_mb"] / ref_mb if ref_mb > 0 else None
        row["unsteady"] = ",".join(unsteady)
        results.append(row)
    return results


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


def _ratio_cell(row: dict, key: str) -> str:
    """``median (min-max)`` of a ratio over rounds, ``!`` when its spread is over the limit; ``-`` if none."""
    if row.get(key) is None:
        return "-"
    cell = f"{row[key]:.2f}"
    if row.get(f"{key}_min") is not None and row.get("rounds", 1) > 1:
        cell += f" ({row[f'{key}_min']:.2f}-{row[f'{key}_max']:.2f})"
    return cell + ("!" if key in (row.get("unsteady") or "").split(",") else "")


def format_table(report: dict) -> str:
    lines = [
        f"{'model':9} {'stg':>3} {'prec':>4} {'window':>6} {'params':>9} {'RF':>5} {'train fr/s':>11} {'x TN (min-max)':>19} "
        f"{'infer fr/s':>11} {'x TN (min-max)':>19} {'x real':>8} {'peak MB':>8} {'x TN':>5} {'agree':>8}"
    ]
    for r in report["results"]:
        agree = r.get("label_agreement_vs_32")
        memory = f"{r['memory_vs_tweetynet']:.2f}" if r.get("memory_vs_tweetynet") is not None else "-"
        lines.append(
            f"{r['model']:9} {r.get('stages', 1):>3} {r.get('precision', '32'):>4} {r['window']:>6} {r['params']:>9,} "
            f"{r['receptive_field'] or '-':>5} {r['train_frames_per_s']:>11,.0f} {_ratio_cell(r, 'train_vs_tweetynet'):>19} "
            f"{r['infer_frames_per_s']:>11,.0f} {_ratio_cell(r, 'infer_vs_tweetynet'):>19} {r['x_real_time']:>8,.0f} "
            f"{r['peak_train_memory_mb']:>8.0f} {memory:>5} "
            + (f"{100 * agree:>7.2f}%" if agree is not None else f"{'-':>8}")
        )
    rounds = max((r.get("rounds", 1) for r in report["results"]), default=1)
    table = report.get("settings", {}).get("network_table")
    if table:
        lines.append("TCN models' network table: " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()))
    limit = report.get("settings", {}).get("spread_limit", 0.2)
    lines.append(
        f"x TN: ratio to TweetyNet in float32, median over {rounds} round(s) in which the models took turns"
        + (
            f" (min-max over the rounds); ! marks a spread over {100 * limit:.0f} %: load changed, do not quote it"
            if rounds > 1
            else ""
        )
    )
    if "overheads" in report:
        o = report["overheads"]
        lines.append(
            f"plugin overhead: start-up hook import {o['hook_import_ms']:.2f} ms in-process; python start {o['startup_overhead_ms']:+.1f} ms "
            f"({o['startup_with_hook_s'] * 1000:.0f} vs {o['startup_without_hook_s'] * 1000:.0f} ms); import vak {o['import_vak_overhead_ms']:+.0f} ms "
            f"({o['import_vak_with_hook_s']:.2f} vs {o['import_vak_without_hook_s']:.2f} s)"
        )
    if any(r.get("label_agreement_vs_32") is not None for r in report["results"]):
        lines.append("agree: frames whose label equals float32's, same network and seeded synthetic input")
    for r in report["results"]:
        if r.get("profile"):
            lines.append(f"\nprofile of one inference call: {r['model']} {r['precision']} window {r['window']}")
            lines.append(r["profile"])
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, help="the models to measure")
    p.add_argument("--windows", nargs="+", type=int, default=[176, 2000], help="window sizes in frames")
    p.add_argument("--batch", type=int, default=8, help="windows per training step and inference call")
    p.add_argument(
        "--freqbins",
        type=int,
        default=152,
        help="spectrogram frequency bins (default 152: 500-10000 Hz at 32 kHz, fft 512)",
    )
    p.add_argument("--classes", type=int, default=12, help="output classes")
    p.add_argument(
        "--frame-dur", type=float, default=0.002, help="seconds per frame, for 'x real time' (default 0.002)"
    )
    add_option(
        p,
        "--accelerator",
        "--device",
        default="auto",
        help="cpu, gpu (or cuda, the same: a CUDA GPU, shown as torch names it, cuda), gpu:N / cuda:N, or auto "
        "(default: a GPU where torch sees one, else cpu)",
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed runs before the timed ones")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per model and round (default 10)")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds in which the models take turns (A B C A B C ...); ratios are given per round as "
        "min / median / max (default 3)",
    )
    p.add_argument(
        "--spread-limit",
        type=float,
        default=0.2,
        help="flag a ratio whose (max - min) / median over rounds exceeds this: load changed (default 0.2)",
    )
    p.add_argument("--overhead-repeats", type=int, default=7, help="runs of each plugin overhead measurement")
    p.add_argument("--skip-overheads", action="store_true", help="do not measure the plugin overheads")
    p.add_argument(
        "--precision",
        nargs="+",
        default=["32"],
        metavar="{32,bf16}",
        help="precision(s) to measure, e.g. --precision 32 bf16 (default 32); bf16 rows give label agreement",
    )
    p.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of one inference call")
    p.add_argument(
        "--stages",
        nargs="+",
        type=int,
        default=[1],
        help="numbers of stages (MS-TCN refinement) to measure the TCN models with, e.g. --stages 1 3 (default 1)",
    )
    p.add_argument(
        "--network",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="network-table keys for the TCN models, as a config writes them (TOML values), e.g. "
        "--network num_layers=7 causal=false stage_layers=6 stage_channels=32",
    )
    p.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("bench-results"), help="directory for bench.json and bench.csv"
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Raise ValueError naming the first option that cannot give a measurement."""
    for option in ("batch", "repeats", "rounds", "freqbins", "classes", "overhead_repeats"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if min(args.stages) < 1:
        raise ValueError(f"--stages must be at least 1, got {min(args.stages)}")
    args.stages = list(dict.fromkeys(args.stages))
    args.network_table = parse_network_table(args.network)
    if args.network_table:  # a bad key or value fails here, named, not in a subprocess later
        for model in {m for m in args.models if catalogue.get(m).uses_tcn}:
            try:
                _build(model, args.classes, args.freqbins, max(args.stages), args.network_table)
            except (TypeError, ValueError) as e:
                raise ValueError(f"--network: {model}: {e}") from None
    from ..nn.precision import check_precision

    args.precision = list(dict.fromkeys(check_precision(p, "--precision") for p in args.precision))
    if args.warmup < 0:
        raise ValueError(f"--warmup must be at least 0, got {args.warmup}")
    bad = [w for w in args.windows if w < 1]
    if bad:
        raise ValueError(f"--windows must be at least 1 frame, got {bad[0]}")
    if not args.spread_limit > 0:
        raise ValueError(f"--spread-limit must be positive, got {args.spread_limit}")
    if args.frame_dur <= 0:
        raise ValueError(f"--frame-dur must be positive seconds, got {args.frame_dur}")
    option, given = given_as(args, "accelerator", "--accelerator"), args.accelerator
    if not re.fullmatch(r"auto|cpu|(cuda|gpu)(:\d+)?", given):
        raise ValueError(f"{option} must be cpu, gpu (or cuda), gpu:N (cuda:N) or auto, got {given!r}")
    args.device = re.sub(r"^gpu", "cuda", given)  # torch's name: what the rows and the table show
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{option} {given}: no CUDA GPU is visible to torch here; use {option} cpu or auto")
        index = int(args.device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"{option} {given}: only {torch.cuda.device_count()} CUDA GPU(s) visible")


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
        pd.DataFrame([{k: v for k, v in r.items() if k != "profile"} for r in report["results"]]).to_csv(
            fh, index=False
        )
    write_text(args.out / "bench.txt", table + "\n")
    print(f"wrote {args.out / 'bench.json'}, {args.out / 'bench.csv'}, {args.out / 'bench.txt'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_one":
        model, window, batch, freqbins, classes, device, warmup, repeats, precision, profile, stages, table = sys.argv[
            2:14
        ]
        print(
            json.dumps(
                measure_one(
                    model,
                    int(window),
                    int(batch),
                    int(freqbins),
                    int(classes),
                    device,
                    int(warmup),
                    int(repeats),
                    precision,
                    bool(int(profile)),
                    int(stages),
                    json.loads(table),
                )
            )
        )
