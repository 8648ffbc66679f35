"""Inference precision: values and their errors, the float32 fallback, bf16 label agreement."""

from __future__ import annotations

import warnings

import pytest
import torch

from vak_tcn import settings
from vak_tcn.nn import TCN, precision
from vak_tcn.nn.precision import PrecisionNetwork, check_precision, effective_precision, with_precision
from vak_tcn.nn.tcn import inference_copy

CPU_BF16 = precision.bf16_supported("cpu")
needs_bf16 = pytest.mark.skipif(not CPU_BF16, reason="this CPU has no native bf16 (AVX-512 BF16 / AMX)")


def small_tcn(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = TCN(num_classes=4, num_input_channels=1, num_freqbins=24, out_channels=16, num_layers=4, kernel_size=3)
    return inference_copy(net)


def test_values_and_errors_name_the_option_the_value_and_the_valid_values(monkeypatch):
    assert check_precision("32") == "32" and check_precision(32) == "32" and check_precision(" bf16 ") == "bf16"
    with pytest.raises(ValueError, match=r"--precision: unknown precision 'bf61' \(did you mean 'bf16'\?\)"):
        check_precision("bf61", "--precision")
    with pytest.raises(ValueError, match="Valid values: 32, bf16"):
        check_precision("float64")
    monkeypatch.delenv("VAK_TCN_PRECISION", raising=False)
    assert settings.resolve("precision") == "32"
    monkeypatch.setenv("VAK_TCN_PRECISION", "bf16")
    assert settings.resolve("precision") == "bf16"
    monkeypatch.setenv("VAK_TCN_PRECISION", "16")
    with pytest.raises(ValueError, match="VAK_TCN_PRECISION: unknown precision '16'"):
        settings.resolve("precision")


def test_unsupported_bf16_falls_back_to_float32_with_one_warning(monkeypatch):
    monkeypatch.setattr(precision, "bf16_supported", lambda device_type: False)
    monkeypatch.setattr(precision, "_WARNED", set())
    net = small_tcn()
    x = torch.randn(2, 1, 24, 100)
    with pytest.warns(RuntimeWarning, match="no native bfloat16 support.*running in float32") as record:
        wrapped = with_precision(net, "bf16", "cpu")
    assert len(record) == 1 and wrapped is net  # float32: the network itself, unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second request in the same process: no second warning
        assert effective_precision("bf16", "cpu") == "32"
        assert with_precision(net, "bf16", "cpu") is net
    with torch.inference_mode():
        y = wrapped(x)
    assert y.dtype == torch.float32


def test_precision_network_runs_bf16_inside_float32_outside_and_keeps_attributes():
    net = small_tcn()
    wrapped = PrecisionNetwork(net, "bf16", "cpu")
    assert wrapped.receptive_field == net.receptive_field and wrapped.lookahead == net.lookahead
    seen = []
    conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv1d))
    conv.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    with torch.inference_mode():
        y = wrapped(torch.randn(1, 1, 24, 50))
    assert seen == [torch.bfloat16] and y.dtype == torch.float32


@needs_bf16
def test_bf16_frame_labels_agree_with_float32():
    """Seeded TCN on a seeded synthetic input: >= 99 % of argmax labels the same (measured in
    docs/benchmarks.md: the same check at window 2000 in `vak-tcn bench --precision 32 bf16`)."""
    net = small_tcn(seed=1)
    torch.manual_seed(2)
    x = torch.randn(4, 1, 24, 500)
    with torch.inference_mode():
        labels_32 = net(x).argmax(1)
        logits_bf16 = with_precision(net, "bf16", "cpu")(x)
    assert logits_bf16.dtype == torch.float32
    agreement = float((logits_bf16.argmax(1) == labels_32).float().mean())
    assert agreement >= 0.99, agreement
    assert not torch.equal(logits_bf16, net(x))  # it did compute in bf16
