"""vak-tcn's model family in process: what reaches the loss, what gets logged, config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import plugins
from vak_tcn.models import family

plugins.load_plugins()

LABELMAP = {"background": 0, "a": 1, "b": 2}
INPUT_SHAPE = (1, 64, 32)  # channels, freqbins, window


def get_model(name="TCN", loss=None, post_tfm=None, metrics=None, network=None):
    import vak.models

    config = {
        "network": network or {"out_channels": 8, "num_layers": 2},
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
        "f1_10_macro",
        "f1_25_macro",
        "f1_50_macro",
    ):
        assert f"val_{name}" in logged and f"val_{name}_tfm" in logged, name
    assert "val_loss" in logged
    model.on_validation_epoch_end()  # MS-TCN's pooled F1@k, once per epoch
    for k in (10, 25, 50):
        assert f"val_f1_{k}_epoch" in logged and f"val_f1_{k}_tfm_epoch" in logged, k
    assert all(np.isfinite(v) for v in logged.values())
    # one unit: fractions, as vak's own metrics
    assert all(0 <= logged[f"val_{name}"] <= 1 for name in ("edit", "f1_50_macro", "precision", "fscore"))


class FixedPredictions(torch.nn.Module):
    """A network whose argmax is the next of the given frame-label sequences (one window each)."""

    def __init__(self, predictions, num_classes):
        super().__init__()
        self.predictions, self.num_classes = list(predictions), num_classes

    def forward(self, frames):
        labels = torch.as_tensor(self.predictions.pop(0))
        return torch.nn.functional.one_hot(labels, self.num_classes).T[None].float()  # (1 window, classes, time)


def test_validation_epoch_pools_f1_over_files_as_mstcn_does(monkeypatch):
    """The issue's case: a file with 1 segment scored exactly, one with 9 segments all missed.

    MS-TCN's eval sums tp/fp/fn over files: F1@50 = 2 / (2 + 9) = 18.2 %; the mean of the
    files' F1 (100 % and 0 %) is 50 %, now logged per file as ``val_f1_50_macro``.
    """
    from vak.transforms.frame_labels import PostProcess

    window = INPUT_SHAPE[-1]
    one = np.zeros(window, dtype=np.int64)
    one[4:8] = 1
    nine = np.zeros(window, dtype=np.int64)
    nine[1:19:2] = 1  # 9 one-frame segments
    model = get_model(post_tfm=PostProcess(timebin_dur=0.002, background_label=0))  # post-processing: identity
    model.network = FixedPredictions([one, np.zeros(window, dtype=np.int64)], len(LABELMAP))
    model.eval()
    logged = {}
    monkeypatch.setattr(model, "log", lambda name, value, **kw: logged.setdefault(name, []).append((float(value), kw)))
    model.on_validation_epoch_start()
    for labels in (one, nine):
        batch = {"frames": torch.randn(1, 1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(labels)[None]}
        model.validation_step(batch, 0)
    model.on_validation_epoch_end()
    per_file = [value for value, kw in logged["val_f1_50_macro"]]
    assert per_file == [1.0, 0.0]  # Lightning's epoch mean of these: 0.5
    ((pooled, kw),) = logged["val_f1_50_epoch"]
    assert pooled == pytest.approx(2 / 11)
    assert kw["on_epoch"] and not kw["on_step"]  # -> trainer.validate's val_f1_50_epoch -> avg_val_f1_50_epoch
    assert logged["val_f1_50_tfm_epoch"][0][0] == pytest.approx(2 / 11)
    # a new epoch starts from zero
    model.network = FixedPredictions([one], len(LABELMAP))
    model.on_validation_epoch_start()
    model.validation_step(
        {"frames": torch.randn(1, 1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(one)[None]}, 0
    )
    model.on_validation_epoch_end()
    assert logged["val_f1_50_epoch"][-1][0] == 1.0


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
    from vak_tcn import settings

    monkeypatch.setenv("VAK_TCN_MAX_STEPS", "25")
    assert settings.resolve("max_steps") == 25
    monkeypatch.setenv("VAK_TCN_MAX_STEPS", "0")
    with pytest.raises(ValueError, match="VAK_TCN_MAX_STEPS"):
        settings.resolve("max_steps")
    monkeypatch.delenv("VAK_TCN_MAX_STEPS")
    assert settings.resolve("max_steps") is None


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


def _prepared_dataset(tmp_path, annot_path):
    """The parts of a prepared dataset that ``family.dataset_references`` reads."""
    import json

    import pandas as pd

    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "metadata.json").write_text(json.dumps({"dataset_csv_filename": "dataset.csv"}))
    pd.DataFrame(
        {
            "audio_path": [str(annot_path.parent / "bout_1.wav")],
            "spect_path": [None],
            "frames_path": ["train/bout_1.wav.spect.npz"],
            "annot_path": [str(annot_path)],
            "annot_format": ["notmat"],
        }
    ).to_csv(dataset / "dataset.csv", index=False)
    return dataset


def test_moved_dataset_warns_once_that_metrics_fall_back_to_frame_labels(tmp_path, caplog):
    import logging
    import shutil

    from helpers.data import REAL_BOUT

    annot = tmp_path / "song" / "bout_1.wav.not.mat"
    annot.parent.mkdir()
    shutil.copy(REAL_BOUT / "bout_1.wav.not.mat", annot)
    dataset = _prepared_dataset(tmp_path, annot)
    family.dataset_references.cache_clear()
    with caplog.at_level(logging.INFO):
        refs = family.dataset_references(str(dataset))
    onsets, offsets, labels = refs["bout_1.wav.spect.npz"]
    assert len(onsets) == len(labels) > 10 and not [r for r in caplog.records if r.levelno >= logging.WARNING]

    annot.parent.rename(tmp_path / "moved")  # the annotation is no longer where the dataset's CSV says
    family.dataset_references.cache_clear()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert family.dataset_references(str(dataset)) == {}
            family.dataset_references.cache_clear()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # once per dataset
    message = warnings[0].getMessage()
    assert str(dataset) in message and "1 of the 1 annotation files" in message and str(annot) in message
    assert "score against the frame labels" in message
    assert warnings[0].name.startswith("vak")  # vak's logger: lands in vak's log file too


def test_trainer_validate_returns_pooled_f1_under_the_names_vaks_eval_writes(tmp_path):
    """Through Lightning as `vak eval` runs it: ``trainer.validate(...)[0]`` -> ``avg_<key>`` columns."""
    import lightning
    from vak.transforms.frame_labels import PostProcess

    window = INPUT_SHAPE[-1]
    one = np.zeros(window, dtype=np.int64)
    one[4:8] = 1
    nine = np.zeros(window, dtype=np.int64)
    nine[1:19:2] = 1
    model = get_model(post_tfm=PostProcess(timebin_dur=0.002, background_label=0))
    model.network = FixedPredictions([one, np.zeros(window, dtype=np.int64)], len(LABELMAP))
    batches = [
        {"frames": torch.randn(1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(labels)}
        for labels in (one, nine)
    ]
    loader = torch.utils.data.DataLoader(batches, batch_size=1)
    trainer = lightning.pytorch.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    metric_vals = trainer.validate(model, dataloaders=loader, verbose=False)[0]
    assert metric_vals["val_f1_50_epoch"] == pytest.approx(2 / 11)  # MS-TCN: pooled
    assert metric_vals["val_f1_50_macro_epoch"] == pytest.approx(0.5)  # mean of 1 and 0
    assert metric_vals["val_f1_50_tfm_epoch"] == pytest.approx(2 / 11)
    assert metric_vals["val_edit_epoch"] == pytest.approx(0.5) and "val_f1_50" not in metric_vals


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


# ---- clean-up tuned after training, used by eval and predict (docs/postprocessing.md) ----------
def _gap_case():
    """Reference: one 16-frame 'a'. Prediction: that 'a' split by a 2-frame (4 ms) gap."""
    window = INPUT_SHAPE[-1]
    ref = np.zeros(window, dtype=np.int64)
    ref[4:20] = 1
    pred = ref.copy()
    pred[10:12] = 0
    return ref, pred


def _checkpoint_with_tuned(model, tmp_path, best: dict | None) -> None:
    """Save ``model`` as vak's checkpoint, with ``postprocess.json`` (``best``) beside it, and load it."""
    ckpt = tmp_path / "checkpoints" / "max-val-acc-checkpoint.pt"
    ckpt.parent.mkdir()
    torch.save({"state_dict": model.state_dict()}, ckpt)
    if best is not None:
        (ckpt.parent / "postprocess.json").write_text(json.dumps({"best": best}))
    model.load_state_dict_from_path(ckpt)


