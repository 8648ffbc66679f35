"""The settings module: one declaration per setting, one precedence (CLI > variable > network table >
default), errors naming the source, the writers for child processes, and the rule that no other module
of vak_tcn reads the process's variables."""

from __future__ import annotations

import pathlib
import re

import pytest

import vak_tcn
from vak_tcn import settings

SRC = pathlib.Path(vak_tcn.__file__).parent
DOCS = pathlib.Path(__file__).parents[1] / "docs"

#: every declared setting, once: a raw value for each source it has (highest precedence first) with the
#: value it resolves to, and a bad value with a piece of the valid values its error must name
CASES = {
    "seed": dict(cli=(1, 1), env=("2", 2), config=(3, 3), bad=("x", "[0, 2**32 - 1]")),
    "deterministic": dict(env=("yes", True), bad=("maybe", "1 or 0")),
    "max_steps": dict(cli=(4, 4), env=("5", 5), bad=("0", "positive integer")),
    "precision": dict(cli=("32", "32"), env=("bf16", "bf16"), bad=("fp16", "Valid values: 32, bf16")),
    "tune": dict(env=("0", False), bad=("maybe", "1 or 0")),
    "post_processing": dict(
        cli=("none", "none"), env=("config", "config"), config=("tuned", "tuned"), bad=("tunned", "'auto', 'tuned'")
    ),
    "annotate_exact": dict(cli=(True, True), env=("1", True), bad=("maybe", "1 or 0")),
    "predict_batch_size": dict(env=("3", 3), bad=("-1", "positive integer")),
    "demo_out": dict(cli=("a", "a"), env=("b", "b"), bad=(" ", "must not be empty")),
    "disable": dict(env=("1", True)),  # the .pth line's reading: every value but 0/false/no/off disables
    "omp_num_threads": dict(env=("3", "3")),
    "mkl_num_threads": dict(env=("3", "3")),
    "openblas_num_threads": dict(env=("3", "3")),
    "cuda_visible_devices": dict(env=("0", "0")),
    "cublas_workspace_config": dict(env=(":16:8", ":16:8")),
}
SOURCES = ("cli", "env", "config")


def sources_of(setting: settings.Setting) -> list[str]:
    return [
        source for source, has in zip(SOURCES, (setting.cli_flag, setting.env, setting.config_key)) if has is not None
    ]


@pytest.fixture
def clean(monkeypatch):
    """No declared variable set."""
    for setting in settings.DECLARED:
        monkeypatch.delenv(setting.env, raising=False)
    return monkeypatch


def test_the_table_covers_every_declared_setting_and_its_sources():
    assert list(CASES) == list(settings.SETTINGS)
    for name, case in CASES.items():
        assert [s for s in SOURCES if s in case] == sources_of(settings.SETTINGS[name]), name


def given(monkeypatch, setting, source, raw, kwargs):
    if source == "env":
        monkeypatch.setenv(setting.env, str(raw))
    else:
        kwargs[source] = raw


@pytest.mark.parametrize("name", CASES)
def test_precedence_cli_then_variable_then_network_table_then_default(clean, name):
    setting, case = settings.SETTINGS[name], CASES[name]
    assert settings.lookup(name) == settings.Resolved(setting.default, "default", "default")
    kwargs = {}
    for source in reversed(sources_of(setting)):  # from the lowest source up: each one added wins
        raw, expected = case[source]
        given(clean, setting, source, raw, kwargs)
        found = settings.lookup(name, **kwargs)
        assert (found.value, found.source) == (expected, source), (name, source, kwargs)
        assert settings.resolve(name, **kwargs) == expected
    if "env" in case and setting.parse is not None:  # an empty variable is unset
        clean.setenv(setting.env, "  ")
        assert settings.lookup(name, config=kwargs.get("config")).source != "env"


