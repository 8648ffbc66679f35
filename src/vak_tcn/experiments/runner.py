"""The grid runner: run many vak configs, resumably, on one machine or a dask cluster.

:func:`run_grid` runs a list of configs (the poster's, :mod:`vak_tcn.experiments.poster`,
or any others):

* ``vak prep`` once per distinct ``[vak.prep]`` table (the dataset path is then written
  into every config that shares it, as ``vak prep`` itself does);
* then each ``learncurve``/``train`` config, as a separate ``vak`` process, on
  dask.distributed: a local cluster by default (one worker per GPU, one run per GPU at a
  time — Lightning's multi-GPU mode breaks vak's learncurve; CPU workers when there is no
  GPU), or an existing cluster given by its scheduler address;
* checked first: every config is parsed by vak's own parser and its model is built (network,
  loss, optimizer, metrics, with placeholder sizes) through the code vak runs, before any
  ``vak prep``; a failing run's line ends with the last line of its error;
* resumable: a finished run (``learning_curve.csv`` or a trained checkpoint, recorded in
  ``<root_results_dir>/.vak-tcn/<config stem>-<id>.json``) is skipped; a results directory left
  by an interrupted run is renamed ``interrupted-<name>`` (kept, never deleted or overwritten)
  and the run is redone.

A run is identified by its config's resolved path and a hash of its content (the dataset path
``vak prep`` writes in left out): two configs with the same file name in different directories
are two runs, and a record or results directory is trusted only if it belongs to the same path
and content — an edited config runs again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import tomlkit

from .. import settings
from .._atomic import write_text
from .._processes import connect_scheduler, quiet_dask, terminal_interrupts_ignored
from ..models import results as vak_results
from . import configs
from .reproducibility import run_env

STATE_DIR = ".vak-tcn"


# ---- running ------------------------------------------------------------------------------


def config_hash(path: pathlib.Path) -> str:
    """Hash of a config's content, less the dataset path that ``vak prep`` writes into it."""
    doc = tomlkit.parse(pathlib.Path(path).read_text()).unwrap()
    for table in doc.get("vak", {}).values():
        if isinstance(table, dict) and isinstance(table.get("dataset"), dict):
            table["dataset"].pop("path", None)
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass
class Run:
    """One config of a grid and where its results go."""

    config: pathlib.Path
    command: str
    root_results_dir: pathlib.Path | None
    prep_key: str
    content_hash: str = ""

    @property
    def ident(self) -> str:
        """Short id of the config's resolved path: configs sharing a file name get their own."""
        return hashlib.sha1(str(self.config).encode()).hexdigest()[:8]

    @property
    def name(self) -> str:
        """The config's file name, with its directory when that tells runs apart."""
        return f"{self.config.parent.name}/{self.config.name}"

    @property
    def state_file(self) -> pathlib.Path:
        root = self.root_results_dir or self.config.parent
        return root / STATE_DIR / f"{self.config.stem}-{self.ident}.json"

    def belongs(self, record: dict) -> bool:
        """A state record (or results directory's config) is this run's: same path and content."""
        return record.get("config") == str(self.config) and record.get("config_hash") == self.content_hash

    def finished(self) -> dict | None:
        if self.state_file.exists():
            try:
                state = json.loads(self.state_file.read_text())
            except ValueError:
                return None  # unreadable record: not trusted, the run is checked again
            if state.get("status") == "done" and self.belongs(state) and pathlib.Path(state["results"]).exists():
                return state
        return None


def read_run(path: str | pathlib.Path) -> Run:
    path = pathlib.Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        doc = tomlkit.parse(path.read_text())
    except Exception as e:  # binary, CSV, truncated TOML ...
        raise ValueError(f"{path}: not a TOML config ({type(e).__name__}: {' '.join(str(e).split())})") from None
    vak_table = doc.get("vak", {})
    commands = [c for c in ("learncurve", "train") if c in vak_table]
    if len(commands) != 1:
        raise ValueError(
            f"{path}: a grid config needs exactly one [vak.learncurve] or [vak.train] table, found {commands or 'none'}"
        )
    command = commands[0]
    if "prep" not in vak_table:
        raise ValueError(f"{path}: no [vak.prep] table")
    root = vak_table[command].get("root_results_dir")
    prep = json.dumps(vak_table["prep"].unwrap(), sort_keys=True, default=str)
    return Run(
        path,
        command,
        pathlib.Path(str(root)) if root is not None else None,
        hashlib.sha1(prep.encode()).hexdigest()[:12],
        config_hash(path),
    )


