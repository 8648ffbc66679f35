"""The family's predict_step runs a file's windows in sub-batches, with the output of one big batch."""

from __future__ import annotations

import pytest
import torch

from vak_tcn import settings
from vak_tcn.models.family import predict_in_batches

PREDICT_BATCH_ENV = settings.PREDICT_BATCH_SIZE.env


def tcn_model():
    import vak

    torch.manual_seed(0)
    labelmap = {"background": 0, "a": 1, "b": 2}
    config = {
        "name": "TCN",
        "network": {"out_channels": 8, "num_layers": 3},
        "optimizer": {},
        "loss": {},
        "metrics": {},
    }
    return vak.models.get("TCN", config, num_classes=3, input_shape=(1, 20, 50), labelmap=labelmap)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_predict_step_sub_batches_equal_one_batch(monkeypatch, batch_size):
    model = tcn_model().eval()
    windows = torch.randn(1, 7, 1, 20, 50)  # vak's predict batch: one file, all its windows
    with torch.no_grad():
        whole = model.network(windows[0])
        monkeypatch.setenv(PREDICT_BATCH_ENV, str(batch_size))
        calls = []
        handle = model.network.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
        (out,) = model.predict_step({"frames": windows, "frames_path": ["a.spect.npz"]}, 0).values()
        handle.remove()
    assert calls == [min(batch_size, 7)] * (len(calls) - 1) + [calls[-1]] and sum(calls) == 7
    assert out.shape == whole.shape
    torch.testing.assert_close(out, whole, atol=1e-5, rtol=0)
    assert torch.equal(out.argmax(1), whole.argmax(1))


def test_predict_in_batches_and_env(monkeypatch):
    net = torch.nn.Conv1d(2, 3, 3, padding=1)
    x = torch.randn(10, 2, 40)
    with torch.no_grad():
        torch.testing.assert_close(predict_in_batches(net, x, 4), net(x), atol=1e-6, rtol=0)
    monkeypatch.delenv(PREDICT_BATCH_ENV, raising=False)
    assert settings.resolve("predict_batch_size") == 8
    monkeypatch.setenv(PREDICT_BATCH_ENV, "0")
    with pytest.raises(ValueError, match=PREDICT_BATCH_ENV):
        settings.resolve("predict_batch_size")


def test_precision_env_reaches_predict_step(monkeypatch):
    """VAK_TCN_PRECISION=bf16 (what `vak-tcn predict --precision bf16` sets): stock vak predict's
    predict_step runs the network's convolutions in bf16 and returns float32 logits."""
    from vak_tcn.nn import precision

    monkeypatch.setattr(precision, "bf16_supported", lambda device_type: True)  # the wiring, on any CPU
    model = tcn_model().eval()
    windows = torch.randn(1, 3, 1, 20, 50)
    with torch.no_grad():
        reference = model.network(windows[0])
    monkeypatch.setenv("VAK_TCN_PRECISION", "bf16")
    model.on_predict_start()
    assert isinstance(model.network, precision.PrecisionNetwork)
    seen = []
    conv = next(m for m in model.network.modules() if isinstance(m, torch.nn.Conv1d))
    conv.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    with torch.no_grad():
        (out,) = model.predict_step({"frames": windows, "frames_path": ["a.spect.npz"]}, 0).values()
    assert seen and set(seen) == {torch.bfloat16}
    assert out.dtype == torch.float32 and out.shape == reference.shape
    torch.testing.assert_close(out, reference, atol=0.1, rtol=0.05)  # bf16 rounding, not another network
    model.on_predict_start()  # a second start does not wrap twice
    assert isinstance(model.network.network, torch.nn.Module) and not isinstance(
        model.network.network, precision.PrecisionNetwork
    )


def test_default_precision_predicts_in_float32_and_bad_env_is_named(monkeypatch):
    from vak_tcn.nn import precision

    monkeypatch.delenv("VAK_TCN_PRECISION", raising=False)
    model = tcn_model().eval()
    model.on_predict_start()
    assert not isinstance(model.network, precision.PrecisionNetwork)
    monkeypatch.setenv("VAK_TCN_PRECISION", "bf-16")
    with pytest.raises(ValueError, match=r"VAK_TCN_PRECISION: unknown precision 'bf-16' \(did you mean 'bf16'\?\)"):
        tcn_model().on_predict_start()


def test_precision_env_reaches_vak_eval_not_validation_during_training(monkeypatch):
    """`vak eval` (trainer.validate) runs in VAK_TCN_PRECISION; validation inside `vak train` stays float32."""
    from types import SimpleNamespace

    from vak_tcn.nn import precision

    monkeypatch.setattr(precision, "bf16_supported", lambda device_type: True)
    monkeypatch.setenv("VAK_TCN_PRECISION", "bf16")
    for fn, wrapped in (("fit", False), ("validate", True)):
        model = tcn_model()
        model._trainer = SimpleNamespace(state=SimpleNamespace(fn=fn))
        model.on_validation_start()
        assert isinstance(model.network, precision.PrecisionNetwork) is wrapped, fn
