"""vak-tcn's model family in process: what reaches the loss, what gets logged, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import plugins
from vak_tcn.models import family

plugins.load_plugins()

LABELMAP = {"background": 0, "a": 1, "b": 2}
INPUT_SHAPE = (1, 64, 32)  # channels, freqbins, window


def get_model(name="TCN", loss=None, post_tfm=None, metrics=None):
    import vak.models

    config = {
        "network": {"out_channels": 8, "num_layers": 2},
        "optimizer": {"lr": 0.001},
        "loss": loss or {},
        "metrics": metrics or {},
    }
    return vak.models.get(
        name, config, input_shape=INPUT_SHAPE, num_classes=len(LABELMAP), labelmap=LABELMAP, post_tfm=post_tfm
    )


def capture_logs(model, monkeypatch) -> dict:
    logged = {}
    monkeypatch.setattr(
        model,
        "log",
        lambda name, value, **kw: logged.__setitem__(name, float(value.detach() if torch.is_tensor(value) else value)),
    )
    return logged


def test_registered_models_use_vak_tcn_family():
    from vak.models import registry

    for name in ("TCN", "ConvTCN", "TweetyNetPlugin"):
        assert registry.MODEL_FAMILY_FROM_NAME[name] == "FrameClassificationModel"  # vak dispatches on this
        assert registry.MODEL_REGISTRY[name].family is family.FrameClassificationModel
    assert registry.MODEL_REGISTRY["TweetyNet"].family is vak.models.FrameClassificationModel


def test_training_step_passes_spectrogram_to_gs_tmse(monkeypatch):
    model = get_model(loss={"tmse_weight": 0.15, "similarity": "gaussian"})
    seen = {}
    original = model.loss.forward

    def spy(logits, target, inputs=None):
        seen["inputs"] = inputs
        return original(logits, target, inputs)

    monkeypatch.setattr(model.loss, "forward", spy)
    logged = capture_logs(model, monkeypatch)
    batch = {"frames": torch.randn(4, *INPUT_SHAPE), "multi_frame_labels": torch.randint(0, 3, (4, INPUT_SHAPE[-1]))}
    loss = model.training_step(batch, 0)
    assert torch.equal(seen["inputs"], batch["frames"])
    assert torch.isfinite(loss) and "train_loss" in logged


def test_training_step_rejects_batches_without_multiclass_labels():
    model = get_model()
    with pytest.raises(ValueError, match="multi_frame_labels"):
        model.training_step({"frames": torch.randn(2, *INPUT_SHAPE), "binary_frame_labels": torch.zeros(2, 32)}, 0)


def _val_batch(n_windows=3, pad=10):
    window = INPUT_SHAPE[-1]
    total = n_windows * window
    labels = np.zeros(total - pad, dtype=np.int64)
    labels[5:20], labels[40:60] = 1, 2
    return {
        "frames": torch.randn(1, n_windows, *INPUT_SHAPE),
        "multi_frame_labels": torch.from_numpy(labels)[None],
        "padding_mask": torch.cat([torch.ones(total - pad, dtype=torch.bool), torch.zeros(pad, dtype=torch.bool)])[
            None
        ],
    }


def test_validation_logs_vak_and_segment_metrics_raw_and_post_processed(monkeypatch):
    from vak.transforms.frame_labels import PostProcess

    post = PostProcess(timebin_dur=0.002, background_label=0, min_segment_dur=0.01, majority_vote=True)
    model = get_model(post_tfm=post, loss={"tmse_weight": 0.15, "similarity": "gaussian"})
    model.eval()
    logged = capture_logs(model, monkeypatch)
    model.validation_step(_val_batch(), 0)
    for name in (
        "acc",
        "levenshtein",
        "character_error_rate",
        "precision",
        "recall",
        "fscore",
        "rvalue",
        "overseg",
        "edit",
        "f1_10",
        "f1_25",
        "f1_50",
    ):
        assert f"val_{name}" in logged and f"val_{name}_tfm" in logged, name
    assert "val_loss" in logged
    assert all(np.isfinite(v) for v in logged.values())


def test_validation_scores_raw_predictions_not_post_processed_copies(monkeypatch):
    """vak 1.0's post-processing edits its input in place; the raw scores must not see that."""
    from vak.transforms.frame_labels import PostProcess

    post = PostProcess(timebin_dur=0.002, background_label=0, min_segment_dur=0.5, majority_vote=True)
    model = get_model(post_tfm=post, metrics={"segmentation": {"tolerance": 0.004}})
    model.eval()
    logged = capture_logs(model, monkeypatch)
    batch = _val_batch()
    model.validation_step(batch, 0)
    identity = PostProcess(timebin_dur=0.002, background_label=0)  # changes nothing
    without_post = get_model(post_tfm=identity, metrics={"segmentation": {"tolerance": 0.004}})
    without_post.load_state_dict(model.state_dict())
    without_post.eval()
    logged_raw = capture_logs(without_post, monkeypatch)
    without_post.validation_step(batch, 0)
    for name in ("acc", "precision", "recall", "edit"):
        assert logged[f"val_{name}"] == logged_raw[f"val_{name}"], name