def check_run(run: Run) -> None:
    """Fail now, before any prep, on what would fail later: vak's config parser, the model
    name, and its network/loss/optimizer/metric tables built as vak builds them."""
    from ..plugins import vak_compat
    from ..plugins.manager import load_plugins

    load_plugins()
    configs.make_output_dirs(tomlkit.parse(run.config.read_text()))  # vak's parser wants them
    vak_compat.check_config(run.config, placeholder_dataset=True)


def check_runs(runs: Sequence[Run]) -> None:
    """:func:`check_run` every run; one ValueError listing every bad config."""
    problems = []
    for run in runs:
        try:
            check_run(run)
        except (ValueError, TypeError, KeyError) as e:
            message = " ".join(str(e).split())
            problems.append(message if str(run.config) in message else f"{run.config}: {message}")
    if problems:
        raise ValueError(f"{len(problems)} config(s) would fail; nothing was run:\n  " + "\n  ".join(problems))


# A run's log: "==== <time> vak <command> <config>" before each vak command's output and
# "==== <time> vak <command> ended (exit N)" after it; activity() reads them back.
_HEADER = re.compile(r"==== \S+ vak (\w+) ")
_ENDED = re.compile(r"\S+ vak \w+ ended \(exit")  # a log block that is an end line
_MARK = re.compile(r"\S+ vak (\w+) (?:ended \(exit (-?\d+)\))?")  # a block's command, and its exit if an end line
_EPOCH = re.compile(r"Epoch (\d+):\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def _log_mark(command: str, what: str) -> str:
    return f"\n==== {datetime.datetime.now().isoformat(timespec='seconds')} vak {command} {what}\n"


def _vak(command: str, config: pathlib.Path, log: pathlib.Path, env: dict) -> None:
    """Run one vak command (plugins loaded) in its own process; output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    configs.make_output_dirs(tomlkit.parse(config.read_text()))
    with log.open("a") as fh:
        fh.write(_log_mark(command, str(config)))
        fh.flush()
        proc = subprocess.run(
            [sys.executable, "-m", "vak_tcn", command, str(config)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
        fh.write(_log_mark(command, f"ended (exit {proc.returncode})"))
    if proc.returncode != 0:
        raise RuntimeError(f"vak {command} failed (exit {proc.returncode}): {last_error(log)}; see {log}")


def last_error(log: pathlib.Path) -> str:
    """The last line of the last command's output in a run log: the error, for a failed run."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - 65536))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return "no log"
    block = tail.rsplit("\n==== ", 2)[-2] if _ENDED.search(tail.rsplit("\n==== ", 1)[-1]) else tail
    lines = [line.strip() for line in block.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no output"


def activity(run: Run, within: float = 90.0) -> str | None:
    """What ``run`` is doing, read from the end of its log (None if the log is idle or absent):
    e.g. ``"TCN_CE: vak learncurve, epoch 0, batch 120/2491"``."""
    log = run.state_file.with_suffix(".log")
    try:
        if time.time() - log.stat().st_mtime > within:
            return None
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - 65536))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    last = tail.rsplit("==== ", 1)[-1]
    if _ENDED.match(last):
        return None  # its last command has ended; the next has not started
    headers = _HEADER.findall(tail)
    what = f"vak {headers[-1]}" if headers else "running"
    epochs = _EPOCH.findall(last)
    if epochs:
        epoch, batch, total = epochs[-1]
        what += f", epoch {epoch}, batch {batch}/{total}"
    return f"{run.config.stem}: {what}"


