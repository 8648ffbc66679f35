"""The plugin host and the start-up hook, exercised as a user's Python would.

Each test runs a fresh interpreter (subprocess): plugin discovery happens once
per process, at ``import vak``.  Third-party plugins are real distributions on
``sys.path`` (a ``.dist-info`` with ``entry_points.txt``), found through
importlib.metadata like any installed package.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import vak_tcn

SRC = pathlib.Path(vak_tcn.__file__).parent


def make_dist(site: pathlib.Path, name: str, module_source: str) -> None:
    """Install a tiny plugin distribution ``name`` into directory ``site``."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[vak.plugins]\n{name} = {name}\n")


def run_python(code: str, site: pathlib.Path | None = None, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VAK_TCN_")}
    if site is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), environ.get("PYTHONPATH")]))
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environ, timeout=300
    )


REPORT = """
import json, vak
from vak.models import registry
from vak_tcn import plugins
print(json.dumps({"models": registry.MODEL_NAMES, "plugins": list(plugins.REGISTRY.plugins),
                  "metrics": list(plugins.REGISTRY.metrics), "losses": list(plugins.REGISTRY.losses),
                  "errors": [str(e) for e in plugins.REGISTRY.errors]}))
"""

GOOD_PLUGIN = """
import torch, vak
from vak_tcn.plugins import hookimpl

class Dummy(torch.nn.Module):
    def __init__(self, num_classes, num_input_channels=1, num_freqbins=8):
        super().__init__()
        self.fc = torch.nn.Conv1d(num_input_channels * num_freqbins, num_classes, 1)
    def forward(self, x):
        return self.fc(x.flatten(1, 2))

class FrameCount:
    def __call__(self, y_pred, y_true, **context):
        return {"n_frames": len(y_pred)}

@hookimpl
def vak_register_metrics(register):
    register("frame_count", FrameCount)

@hookimpl
def vak_register_models(register):
    class ThirdPartyNet:
        network = Dummy
        loss = torch.nn.CrossEntropyLoss
        optimizer = torch.optim.Adam
        metrics = {"acc": vak.metrics.Accuracy}
        default_config = {}
    register(ThirdPartyNet, vak.models.FrameClassificationModel)
"""

LOSS_PLUGIN = """
import torch
from vak_tcn.plugins import hookimpl

class ScaledCE(torch.nn.Module):
    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
    def forward(self, logits, target):
        return self.scale * torch.nn.functional.cross_entropy(logits, target)

@hookimpl
def vak_register_losses(register):
    register("scaled_ce", ScaledCE)
"""

BROKEN_IMPORT = "raise RuntimeError('broken at import')\n"

BROKEN_HOOK = """
from vak_tcn.plugins import hookimpl

@hookimpl
def vak_register_models(register):
    raise RuntimeError('broken in hook')
"""