@pytest.mark.parametrize(
    "name, source",
    [
        (name, source)
        for name, case in CASES.items()
        if "bad" in case
        for source in sources_of(settings.SETTINGS[name])
        if source != "env" or case["bad"][0].strip()  # an empty variable is unset, not bad
    ],
)
def test_a_bad_value_is_named_with_its_source_and_the_valid_values(clean, name, source):
    setting = settings.SETTINGS[name]
    bad, valid = CASES[name]["bad"]
    kwargs = {}
    given(clean, setting, source, bad, kwargs)
    where = {"cli": setting.cli_flag, "env": setting.env, "config": f"network parameter '{setting.config_key}'"}
    with pytest.raises(ValueError) as error:
        settings.lookup(name, **kwargs)
    message = str(error.value)
    assert message.startswith(where[source]) and valid in message, message
    assert repr(bad.strip().lower()) in message or repr(bad) in message or "empty" in message, message


def test_only_the_value_that_wins_is_checked(clean):
    clean.setenv("VAK_TCN_POST_PROCESSING", "tunned")
    assert settings.resolve("post_processing", cli="none") == "none"  # annotate --post-processing none
    assert settings.resolve("post_processing", config="tuned", cli="none") == "none"
    clean.setenv("VAK_TCN_POST_PROCESSING", "config")
    assert settings.resolve("post_processing", config="tunned") == "config"  # the table's value is not looked at
    with pytest.raises(ValueError, match="^--mode must be one of"):  # the option that gave it, when it is not the flag
        settings.lookup("post_processing", cli="bogus", flag="--mode")


def test_a_source_a_setting_does_not_have_is_a_programming_error(clean):
    with pytest.raises(TypeError, match="no command-line flag"):
        settings.resolve("tune", cli="1")
    with pytest.raises(TypeError, match="no network-table key"):
        settings.resolve("max_steps", config=3)
    with pytest.raises(KeyError, match="did you mean 'max_steps'"):
        settings.resolve("max_step")


def test_the_network_tables_keys_are_taken_out_and_checked():
    table = {"out_channels": 8, "seed": 4, "post_processing": "Tuned"}
    assert settings.pop_config(table) == {"seed": 4, "post_processing": "tuned"}
    assert table == {"out_channels": 8}  # what the network itself gets
    with pytest.raises(ValueError, match="network parameter 'seed' must be an integer"):
        settings.pop_config({"seed": "abc"})


def test_export_checks_then_writes_the_variable(clean):
    with pytest.raises(ValueError, match="^--seed must be an integer"):
        settings.export("seed", -1)
    assert settings.resolve("seed") is None
    assert settings.export("seed", 7) == 7 and settings.resolve("seed") == 7
    settings.export("predict_batch_size", 4, overwrite=False)
    settings.export("predict_batch_size", 16, what="[vak.predict] batch_size", overwrite=False)  # already set
    assert settings.resolve("predict_batch_size") == 4
    with pytest.raises(ValueError, match=r"^\[vak.predict\] batch_size must be a positive integer"):
        settings.export("predict_batch_size", 0, what="[vak.predict] batch_size")


def test_variables_and_child_environments(clean):
    assert settings.variables({"max_steps": 10, "seed": None, "tune": False}) == {
        "VAK_TCN_MAX_STEPS": "10",
        "VAK_TCN_TUNE": "0",
    }
    clean.setenv("VAK_TCN_DISABLE", "1")
    env = settings.child_env({"disable": None, "VAK_TCN_EVENT": "{}", "precision": "bf16"})
    assert "VAK_TCN_DISABLE" not in env and env["VAK_TCN_EVENT"] == "{}" and env["VAK_TCN_PRECISION"] == "bf16"
    assert settings.child_env({"disable": True}, base={})["VAK_TCN_DISABLE"] == "1"
    assert settings.resolve("disable") is True  # this process's own variables are untouched
    with pytest.raises(KeyError, match="no setting 'dsable'"):
        settings.child_env({"dsable": True})
    assert settings.current(["OMP_NUM_THREADS"]) == {}
    clean.setenv("OMP_NUM_THREADS", "2")
    assert settings.current(settings.THREAD_VARIABLES) == {"OMP_NUM_THREADS": "2"}