def _validate(model, batches, tmp_path) -> dict:
    import lightning

    trainer = lightning.pytorch.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=1)
    return trainer.validate(model, dataloaders=loader, verbose=False)[0]


FILL_GAPS = {"min_segment_dur": 0.0, "min_gap_dur": 0.006, "majority_vote": False}


def _fixed_post_tfm():
    from vak.transforms.frame_labels import PostProcess

    return PostProcess(timebin_dur=0.002, background_label=0, min_segment_dur=0.01, majority_vote=True)


@pytest.mark.parametrize("mode", [None, "auto", "tuned", "config", "none"])
@pytest.mark.parametrize("where", ["network table", "environment"])
def test_eval_reports_tuned_as_tfm_and_the_configs_clean_up_as_fixed(tmp_path, monkeypatch, mode, where):
    """Hand-computed: the split 'a' is 'aa' raw and after the config's fixed clean-up (both pieces
    outlive min_segment_dur = 10 ms): character error rate 1; gap filling (< 6 ms) makes it 'a': 0."""
    ref, pred = _gap_case()
    table = {"out_channels": 8, "num_layers": 2}
    if mode is not None and where == "network table":
        table["post_processing"] = mode
    elif mode is not None:
        monkeypatch.setenv("VAK_TCN_POST_PROCESSING", mode)
    model = get_model(network=table, post_tfm=_fixed_post_tfm())
    _checkpoint_with_tuned(model, tmp_path, FILL_GAPS)
    model.network = FixedPredictions([pred], len(LABELMAP))
    batch = {"frames": torch.randn(1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(ref)}
    vals = _validate(model, [batch], tmp_path)
    assert vals["val_character_error_rate_epoch"] == pytest.approx(1.0)  # raw
    if mode == "none":
        assert not [k for k in vals if k.endswith(("_tfm_epoch", "_fixed_epoch", "_tuned_epoch"))]
    elif mode == "config":  # vak's behaviour: _tfm is the config's
        assert vals["val_character_error_rate_tfm_epoch"] == pytest.approx(1.0)
        assert not [k for k in vals if k.endswith(("_fixed_epoch", "_tuned_epoch"))]
    else:
        assert vals["val_character_error_rate_tfm_epoch"] == pytest.approx(0.0)
        assert vals["val_character_error_rate_tuned_epoch"] == pytest.approx(0.0)
        assert vals["val_character_error_rate_fixed_epoch"] == pytest.approx(1.0)
        assert vals["val_acc_tuned_epoch"] == pytest.approx(1.0)  # the filled frames are right
        assert vals["val_fscore_tuned_epoch"] == pytest.approx(1.0)
        assert vals["val_fscore_fixed_epoch"] < 1.0


def test_eval_without_tuned_settings_reports_the_configs_clean_up(tmp_path):
    ref, pred = _gap_case()
    model = get_model(post_tfm=_fixed_post_tfm())
    _checkpoint_with_tuned(model, tmp_path, None)
    model.network = FixedPredictions([pred], len(LABELMAP))
    batch = {"frames": torch.randn(1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(ref)}
    vals = _validate(model, [batch], tmp_path)
    assert vals["val_character_error_rate_tfm_epoch"] == pytest.approx(1.0)
    assert vals["val_character_error_rate_fixed_epoch"] == pytest.approx(1.0)
    assert "val_character_error_rate_tuned_epoch" not in vals


def test_tuned_mode_without_the_file_names_the_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("VAK_TCN_POST_PROCESSING", "tuned")
    model = get_model(post_tfm=_fixed_post_tfm())
    _checkpoint_with_tuned(model, tmp_path, None)
    ref, _ = _gap_case()
    batch = {"frames": torch.randn(1, *INPUT_SHAPE), "multi_frame_labels": torch.from_numpy(ref)}
    with pytest.raises(FileNotFoundError, match=r"postprocess\.json beside .*max-val-acc-checkpoint\.pt"):
        _validate(model, [batch], tmp_path)


@pytest.mark.parametrize("where", ["network table", "environment"])
def test_a_bad_clean_up_mode_is_named(monkeypatch, where):
    table = {"out_channels": 8, "num_layers": 2}
    if where == "environment":
        monkeypatch.setenv("VAK_TCN_POST_PROCESSING", "tunned")
        with pytest.raises(ValueError, match="VAK_TCN_POST_PROCESSING must be one of 'auto', 'tuned'.*'tunned'"):
            get_model(network=table).cleanup_mode()
    else:
        table["post_processing"] = "tunned"
        with pytest.raises(ValueError, match="network parameter 'post_processing' must be one of"):
            get_model(network=table)


def _predict_batch(tmp_path, n_windows=2, pad=7):
    """A `vak predict` batch: one file's windows, its padding mask, a frames path in a prepared dataset."""
    dataset = tmp_path / "dataset"
    (dataset / "predict").mkdir(parents=True)
    (dataset / "metadata.json").write_text(json.dumps({"frame_dur": 0.002}))
    total = n_windows * INPUT_SHAPE[-1]
    mask = torch.cat([torch.ones(total - pad, dtype=torch.bool), torch.zeros(pad, dtype=torch.bool)])
    frames_path = str(dataset / "predict" / "song.spect.npz")
    return {"frames": torch.randn(1, n_windows, *INPUT_SHAPE), "padding_mask": mask[None], "frames_path": [frames_path]}


class FixedLogits(torch.nn.Module):
    """A network returning the given (windows, classes, window) logits."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, frames):
        assert frames.shape[0] == self.logits.shape[0]
        return self.logits.clone()


def _file_logits(labels: np.ndarray, n_windows: int) -> torch.Tensor:
    """(windows, classes, window) logits: 2 for the label, noise below 1 for the others."""
    gen = torch.Generator().manual_seed(0)
    seq = torch.rand(len(LABELMAP), labels.size, generator=gen)
    seq[torch.as_tensor(labels), torch.arange(labels.size)] = 2.0
    return seq.reshape(len(LABELMAP), n_windows, -1).permute(1, 0, 2)


@pytest.mark.parametrize("mode", ["auto", "config", "none"])
def test_predict_step_returns_logits_whose_argmax_is_the_tuned_clean_up(tmp_path, monkeypatch, mode):
    from vak_tcn.models import cleanup as postprocess

    monkeypatch.setenv("VAK_TCN_POST_PROCESSING", mode)
    tuned = {"min_segment_dur": 0.01, "min_gap_dur": 0.006, "majority_vote": True}
    n_windows, pad = 2, 7
    labels = np.zeros(n_windows * INPUT_SHAPE[-1], dtype=np.int64)
    labels[3:15] = 1
    labels[8:10] = 0  # a 4 ms gap inside an 'a': filled
    labels[30:33] = 2  # a 6 ms 'b': too short, removed
    labels[40:48], labels[46:48] = 1, 2  # 'aaaaaabb': majority 'a'
    labels[-pad:] = 2  # padding: never cleaned, returned as the network gave it
    valid = labels.size - pad
    expected = postprocess.clean(labels[:valid], 0.002, postprocess.Settings(**tuned))
    assert (expected != labels[:valid]).sum() == 2 + 3 + 2  # the case has each kind of change

    model = get_model()
    _checkpoint_with_tuned(model, tmp_path, tuned)
    model.on_predict_start()
    logits = _file_logits(labels, n_windows)
    model.network = FixedLogits(logits)
    ((_, out),) = model.predict_step(_predict_batch(tmp_path, n_windows, pad), 0).items()
    assert out.shape == logits.shape
    seq = out.permute(1, 0, 2).reshape(len(LABELMAP), -1)
    before = logits.permute(1, 0, 2).reshape(len(LABELMAP), -1)
    if mode != "auto":  # the config's clean-up only: vak predict applies it, the model changes nothing
        assert torch.equal(out, logits)
        return
    assert np.array_equal(seq.argmax(dim=0).numpy()[:valid], expected)
    same = np.flatnonzero(np.concatenate([expected == labels[:valid], np.ones(pad, bool)]))
    assert torch.equal(seq[:, same], before[:, same])  # frames the clean-up keeps: untouched


def test_then_is_the_two_clean_ups_in_turn():
    """``then(tuned, config's)`` = the tuned clean-up followed by vak's, on random label sequences."""
    from vak_tcn.models import cleanup as postprocess

    rng = np.random.default_rng(0)
    settings = postprocess.grid((0, 0.004, 0.01), (0, 0.006), (False, True))
    vaks = [postprocess.Settings(min_segment_dur=d, majority_vote=m) for d in (0, 0.006, 0.02) for m in (False, True)]
    for _ in range(40):
        labels = np.repeat(rng.integers(0, 3, 30), rng.integers(1, 8, 30))
        for first in settings:
            for second in vaks:
                in_turn = postprocess.clean(postprocess.clean(labels, 0.002, first), 0.002, second)
                assert np.array_equal(postprocess.clean(labels, 0.002, postprocess.then(first, second)), in_turn)
    with pytest.raises(ValueError, match="must not fill gaps"):
        postprocess.then(settings[0], postprocess.Settings(min_gap_dur=0.004))