def test_val_loss_uses_configured_loss_with_inputs(monkeypatch):
    from vak.transforms.frame_labels import PostProcess

    model = get_model(loss={"tmse_weight": 0.15, "similarity": "gaussian"}, post_tfm=PostProcess(timebin_dur=0.002))
    model.eval()
    calls = []
    original = model.loss.forward
    monkeypatch.setattr(
        model.loss, "forward", lambda logits, t, inputs=None: calls.append(inputs) or original(logits, t, inputs)
    )
    capture_logs(model, monkeypatch)
    model.validation_step(_val_batch(), 0)
    assert len(calls) == 1 and calls[0] is not None and calls[0].shape[-1] == 3 * INPUT_SHAPE[-1] - 10


def test_max_steps_env(monkeypatch):
    monkeypatch.setenv(family.MAX_STEPS_ENV, "25")
    assert family.max_steps_from_env() == 25
    monkeypatch.setenv(family.MAX_STEPS_ENV, "0")
    with pytest.raises(ValueError, match=family.MAX_STEPS_ENV):
        family.max_steps_from_env()
    monkeypatch.delenv(family.MAX_STEPS_ENV)
    assert family.max_steps_from_env() is None


@pytest.mark.parametrize(
    "table, match",
    [
        ({"network": {"num_layers": 0}}, "num_layers"),
        ({"network": {"n_layers": 3}}, "n_layers"),
        ({"loss": {"similarity": "cosine"}}, "similarity"),
        ({"loss": {"tmse_weight": -1.0}}, "tmse_weight"),
        ({"loss": {"sigmaa": 1.0}}, "sigmaa"),
        ({"metrics": {"segmentation": {"tolerance": -0.004}}}, "tolerance"),
        ({"metrics": {"segmentaton": {"tolerance": 0.01}}}, r"'segmentaton' \(did you mean 'segmentation'\?\)"),
    ],
)
def test_bad_config_tables_name_the_key(table, match):
    import vak.models

    config = {"network": {}, "optimizer": {}, "loss": {}, "metrics": {}}
    for key, value in table.items():
        config[key] = value
    with pytest.raises((ValueError, TypeError), match=match):
        vak.models.get("TCN", config, input_shape=INPUT_SHAPE, num_classes=3, labelmap=LABELMAP)


def _train_batch(frames: torch.Tensor) -> dict:
    return {"frames": frames, "multi_frame_labels": torch.zeros((frames.shape[0], frames.shape[-1]), dtype=torch.long)}


def test_nan_training_loss_stops_the_run(monkeypatch):
    model = get_model()
    capture_logs(model, monkeypatch)
    frames = torch.randn(2, *INPUT_SHAPE)
    model.training_step(_train_batch(frames), 0)  # finite: trains
    frames[0, 0, 3, 5] = float("nan")
    with pytest.raises(family.NonFiniteError, match="training loss is nan at step 0 with non-finite input frames"):
        model.training_step(_train_batch(frames), 0)


def test_nan_validation_frames_name_the_file(tmp_path, monkeypatch):
    model = get_model()
    capture_logs(model, monkeypatch)
    (tmp_path / "metadata.json").write_text('{"frame_dur": 0.002}')
    frames_file = tmp_path / "val" / "bout_7.wav.spect.npz"
    frames_file.parent.mkdir()
    np.savez(frames_file, s=np.full((64, 90), np.nan), t=np.arange(90) * 0.002)
    batch = _val_batch()
    batch["frames"] = torch.full_like(batch["frames"], float("nan"))
    batch["frames_path"] = [str(frames_file)]
    with pytest.raises(family.NonFiniteError, match=r"bout_7\.wav\.spect\.npz has non-finite .* silent audio"):
        model.validation_step(batch, 0)