def test_recorded_settings_include_every_run_changing_variable(clean):
    recorded = settings.recorded()
    assert {"VAK_TCN_SEED", "VAK_TCN_MAX_STEPS", "VAK_TCN_TUNE", "VAK_TCN_POST_PROCESSING"} <= set(recorded)
    assert "VAK_TCN_DISABLE" not in recorded and set(recorded.values()) == {None}
    clean.setenv("VAK_TCN_TUNE", "0")
    assert settings.recorded()["VAK_TCN_TUNE"] == "0"  # as given, not parsed


def test_only_the_settings_module_reads_the_process_environment():
    """`grep -rn "environ\\|getenv" src/vak_tcn` finds only the settings module and the start-up hook
    (docstrings and comments too: a literal grep is the check a reader runs)."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative in ("settings.py", "plugins/startup.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"environ|getenv", line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "read settings with vak_tcn.settings:\n" + "\n".join(offenders)


def test_every_vak_tcn_variable_in_the_code_is_declared():
    """A VAK_TCN_* name in src/ is a declared setting, or one of the channels that are not settings."""
    not_settings = {"VAK_TCN_EVENT", "VAK_TCN_GRID_GPUS"}  # live's event for --exec; the grid's own marker
    declared = {s.env for s in settings.DECLARED}
    found = {m for path in SRC.rglob("*.py") for m in re.findall(r"VAK_TCN_[A-Z_]*[A-Z]", path.read_text())}
    assert found - declared - not_settings == set()


def test_the_docs_table_is_the_declarations():
    assert settings.markdown_table() in (DOCS / "config.md").read_text(), "paste settings.markdown_table()"


def test_the_settings_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, vak_tcn.settings; print(sorted(m for m in ('torch', 'numpy', 'vak') if m in sys.modules))"
    env = settings.child_env({"disable": True})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


BAD_VARIABLES = [
    (settings.SETTINGS[name].env, case["bad"][0])
    for name, case in CASES.items()
    if "bad" in case and case["bad"][0].strip()
]  # a blank variable is an unset one


@pytest.mark.parametrize("variable, bad", BAD_VARIABLES, ids=[v for v, _ in BAD_VARIABLES])
def test_bad_settings_are_refused_before_any_work(clean, capsys, tmp_path, variable, bad):
    """Every vak-tcn command checks every VAK_TCN_* variable first (issue 37: a bad VAK_TCN_TUNE failed
    when training ended, VAK_TCN_POST_PROCESSING after the training steps): one line naming the variable,
    exit 2, nothing done (here `summarize`, which would otherwise write its CSV)."""
    from helpers.cli import cli_in_process

    clean.setenv(variable, bad)
    proc = cli_in_process(capsys, "summarize", tmp_path, "--out", tmp_path / "summary.csv")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("vak-tcn summarize: error: ") and variable in line
    assert not (tmp_path / "summary.csv").exists()


def test_vaks_model_factory_refuses_a_bad_setting_before_training(clean):
    """Stock `vak train` with VAK_TCN_TUNE=maybe (read when training ends): refused where vak builds the
    model (its model factory, as vak train calls it before the first training step), naming the variable."""
    import vak

    from vak_tcn.plugins.manager import load_plugins

    load_plugins()
    clean.setenv("VAK_TCN_TUNE", "maybe")
    network = {"out_channels": 8, "num_layers": 3}
    config = dict(name="TCN", network=network, optimizer={}, loss={}, metrics={})
    labelmap = {"background": 0, "a": 1}
    with pytest.raises(ValueError, match="VAK_TCN_TUNE"):
        vak.models.get("TCN", config, num_classes=2, input_shape=(1, 32, 64), labelmap=labelmap)
