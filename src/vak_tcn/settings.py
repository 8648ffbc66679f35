"""Every setting of vak-tcn, declared once, and the only module that reads the process environment.

vak's config schema takes no new keys, so the channel into a stock ``vak`` run is the environment
(``VAK_TCN_SEED=1 vak train config.toml``); a few settings may also come from the network table
(the one model table vak passes on verbatim) or a ``vak-tcn`` option.  Each :class:`Setting`
below says, once, where it can come from (variable, network-table key, CLI flag), how a value is
checked (its parser), its default, and whether the provenance record of a training run keeps it
(:func:`recorded`).  One precedence for all of them (:func:`lookup`, :func:`resolve`):

    CLI flag  >  variable  >  network-table key  >  default

(a source a setting does not have is skipped; an empty variable counts as unset).  A bad value is
a ValueError naming its source (the flag, the variable or ``network parameter 'key'``), the value
and the valid values.

Library code gets resolved values: the CLI and vak's entry points into vak-tcn (the seeded network
wrapper, the model family's hooks) call :func:`resolve`.  Writing a setting for vak run in this
process or for a child process goes through :func:`export` / :func:`variables` / :func:`child_env`,
so no other module of ``vak_tcn`` touches ``os.environ`` (a test enforces it; the start-up hook,
``plugins/startup.py`` and the ``.pth`` line, reads ``VAK_TCN_DISABLE`` itself, before any import).

Pure Python (no torch, NumPy or vak): the start-up hook and ``vak-tcn --help`` import it cheaply.
docs/config.md has the table of all settings (:func:`markdown_table`; a test keeps it in sync).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._params import suggest

# ---------------------------------------------------------------- parsers: (value, what) -> value
#: the precisions vak-tcn runs inference in; the first is the default
PRECISIONS = ("32", "bf16")
#: where vak-tcn models' clean-up comes from in ``vak eval``/``predict``/``learncurve`` and
#: ``vak-tcn annotate`` (docs/postprocessing.md): ``auto`` the tuned settings when
#: ``postprocess.json`` is beside the checkpoint, else the config's; ``tuned`` the tuned ones (an
#: error without the file); ``config`` the config's only (vak's behaviour); ``none`` no clean-up
MODES = ("auto", "tuned", "config", "none")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def check_seed(value: Any, what: str = "seed") -> int:
    """``value`` as a seed (an integer in [0, 2**32 - 1]); ValueError naming ``what`` if not."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        seed = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an integer in [0, 2**32 - 1], got {value!r}") from None
    if not 0 <= seed < 2**32:
        raise ValueError(f"{what} must be an integer in [0, 2**32 - 1], got {value!r}")
    return seed


def check_precision(value: Any, what: str = "precision") -> str:
    """``"32"`` or ``"bf16"``; ValueError naming ``what``, the value and the valid values otherwise.

    ``32`` may be given as an int (a TOML number).
    """
    text = str(value).strip()
    if text in PRECISIONS:
        return text
    raise ValueError(
        f"{what}: unknown precision {suggest(text, PRECISIONS)}. Valid values: {', '.join(PRECISIONS)} "
        f"(32: float32, the default; bf16: bfloat16 where the hardware has it)"
    )


def check_mode(value: Any, what: str) -> str:
    """``value`` as one of :data:`MODES`; ValueError naming ``what`` if not."""
    if not isinstance(value, str) or value.strip().lower() not in MODES:
        raise ValueError(f"{what} must be one of {', '.join(repr(m) for m in MODES)}, got {value!r}")
    return value.strip().lower()


def check_flag(value: Any, what: str) -> bool:
    """On/off: 1/true/yes/on or 0/false/no/off (any case), or a bool; ValueError naming ``what`` otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{what} must be 1 or 0, got {text!r}")


def check_positive_int(value: Any, what: str) -> int:
    """An integer >= 1; ValueError naming ``what`` otherwise."""
    try:
        number = int(value) if not isinstance(value, (bool, float)) else 0
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return number


def check_text(value: Any, what: str) -> str:
    """Any non-empty text (a path)."""
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what} must not be empty")
    return text


def hook_disabled(value: Any, what: str = "VAK_TCN_DISABLE") -> bool:
    """The start-up hook's own reading (``src/vak_tcn.pth``): anything but 0/false/no/off disables it."""
    return str(value).strip().lower() not in ("", *_FALSE)