def report(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_stock_vak_sees_plugin_models_without_importing_vak_tcn():
    got = report(run_python(REPORT))
    assert {"TCN", "ConvTCN", "TweetyNetPlugin", "TweetyNet"} <= set(got["models"])
    assert "vak_tcn" in got["plugins"]
    assert "segmentation" in got["metrics"] and "smoothed_cross_entropy" in got["losses"]
    assert got["errors"] == []


def test_disable_env_var_switches_hook_off():
    code = "import json, sys, vak; from vak.models import registry; print(json.dumps([registry.MODEL_NAMES, 'vak_tcn.plugins' in sys.modules]))"
    proc = run_python(code, VAK_TCN_DISABLE="1")
    assert proc.returncode == 0, proc.stderr
    names, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "TCN" not in names and "TweetyNet" in names
    assert loaded is False


def test_third_party_plugin_registers_model_and_metric(tmp_path):
    make_dist(tmp_path, "thirdparty_plugin", GOOD_PLUGIN)
    got = report(run_python(REPORT, site=tmp_path))
    assert "ThirdPartyNet" in got["models"] and "TCN" in got["models"]
    assert "frame_count" in got["metrics"]
    assert got["errors"] == []


def test_plugin_metrics_reach_vak_tcn_models(tmp_path):
    make_dist(tmp_path, "thirdparty_plugin", GOOD_PLUGIN)
    code = (
        "import vak; from vak.models import registry; print(sorted(registry.MODEL_REGISTRY['TCN'].definition.metrics))"
    )
    proc = run_python(code, site=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "frame_count" in proc.stdout and "segmentation" in proc.stdout


def test_config_selects_a_registered_loss_by_name(tmp_path):
    """A loss table's ``name`` picks a loss another plugin registered; its other keys configure it."""
    make_dist(tmp_path, "loss_plugin", LOSS_PLUGIN)
    code = """
    import json, torch, vak, vak.models

    def build(loss):
        config = {"network": {"out_channels": 4, "num_layers": 2}, "optimizer": {}, "loss": loss, "metrics": {}}
        return vak.models.get("TCN", config, input_shape=(1, 8, 16), num_classes=3, labelmap={"background": 0, "a": 1, "b": 2})

    model = build({"name": "scaled_ce", "scale": 2.5})
    logits, target = torch.randn(2, 3, 16), torch.randint(0, 3, (2, 16))
    ce = torch.nn.functional.cross_entropy(logits, target)
    out = {"type": type(model.loss.loss).__name__, "ratio": float(model.loss(logits, target) / ce),
           "default": type(build({}).loss.loss).__name__}
    try:
        build({"name": "scaled_cee"})
    except ValueError as e:
        out["error"] = str(e)
    print(json.dumps(out))
    """
    got = report(run_python(code, site=tmp_path))
    assert got["type"] == "ScaledCE" and abs(got["ratio"] - 2.5) < 1e-6
    assert got["default"] == "SmoothedCrossEntropy"
    assert "'scaled_cee' (did you mean 'scaled_ce'?)" in got["error"] and "smoothed_cross_entropy" in got["error"]


@pytest.mark.parametrize("source, stage", [(BROKEN_IMPORT, "loading"), (BROKEN_HOOK, "vak_register_models")])
def test_failing_plugin_is_named_and_others_still_load(tmp_path, source, stage):
    make_dist(tmp_path, "broken_plugin", source)
    make_dist(tmp_path, "thirdparty_plugin", GOOD_PLUGIN)
    proc = run_python(REPORT, site=tmp_path)
    got = report(proc)
    assert "ThirdPartyNet" in got["models"] and "TCN" in got["models"]
    assert len(got["errors"]) == 1 and "broken_plugin" in got["errors"][0] and stage in got["errors"][0]
    assert "broken_plugin" in proc.stderr  # the user sees it


def test_duplicate_model_name_is_reported_not_raised(tmp_path):
    make_dist(
        tmp_path,
        "dup_plugin",
        GOOD_PLUGIN.replace("class ThirdPartyNet:", "class TweetyNet:").replace(
            "register(ThirdPartyNet", "register(TweetyNet"
        ),
    )
    got = report(run_python(REPORT, site=tmp_path))
    assert any("dup_plugin" in e and "TweetyNet" in e for e in got["errors"])


def _bare_site(tmp_path: pathlib.Path, with_package: bool) -> pathlib.Path:
    """A site dir holding vak_tcn.pth, with or without the vak_tcn package itself."""
    site = tmp_path / "site"
    site.mkdir()
    pth = SRC.parent / "vak_tcn.pth"  # src/ in a checkout, site-packages when installed
    (site / "vak_tcn.pth").write_text(pth.read_text())
    if with_package:
        (site / "vak_tcn").symlink_to(SRC)
    return site


@pytest.mark.parametrize("with_package", [False, True])
def test_startup_hook_never_breaks_python(tmp_path, with_package):
    """Half-uninstalled (package gone) or vak absent: Python still starts and runs."""
    site = _bare_site(tmp_path, with_package)
    # -S: no site-packages, so neither vak nor an installed vak_tcn is importable
    code = f"import site; site.addsitedir({str(site)!r}); print('started')\ntry:\n import vak\nexcept ImportError:\n print('no vak')"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VAK_TCN_DISABLE")
    }  # nothing else on sys.path
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["started", "no vak"]
    if not with_package:
        assert "vak-tcn: start-up hook skipped" in proc.stderr
        assert "VAK_TCN_DISABLE" in proc.stderr  # says how to silence it


def test_startup_hook_is_silent_when_disabled(tmp_path):
    site = _bare_site(tmp_path, with_package=False)
    code = f"import site; site.addsitedir({str(site)!r}); print('started')"
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "VAK_TCN_DISABLE": "1"}
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "started" and proc.stderr == ""


def test_startup_hook_does_not_import_heavy_modules():
    """A process that never imports vak pays for nothing but a tiny finder."""
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith(('vak', 'torch', 'pluggy', 'importlib.metadata'))))"
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['vak_tcn', 'vak_tcn.plugins', 'vak_tcn.plugins.startup']"


