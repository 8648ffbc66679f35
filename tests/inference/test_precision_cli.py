"""``--precision`` and ``VAK_TCN_PRECISION`` mistakes through the commands a user runs: one line naming
the value, exit status 2 (bf16 against float32 on the real bout: test_annotate_vs_vak_predict.py)."""

from __future__ import annotations

import subprocess

from conftest import console_script, vak_env


def test_bad_precision_values_exit_2_naming_them(tmp_path):
    config = tmp_path / "predict.toml"
    config.write_text("[vak.predict]\n")
    for command in (["annotate", config, "x.wav"], ["predict", config], ["eval", config]):
        proc = subprocess.run(
            [console_script("vak-tcn"), *map(str, command), "--precision", "bf61"],
            capture_output=True, text=True, env=vak_env(), timeout=300,
        )  # fmt: skip
        assert proc.returncode == 2 and "--precision: invalid choice: 'bf61'" in proc.stderr, proc.stderr
    proc = subprocess.run(
        [console_script("vak-tcn"), "predict", str(config)],
        capture_output=True, text=True, env=vak_env(VAK_TCN_PRECISION="fp16"), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and "VAK_TCN_PRECISION: unknown precision 'fp16'" in proc.stderr, proc.stderr
    assert "Valid values: 32, bf16" in proc.stderr