# ---------------------------------------------------------------- the declarations
@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: where it comes from, how it is checked, its default, whether provenance keeps it."""

    name: str
    env: str  #: the variable
    help: str  #: what it does, one line (docs/config.md's table)
    parse: Callable[[Any, str], Any] | None = None  #: None: a fact about the run, kept as given
    default: Any = None
    config_key: str | None = None  #: key of the network table (``[vak.train.model.TCN.network]``)
    cli_flag: str | None = None  #: the ``vak-tcn`` option that sets it
    commands: tuple[str, ...] = ()  #: the ``vak-tcn`` commands that take it (docs)
    recorded: bool = False  #: kept in ``vak-tcn-provenance.json`` (it changes what a run computes)
    values: str = ""  #: the valid values, for the docs

    def check(self, value: Any, what: str) -> Any:
        return value if self.parse is None else self.parse(value, what)


SEED = Setting(
    "seed", "VAK_TCN_SEED", "seed every training run of a vak-tcn model (and `vak-tcn prep`'s split); the "
    "`n`-th network built in a process gets a seed derived from it and `n`, so learncurve replicates differ",
    check_seed, None, config_key="seed", cli_flag="--seed", recorded=True, values="integer in [0, 2**32 - 1]",
    commands=("prep", "train", "learncurve", "grid", "demo"),
)  # fmt: skip
DETERMINISTIC = Setting(
    "deterministic", "VAK_TCN_DETERMINISTIC", "also torch's deterministic algorithms (`warn_only`), "
    "`CUBLAS_WORKSPACE_CONFIG=:4096:8`, cuDNN autotuner off: for GPUs",
    check_flag, False, recorded=True, values="1/0 (true/false, yes/no, on/off)",
)  # fmt: skip
MAX_STEPS = Setting(
    "max_steps", "VAK_TCN_MAX_STEPS", "stop each training run of a vak-tcn model after N optimizer steps "
    "(smoke tests, demos); make `val_step` and `ckpt_step` divide N",
    check_positive_int, None, cli_flag="--max-steps", recorded=True, values="positive integer",
    commands=("grid", "demo"),
)  # fmt: skip
PRECISION = Setting(
    "precision", "VAK_TCN_PRECISION", "precision of vak-tcn models in `vak predict`/`vak eval` (and "
    "learncurve's evaluation); float32 with one warning where the hardware has no bf16",
    check_precision, PRECISIONS[0], cli_flag="--precision", recorded=True, values=", ".join(PRECISIONS),
    commands=("predict", "eval"),
)  # fmt: skip
TUNE = Setting(
    "tune", "VAK_TCN_TUNE", "tune the clean-up on the validation split when training ends (`postprocess.json`)",
    check_flag, True, recorded=True, values="1/0",
)  # fmt: skip
POST_PROCESSING = Setting(
    "post_processing", "VAK_TCN_POST_PROCESSING", "which clean-up `vak eval`/`predict` and `vak-tcn annotate` "
    "use (docs/postprocessing.md)",
    check_mode, MODES[0], config_key="post_processing", cli_flag="--post-processing", recorded=True,
    values=", ".join(MODES), commands=("annotate",),
)  # fmt: skip
ANNOTATE_EXACT = Setting(
    "annotate_exact", "VAK_TCN_ANNOTATE_EXACT", "`vak-tcn annotate` computes vak's spectrogram exactly (float64, "
    "the audio read twice for `log_spect`) instead of in float32 in one pass (docs/annotate.md)",
    check_flag, False, cli_flag="--exact", values="1/0", commands=("annotate",),
)  # fmt: skip
PREDICT_BATCH_SIZE = Setting(
    "predict_batch_size", "VAK_TCN_PREDICT_BATCH_SIZE", "windows per network call in `vak predict` "
    "(`vak-tcn predict` sets it from the config's `batch_size`); the output does not depend on it",
    check_positive_int, 8, values="positive integer",
)  # fmt: skip
DEMO_OUT = Setting(
    "demo_out", "VAK_TCN_DEMO_OUT", "output directory of `vak-tcn demo`",
    check_text, "demo-out", cli_flag="--out", values="a directory", commands=("demo",),
)  # fmt: skip
DISABLE = Setting(
    "disable", "VAK_TCN_DISABLE", "the start-up hook does nothing; stock vak sees only its own models (read by "
    "the `.pth` line itself)",
    hook_disabled, False, values="anything but 0/false/no/off (or empty) disables",
)  # fmt: skip
#: threads of torch's math libraries (the grid runner shares the cores between concurrent runs)
THREAD_SETTINGS = tuple(
    Setting(var.lower(), var, "threads of torch's math libraries (a fact about the run, recorded)", recorded=True)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
)
CUDA_VISIBLE_DEVICES = Setting(
    "cuda_visible_devices", "CUDA_VISIBLE_DEVICES", "the GPUs a run sees (a fact about the run, recorded)",
    recorded=True,
)  # fmt: skip
CUBLAS_WORKSPACE_CONFIG = Setting(
    "cublas_workspace_config", "CUBLAS_WORKSPACE_CONFIG", "cuBLAS's workspace; `VAK_TCN_DETERMINISTIC` sets "
    "`:4096:8` unless given (a fact about the run, recorded)",
    recorded=True,
)  # fmt: skip

#: every declaration, in the order of the docs' table and of the provenance record
DECLARED: tuple[Setting, ...] = (
    SEED, DETERMINISTIC, MAX_STEPS, PRECISION, TUNE, POST_PROCESSING, ANNOTATE_EXACT, PREDICT_BATCH_SIZE, DEMO_OUT,
    DISABLE,
    *THREAD_SETTINGS, CUDA_VISIBLE_DEVICES, CUBLAS_WORKSPACE_CONFIG,
)  # fmt: skip
SETTINGS: dict[str, Setting] = {s.name: s for s in DECLARED}
THREAD_VARIABLES = tuple(s.env for s in THREAD_SETTINGS)
#: the field of ``vak-tcn-provenance.json`` holding :func:`recorded`
PROVENANCE_FIELD = "environment"


def declared(name: str) -> Setting:
    """The declaration of setting ``name``; KeyError naming the valid names otherwise."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"no setting {suggest(name, SETTINGS)}; settings: {', '.join(SETTINGS)}") from None