@pytest.mark.parametrize("disabled", ["0", "1"])
def test_vak_tcn_console_script_lists_plugins_with_or_without_the_hook(disabled):
    """The wrapper loads plugins itself: it works where the start-up hook is off (or ignored)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAK_TCN_")}
    proc = subprocess.run(
        [sys.executable, "-m", "vak_tcn", "plugins"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "VAK_TCN_DISABLE": disabled},
    )
    assert proc.returncode == 0, proc.stderr
    assert "TCN" in proc.stdout and "ConvTCN" in proc.stdout and "segmentation" in proc.stdout
    assert "smoothed_cross_entropy" in proc.stdout


def test_vak_tcn_plugins_exits_non_zero_naming_a_failing_plugin(tmp_path):
    make_dist(tmp_path, "broken_plugin", BROKEN_HOOK)
    proc = run_python("import sys; from vak_tcn.cli import main; sys.exit(main(['plugins']))", site=tmp_path)
    assert proc.returncode == 1
    assert "error:" in proc.stdout and "broken_plugin" in proc.stdout and "TCN" in proc.stdout


def test_only_compat_branches_on_vak_version():
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "vak_compat.py":
            continue
        text = path.read_text()
        if "vak.__version__" in text or "VAK_VERSION" in text:
            offenders.append(path.name)
    assert offenders == [] or offenders == ["cli.py"], offenders  # cli only prints it


@pytest.mark.parametrize(
    "first_import", ["vak_tcn.models.family", "vak_tcn.plugins.vak_compat", "vak_tcn.models", "vak_tcn.models.plugin"]
)
def test_plugins_load_when_first_import_is_a_vak_tcn_module(first_import):
    """vak imported from inside a vak-tcn import: loading waits for that import to finish."""
    code = f"import {first_import}\n" + REPORT
    got = report(run_python(code))
    assert {"TCN", "ConvTCN", "TweetyNetPlugin"} <= set(got["models"]) and got["errors"] == []


def _clash_plugin(models: list[str]) -> str:
    """A plugin registering models named ``models`` (one network class each)."""
    lines = [
        GOOD_PLUGIN.split("@hookimpl\ndef vak_register_metrics")[0],
        "@hookimpl",
        "def vak_register_models(register):",
    ]
    for name in models:
        lines += [
            f"    class {name}:",
            "        network = Dummy",
            "        loss = torch.nn.CrossEntropyLoss",
            "        optimizer = torch.optim.Adam",
            '        metrics = {"acc": vak.metrics.Accuracy}',
            "        default_config = {}",
            f"    register({name}, vak.models.FrameClassificationModel)",
        ]
    return "\n".join(lines) + "\n"


OWNERS = REPORT.replace('"errors":', '"owners": plugins.REGISTRY.models, "errors":')


@pytest.mark.parametrize("plugin_name, tcn_owner", [("zzz_clash", "vak_tcn"), ("aaa_clash", "aaa_clash")])
def test_model_name_conflict_costs_only_that_name_and_names_both_plugins(tmp_path, plugin_name, tcn_owner):
    """First registration wins, plugins in sorted entry-point-name order: deterministic whatever sys.path says."""
    make_dist(tmp_path, plugin_name, _clash_plugin(["TCN", "OtherNet"]))
    got = report(run_python(OWNERS, site=tmp_path))
    assert {"TCN", "ConvTCN", "TweetyNetPlugin", "OtherNet"} <= set(got["models"])  # nobody's hook aborted
    assert got["owners"]["TCN"] == tcn_owner and got["owners"]["ConvTCN"] == "vak_tcn"
    assert got["owners"]["OtherNet"] == plugin_name
    loser = "vak_tcn" if tcn_owner == plugin_name else plugin_name
    (error,) = got["errors"]
    assert f"plugin '{loser}'" in error and f"plugin '{tcn_owner}'" in error and "'TCN'" in error


def test_model_names_must_be_identifiers(tmp_path):
    source = _clash_plugin(["GoodNet"]) + (
        "\n@hookimpl\ndef vak_register_losses(register):\n    register('my-loss', torch.nn.CrossEntropyLoss)\n"
    )
    source = source.replace("    register(GoodNet,", "    GoodNet.__name__ = 'Good-Net'\n    register(GoodNet,")
    make_dist(tmp_path, "badname_plugin", source)
    got = report(run_python(OWNERS, site=tmp_path))
    assert "Good-Net" not in got["models"] and "my-loss" not in got["losses"]
    assert len(got["errors"]) == 2 and all("identifier" in e and "badname_plugin" in e for e in got["errors"])


@pytest.mark.parametrize("raising", ["raise SystemExit(3)", "raise GeneratorExit()"])
def test_plugin_raising_base_exception_at_import_does_not_kill_import_vak(tmp_path, raising):
    make_dist(tmp_path, "exiting_plugin", raising + "\n")
    proc = run_python(REPORT, site=tmp_path)
    got = report(proc)
    assert "TCN" in got["models"]
    assert len(got["errors"]) == 1 and "exiting_plugin" in got["errors"][0]
    assert "exiting_plugin" in proc.stderr