def _die_with_parent() -> None:
    """Linux: stop the vak process if the worker running it dies (runner killed or
    interrupted), so no orphaned training goes on writing into a run that will be redone."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _worker_env(extra: dict | None) -> dict:
    env = settings.child_env(extra)
    try:  # one GPU per local worker: worker i runs on GPU i
        from distributed import get_worker

        worker = get_worker()
        if env.get("VAK_TCN_GRID_GPUS") and isinstance(worker.name, int):
            env["CUDA_VISIBLE_DEVICES"] = str(worker.name)
    except (ImportError, ValueError):
        pass
    return env


def prep_task(run: Run, others: Sequence[Run], env: dict | None = None) -> str:
    """``vak prep`` the first config of a group; write the dataset path into the others."""
    path = configs.dataset_path(run.config)
    if path is None or not path.exists():
        if path is not None:  # dataset gone: let vak prep make it again
            _set_dataset_path(run, None)
        _vak("prep", run.config, run.state_file.with_suffix(".log"), _worker_env(env))
        path = configs.dataset_path(run.config)
    for other in others:
        if configs.dataset_path(other.config) != path:
            _set_dataset_path(other, path)
    return str(path)


def _set_dataset_path(run: Run, path: pathlib.Path | None) -> None:
    doc = tomlkit.parse(run.config.read_text())
    dataset = doc["vak"][run.command]["dataset"]
    if path is None:
        dataset.pop("path", None)
    else:
        dataset["path"] = str(path)
    write_text(run.config, tomlkit.dumps(doc))  # atomic: an interruption never leaves half a config


def _results_dirs(run: Run) -> list[pathlib.Path]:
    """Results directories of this config: vak copies the config into each one it makes
    (a copy with other content belongs to another config of the same name, or an older edit)."""
    if run.root_results_dir is None or not run.root_results_dir.exists():
        return []
    found = []
    for p in sorted(run.root_results_dir.iterdir()):
        copy = p / run.config.name
        if p.is_dir() and copy.exists() and not p.name.startswith("interrupted-"):
            try:
                if config_hash(copy) == run.content_hash:
                    found.append(p)
            except Exception:  # unreadable copy: not this run's
                continue
    return found


def _completed(run: Run, results: pathlib.Path) -> bool:
    if run.command == "learncurve":
        return (results / vak_results.LEARNING_CURVE).exists()  # vak writes it when the last run ends
    # vak train saves checkpoints all through training: they do not say it ended, the run's
    # log does (a run killed mid-training, machine and all, has no end line)
    return vak_results.has_checkpoints(results) and _ended_with_exit_0(run.state_file.with_suffix(".log"), "train")


def _ended_with_exit_0(log: pathlib.Path, command: str) -> bool:
    """The last ``vak <command>`` in a run log has its end line, exit 0 (other commands, such as
    the ``vak prep`` of a rerun, may follow it)."""
    try:
        text = log.read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    exit_code = None
    for block in text.split("\n==== "):
        mark = _MARK.match(block)
        if mark and mark.group(1) == command:
            exit_code = mark.group(2)  # None after the command's start line
    return exit_code == "0"


def run_task(run: Run, dataset: str | None = None, env: dict | None = None) -> dict:
    """Run one config unless it already finished; returns its state."""
    done = run.finished()
    if done is not None:
        return {**done, "skipped": True}
    for results in _results_dirs(run):
        if _completed(run, results):  # finished, but the state file was not written: adopt it
            return {**_mark_done(run, results, started=None), "adopted": True}
        results.rename(results.with_name(f"interrupted-{results.name}"))  # keep, redo
    before = set(_results_dirs(run))
    started = time.time()
    _vak(run.command, run.config, run.state_file.with_suffix(".log"), _worker_env(env))
    new = [p for p in _results_dirs(run) if p not in before and _completed(run, p)]
    if not new:
        raise RuntimeError(f"vak {run.command} {run.config} finished but wrote no results under {run.root_results_dir}")
    return _mark_done(run, new[-1], started)


def _mark_done(run: Run, results: pathlib.Path, started: float | None) -> dict:
    state = {
        "status": "done",
        "config": str(run.config),
        "config_hash": run.content_hash,
        "results": str(results),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "seconds": None if started is None else round(time.time() - started, 1),
        "skipped": False,
    }
    write_text(run.state_file, json.dumps(state, indent=2))
    return state


def _how(state: dict) -> str:
    if state.get("skipped"):
        return "already finished"
    if state.get("adopted") or state.get("seconds") is None:
        return "finished earlier (results found, run record rewritten)"
    return f"done in {state['seconds']} s"


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:
        return 0


def run_grid(
    config_paths: Iterable[str | pathlib.Path],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    env: dict | None = None,
    report: Callable[[str], None] = print,
    heartbeat: float = 30.0,
    seed: int | None = None,
) -> list[dict]:
    """Run configs (see module docs); returns the state of each run, in input order.

    ``seed``: seed every run, each with its own seed derived from ``seed`` and the config's
    name (:func:`vak_tcn.experiments.reproducibility.run_seed`, passed as ``VAK_TCN_SEED``);
    ``vak prep`` gets ``seed`` itself (its split of the data is random).
    """
    from distributed import Client, LocalCluster, wait

    if seed is not None:
        settings.check_seed(seed, "seed")
    runs = [read_run(p) for p in config_paths]
    if not runs:
        raise ValueError("no configs given")
    names = [r.config for r in runs]
    if len(set(names)) != len(names):
        raise ValueError("the same config is listed twice")
    check_runs([r for r in runs if r.finished() is None])  # before any prep: fail in seconds, not hours
    env = dict(env or {})
    cluster = None
    if scheduler:
        client = connect_scheduler(scheduler)
        where = f"cluster at {scheduler}"
        # the workers' machines are unknown here: pass on the thread settings the user gave, if any
        env = {**settings.current(settings.THREAD_VARIABLES), **env}
    else:
        gpus = _gpu_count()
        n = workers or max(gpus, 1)
        if gpus:
            env["VAK_TCN_GRID_GPUS"] = "1"
        env = {**settings.thread_env(n), **env}
        with terminal_interrupts_ignored():  # Ctrl-C reaches this process alone; it stops the workers
            # dashboard on a free port: no "port 8787 is already in use" warning beside another cluster
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
        where = f"local cluster, {n} worker(s) ({f'{gpus} GPU(s), one run per GPU' if gpus else 'CPU'})"
    try:
        groups: dict[str, list[Run]] = {}
        for run in runs:
            groups.setdefault(run.prep_key, []).append(run)
        pending = [r for r in runs if r.finished() is None]
        report(
            f"vak-tcn grid: {len(runs)} config(s), {len(runs) - len(pending)} already finished, {len(groups)} dataset(s); {where}"
        )
        report(f"  logs: <root_results_dir>/{STATE_DIR}/<config>-<id>.log")
        preps = {}
        for key, members in groups.items():
            if any(r.finished() is None for r in members):
                prep_env = {**env, **settings.variables({"seed": seed})}  # vak prep's split, seeded
                preps[key] = client.submit(prep_task, members[0], members[1:], prep_env, key=f"prep-{key}", pure=False)
        futures = {
            client.submit(
                run_task,
                r,
                preps.get(r.prep_key),
                run_env(env, seed, r.config.stem),
                key=f"run-{r.config.stem}-{r.ident}",
                pure=False,
            ): r
            for r in runs
        }
        states: dict[pathlib.Path, dict] = {}
        failures = []
        waiting, started, n_done = set(futures), time.time(), 0
        try:
            while waiting:
                try:
                    finished, waiting = wait(waiting, timeout=heartbeat, return_when="FIRST_COMPLETED")
                except TimeoutError:  # nothing finished for a while: say what is going on
                    active = [
                        a for a in (activity(r, within=2 * heartbeat + 30) for r in runs if r.finished() is None) if a
                    ]
                    report(
                        f"  ... {n_done}/{len(runs)} finished, {len(waiting)} running or queued, {time.time() - started:.0f} s elapsed"
                        + (f"; {'; '.join(active)}" if active else "")
                    )
                    continue
                for future in finished:
                    n_done += 1
                    run = futures[future]
                    try:
                        state = future.result()
                    except Exception as e:
                        failures.append(f"{run.name}: {e}")
                        report(f"[{n_done}/{len(runs)}] FAILED {run.name}: {e}")
                        continue
                    states[run.config] = state
                    report(f"[{n_done}/{len(runs)}] {run.name}: {_how(state)} -> {state['results']}")
        except KeyboardInterrupt:
            quiet_dask()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    client.run(quiet_dask)  # on the workers too
            if scheduler:
                client.cancel([*futures, *preps.values()], force=True)
                report(
                    "vak-tcn grid: cancelled the runs queued on the cluster; a vak process already running "
                    "on a remote worker goes on until it ends (dask cannot stop it): stop it there if needed"
                )
            raise
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(runs)} run(s) failed:\n" + "\n".join(failures))
        return [states[r.config] for r in runs]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