def config_where(setting: Setting) -> str:
    """How an error names the setting's network-table key."""
    return f"network parameter '{setting.config_key}'"


# ---------------------------------------------------------------- reading: one precedence
@dataclasses.dataclass(frozen=True)
class Resolved:
    """A setting's value and its source: ``"cli"``, ``"env"``, ``"config"`` or ``"default"``; ``where``
    names it (the flag, the variable, ``network parameter 'key'``, ``default``)."""

    value: Any
    source: str
    where: str


def lookup(name: str, cli: Any = None, config: Any = None, flag: str | None = None) -> Resolved:
    """Setting ``name``: ``cli`` (a value given on the command line) if not None, else its variable if set
    and not empty, else ``config`` (the network table's value) if not None, else the default.  Only the
    value that wins is checked (ValueError naming its source; ``flag`` names the option that gave
    ``cli``, by default the declared one)."""
    setting = declared(name)
    if cli is not None:
        flag = flag or setting.cli_flag
        if flag is None:
            raise TypeError(f"setting {name!r} has no command-line flag")
        return Resolved(setting.check(cli, flag), "cli", flag)
    raw = os.environ.get(setting.env)
    if raw is not None and (raw.strip() or setting.parse is None):
        return Resolved(setting.check(raw.strip() if setting.parse else raw, setting.env), "env", setting.env)
    if config is not None:
        if setting.config_key is None:
            raise TypeError(f"setting {name!r} has no network-table key")
        return Resolved(setting.check(config, config_where(setting)), "config", config_where(setting))
    return Resolved(setting.default, "default", "default")


def resolve(name: str, cli: Any = None, config: Any = None, flag: str | None = None) -> Any:
    """The value of :func:`lookup`."""
    return lookup(name, cli, config, flag).value


def check_variables() -> None:
    """Check the variable of every declared setting that is set (and not empty) now, before any work:
    ValueError naming the first bad one.  A setting is otherwise checked where it is read, which for
    some is after training (``VAK_TCN_TUNE`` when training ends)."""
    for setting in DECLARED:
        raw = os.environ.get(setting.env)
        if setting.parse is not None and raw is not None and raw.strip():
            setting.check(raw.strip(), setting.env)


