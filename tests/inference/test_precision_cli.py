"""``--precision`` and ``VAK_TCN_PRECISION`` mistakes through the commands a user runs: one line naming
the value, exit status 2 (bf16 against float32 on the real bout: test_annotate_vs_vak_predict.py).

In-process (``vak_tcn.cli.main``): an exception escaping it fails the test, so no traceback either."""

from __future__ import annotations

import pytest

from vak_tcn import cli


def test_bad_precision_values_exit_2_naming_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VAK_TCN_PRECISION", raising=False)
    config = tmp_path / "predict.toml"
    config.write_text("[vak.predict]\n")
    for command in (["annotate", config, "x.wav"], ["predict", config], ["eval", config]):
        with pytest.raises(SystemExit) as exited:  # argparse
            cli.main([*map(str, command), "--precision", "bf61"])
        stderr = capsys.readouterr().err
        assert exited.value.code == 2 and "--precision: invalid choice: 'bf61'" in stderr, stderr
    monkeypatch.setenv("VAK_TCN_PRECISION", "fp16")
    status = cli.main(["predict", str(config)])
    stderr = capsys.readouterr().err
    assert status == 2 and "VAK_TCN_PRECISION: unknown precision 'fp16'" in stderr, stderr
    assert "Valid values: 32, bf16" in stderr
