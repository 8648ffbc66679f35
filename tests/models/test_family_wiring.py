"""The family's wiring, against an independent computation of every logged value.

A tiny prepared dataset (metadata, a frames file with its frame times, a simple-seq
annotation) and a network whose predictions are fixed: each value the family logs must equal
vak-tcn's metric functions (or vak's own) applied by hand to the known predictions, to vak's
post-processing of them, with the annotation's times as the reference.  The case is built so
that the usual wiring mistakes change a number: precision != recall (swapped arguments), the
post-processing removes a segment (``_tfm`` scored on raw predictions), the reference is in
seconds (a wrong frame duration moves every predicted boundary), the background class is not
0 (a wrong background index merges or splits segments).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import metrics, plugins
from vak_tcn.models import family
from vak_tcn.nn.losses import SmoothedCrossEntropy

plugins.load_plugins()

FRAME_DUR = 0.002
WINDOW = 64
# the background class is NOT 0 here, so a family that assumes 0 scores the wrong segments
LABELMAP = {"a": 0, "b": 1, "background": 2}
BG = 2
GS_TMSE = {"tmse_weight": 0.15, "similarity": "gaussian", "sigma": 1.0}


def predictions() -> np.ndarray:
    """Two windows: 'a' at frames 5-19, a 3-frame 'b' (6 ms: removed by min_segment_dur 10 ms), 'b' at 40-59,
    and in the second window an 'a' at 70-90 interrupted by one 'b' frame (majority vote mends it)."""
    pred = np.full(2 * WINDOW, BG, dtype=np.int64)
    pred[5:20] = 0
    pred[30:33] = 1
    pred[40:60] = 1
    pred[70:91] = 0
    pred[80] = 1
    return pred


def reference_segments():
    # seconds, not frame multiples: scoring against frame-quantised labels would differ
    return np.array([0.0105, 0.0795, 0.1395]), np.array([0.0395, 0.1205, 0.1825]), np.array(["a", "b", "a"])


class Fixed(torch.nn.Module):
    """Logits whose argmax is ``predictions()``, window by window."""

    def __init__(self, pred: np.ndarray):
        super().__init__()
        self.logits = torch.nn.functional.one_hot(torch.from_numpy(pred), len(LABELMAP)).T.float() * 3.0

    def forward(self, frames):  # (windows, 1, freqbins, WINDOW) -> (windows, classes, WINDOW)
        n = frames.shape[0]
        return self.logits.reshape(len(LABELMAP), n, WINDOW).permute(1, 0, 2)


@pytest.fixture()
def dataset(tmp_path):
    import pandas as pd

    root = tmp_path / "dataset"
    (root / "val").mkdir(parents=True)
    times = (np.arange(2 * WINDOW) + 0.5) * FRAME_DUR  # bin centres, as vak's spectrograms have
    frames_path = root / "val" / "song.wav.spect.npz"
    np.savez(frames_path, s=np.zeros((8, 2 * WINDOW)), t=times)
    annot = tmp_path / "song.wav.csv"
    onsets, offsets, labels = reference_segments()
    pd.DataFrame({"onset_s": onsets, "offset_s": offsets, "label": labels}).to_csv(annot, index=False)
    (root / "metadata.json").write_text(json.dumps({"dataset_csv_filename": "dataset.csv", "frame_dur": FRAME_DUR}))
    pd.DataFrame(
        {
            "audio_path": [str(tmp_path / "song.wav")],
            "spect_path": [None],
            "frames_path": ["val/song.wav.spect.npz"],
            "annot_path": [str(annot)],
            "annot_format": ["simple-seq"],
            "split": ["val"],
        }
    ).to_csv(root / "dataset.csv", index=False)
    family.dataset_references.cache_clear()
    return frames_path, times


def model_with(post_tfm, loss=None):
    import vak.models

    config = {"network": {"out_channels": 4, "num_layers": 2}, "optimizer": {}, "loss": loss or {}, "metrics": {}}
    model = vak.models.get(
        "TCN", config, input_shape=(1, 8, WINDOW), num_classes=len(LABELMAP), labelmap=LABELMAP, post_tfm=post_tfm
    )
    model.network = Fixed(predictions())
    return model.eval()


def run_validation(model, frames_path, target, monkeypatch):
    logged = {}
    monkeypatch.setattr(model, "log", lambda name, value, **kw: logged.__setitem__(name, float(value)))
    batch = {
        "frames": torch.randn(1, 2, 1, 8, WINDOW),
        "multi_frame_labels": torch.from_numpy(target)[None],
        "frames_path": [str(frames_path)],
    }
    model.on_validation_epoch_start()
    model.validation_step(batch, 0)
    model.on_validation_epoch_end()
    return logged, batch


def expected_scores(pred: np.ndarray, times: np.ndarray) -> dict:
    onsets, offsets, labels = reference_segments()
    scores = metrics.segment_scores(
        pred,
        frame_dur=FRAME_DUR,
        background=BG,
        frame_times=times,
        ref_onsets=onsets,
        ref_offsets=offsets,
        ref_labels=np.array([LABELMAP[x] for x in labels]),
    )
    # vak-tcn logs fractions in vak's outputs; the functions give edit and F1@k in 0-100
    return {k: v / 100 if k in ("edit", "f1_10", "f1_25", "f1_50") else v for k, v in scores.items()}


def test_logged_values_equal_the_metrics_applied_by_hand(dataset, monkeypatch):
    from vak.transforms.frame_labels import PostProcess

    frames_path, times = dataset
    post = PostProcess(timebin_dur=FRAME_DUR, background_label=BG, min_segment_dur=0.01, majority_vote=True)
    model = model_with(post)
    pred = predictions()
    target = np.full(pred.size, BG, dtype=np.int64)
    target[5:20], target[40:60], target[70:91] = 0, 1, 0
    logged, _ = run_validation(model, frames_path, target, monkeypatch)

    post_pred = PostProcess(timebin_dur=FRAME_DUR, background_label=BG, min_segment_dur=0.01, majority_vote=True)(
        pred.copy()
    )
    assert not np.array_equal(post_pred, pred)  # the case needs post-processing to change something
    raw, tfm = expected_scores(pred, times), expected_scores(post_pred, times)
    assert raw["precision"] != raw["recall"] and raw != tfm  # the case tells the mistakes apart
    for key in ("precision", "recall", "fscore", "rvalue", "overseg", "edit"):
        assert logged[f"val_{key}"] == pytest.approx(raw[key]), key
        assert logged[f"val_{key}_tfm"] == pytest.approx(tfm[key]), key
    for k in (10, 25, 50):  # pooled over the epoch's files (here one)
        assert logged[f"val_f1_{k}_epoch"] == pytest.approx(raw[f"f1_{k}"]), k
        assert logged[f"val_f1_{k}_tfm_epoch"] == pytest.approx(tfm[f"f1_{k}"]), k
    assert logged["val_acc"] == pytest.approx(np.mean(pred == target))
    assert logged["val_acc_tfm"] == pytest.approx(np.mean(post_pred == target))

    # character error rate: vak's own metric on the label strings vak's family builds
    def labels_string(frames):
        inverse = {v: k for k, v in LABELMAP.items()}
        segments = metrics.frame_labels_to_segments(frames, FRAME_DUR, background=BG)[2]
        return "".join(inverse[int(x)] for x in segments)

    cer = vak.metrics.CharacterErrorRate()
    assert logged["val_character_error_rate"] == pytest.approx(float(cer(labels_string(pred), labels_string(target))))
    assert logged["val_character_error_rate_tfm"] == pytest.approx(
        float(cer(labels_string(post_pred), labels_string(target)))
    )


def test_validation_loss_is_the_training_objective_on_the_whole_file(dataset, monkeypatch):
    from vak.transforms.frame_labels import PostProcess

    frames_path, _ = dataset
    model = model_with(PostProcess(timebin_dur=FRAME_DUR, background_label=BG), loss=GS_TMSE)
    target = np.full(2 * WINDOW, BG, dtype=np.int64)
    target[5:20] = 0
    logged, batch = run_validation(model, frames_path, target, monkeypatch)
    frames = batch["frames"][0]  # (windows, 1, freqbins, WINDOW) -> the file's (1, 1, freqbins, time)
    whole = torch.cat(list(frames), dim=-1)[None]
    logits = Fixed(predictions()).logits[None]
    expected = SmoothedCrossEntropy(**GS_TMSE)(logits, torch.from_numpy(target)[None], inputs=whole)
    assert logged["val_loss"] == pytest.approx(float(expected), rel=1e-6)


def test_step_cap_stops_lightning_training_at_exactly_n_steps(monkeypatch):
    """VAK_TCN_MAX_STEPS through a real Lightning fit: the trainer ends at global step N, not num_epochs."""
    import lightning

    monkeypatch.setenv("VAK_TCN_MAX_STEPS", "3")
    model = model_with(None)
    model.network = torch.nn.Conv1d(8, len(LABELMAP), 1)  # trainable, tiny
    model.network.forward = lambda x, conv=model.network: torch.nn.Conv1d.forward(conv, x.flatten(1, 2))
    batches = [
        {"frames": torch.randn(2, 1, 8, WINDOW), "multi_frame_labels": torch.randint(0, 3, (2, WINDOW))}
        for _ in range(10)
    ]
    trainer = lightning.Trainer(
        max_epochs=50, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert trainer.global_step == 3