def pop_config(table: dict) -> dict[str, Any]:
    """Take the keys of declared settings (``seed``, ``post_processing``) out of a network table, checked
    (ValueError naming ``network parameter 'key'``): vak passes the table to the network verbatim, and
    the network takes no such arguments.  Returns ``{setting name: value}``."""
    found = {}
    for setting in DECLARED:
        if setting.config_key is not None and setting.config_key in table:
            value = table.pop(setting.config_key)
            if value is not None:
                found[setting.name] = setting.check(value, config_where(setting))
    return found


def recorded() -> dict[str, str | None]:
    """The variables of every setting the provenance record keeps, as given (None: unset)."""
    return {s.env: os.environ.get(s.env) for s in DECLARED if s.recorded}


def current(names: Iterable[str]) -> dict[str, str]:
    """The variables among ``names`` that are set, with their values (to pass on what the user gave)."""
    return {name: os.environ[name] for name in names if name in os.environ}


# ---------------------------------------------------------------- writing: this process, child processes
def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _variable(key: str) -> str:
    """A setting's variable (``key`` a setting's name), or ``key`` itself (a variable's name, in capitals:
    one that is not a setting, such as ``VAK_TCN_EVENT`` for live's ``--exec`` commands)."""
    if key in SETTINGS:
        return SETTINGS[key].env
    if key.isupper():
        return key
    raise KeyError(f"no setting {suggest(key, SETTINGS)}; settings: {', '.join(SETTINGS)}")


def export(name: str, value: Any, what: str | None = None, overwrite: bool = True) -> Any:
    """Set setting ``name`` to ``value`` for vak run in this process and every child process: checked
    (ValueError naming ``what``, by default the CLI flag), then written to its variable; with
    ``overwrite`` False only when the variable is not set.  Returns the checked value."""
    setting = declared(name)
    value = setting.check(value, what or setting.cli_flag or setting.env)
    if overwrite or setting.env not in os.environ:
        os.environ[setting.env] = _format(value)
    return value


def variables(values: Mapping[str, Any]) -> dict[str, str]:
    """``{variable: text}`` for settings ``{name: value}`` (None values left out): what to add to a child
    process's environment, e.g. ``variables({"max_steps": 10}) == {"VAK_TCN_MAX_STEPS": "10"}``."""
    return {_variable(key): _format(value) for key, value in values.items() if value is not None}


def child_env(values: Mapping[str, Any] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ``base`` (default: this process's), with ``values`` (setting
    names or variable names -> values) set, and those whose value is None removed."""
    env = dict(os.environ if base is None else base)
    for key, value in (values or {}).items():
        if value is None:
            env.pop(_variable(key), None)
        else:
            env[_variable(key)] = _format(value)
    return env


def thread_env(concurrent_runs: int, environ: Mapping[str, str] | None = None, cpus: int | None = None) -> dict:
    """Thread settings for each of ``concurrent_runs`` vak runs on this machine.

    dask starts its workers with OMP/MKL/OPENBLAS_NUM_THREADS=1, which every vak run would
    inherit: torch's convolutions (OpenMP) and LSTM matrix products (MKL) would then use one
    core (a TweetyNet training step on 2 cores: 0.46 s with MKL at 1 thread, 0.27 s at 2).
    Instead the cores are shared between the concurrent runs; a variable the user set wins.
    """
    environ = os.environ if environ is None else environ
    threads = str(max(1, (cpus or os.cpu_count() or 1) // max(1, concurrent_runs)))
    return {var: environ.get(var, threads) for var in THREAD_VARIABLES}


# ---------------------------------------------------------------- docs
def markdown_table() -> str:
    """The table of docs/config.md: every declared setting."""

    def code(text):
        return f"`{text}`" if text else ""

    rows = [
        "| variable | network-table key | `vak-tcn` option | values | default | recorded | effect |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in DECLARED:
        default = "" if s.default is None else code(_format(s.default))
        option = f"{code(s.cli_flag)} ({', '.join(s.commands)})" if s.cli_flag else ""
        rows.append(
            f"| `{s.env}` | {code(s.config_key)} | {option} | {s.values} | {default} | "
            f"{'yes' if s.recorded else ''} | {s.help} |"
        )
    return "\n".join(rows)
