"""The inference, live, report and trained-record tests' model: untrained (seeded) weights with their artifacts and
a vak predict config, no training; segments the way vak's predict makes them; test audio."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import soundfile

from vak_tcn.experiments import configs

from helpers.data import REAL_BOUT

LABELMAP = {"background": 0, "a": 1, "b": 2, "c": 3}  # vak 1.x names its background class "background"
SPECT_PARAMS = {**configs.DEFAULT_SPECT_PARAMS, "thresh": 6.0}


def make_predict_config(
    tmp_path: pathlib.Path,
    model: str = "TCN",
    network: dict | None = None,
    seed: int = 0,
    fc_bias: list[float] | None = None,
    **overrides,
) -> pathlib.Path:
    """Untrained (seeded) weights saved as a vak checkpoint, a labelmap, a standardizer fitted on
    the real bout, and a stock vak predict config pointing at them."""
    import torch
    import vak
    from vak.transforms import FramesStandardizer

    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.plugins import vak_compat

    out = tmp_path / f"model-{model}-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    audio, rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    spect, _, _ = vak_compat.spectrogram(audio, rate, SpectParams.from_vak(SPECT_PARAMS))
    standardizer = FramesStandardizer.fit(spect)
    import joblib

    joblib.dump(standardizer, out / "FramesStandardizer")
    (out / "labelmap.json").write_text(json.dumps(LABELMAP))
    model_config = {"name": model, "network": dict(network or {}), "optimizer": {}, "loss": {}, "metrics": {}}
    torch.manual_seed(seed)
    lightning_model = vak.models.get(
        model, model_config, num_classes=len(LABELMAP), input_shape=(1, spect.shape[0], 176), labelmap=LABELMAP
    )
    if fc_bias is not None:  # shift the classes' priors, e.g. towards background
        with torch.no_grad():
            lightning_model.network.fc.bias.add_(torch.tensor(fc_bias))
    torch.save({"state_dict": lightning_model.state_dict()}, out / "checkpoint.pt")
    kwargs = dict(
        command="predict",
        model=model,
        data_dir=out,
        prep_output_dir=out / "prep",
        labelset="abc",
        spect_params=SPECT_PARAMS,
        checkpoint_path=out / "checkpoint.pt",
        labelmap_path=out / "labelmap.json",
        frames_standardizer_path=out / "FramesStandardizer",
        output_dir=out,
        network=network,
    )
    kwargs.update(overrides)
    return configs.write_config(configs.vak_config(**kwargs), out / "predict.toml")


def write_audio(path: pathlib.Path, samples: np.ndarray, rate: int = 32000) -> pathlib.Path:
    soundfile.write(path, samples, rate)
    return path


def whole_file_reference(config_path: pathlib.Path, samples: np.ndarray, rate: int, post_processing: bool = True):
    """Segments of one recording the way vak's predict makes them, from vak's own functions on the
    whole file: vak's spectrogram, the saved standardizer, the network over the whole sequence,
    argmax, vak's postprocess and to_segments.  Returns ``(labels, onsets_s, offsets_s, logits)``."""
    import torch

    from vak_tcn.inference.annotate import Annotator
    from vak_tcn.plugins import vak_compat

    annotator = Annotator(config_path)
    spect, _, times = vak_compat.spectrogram(samples, rate, annotator.spect_params)
    frames = annotator.standardizer(spect)
    with torch.inference_mode():
        logits = annotator.net(torch.from_numpy(frames).float()[None, None])[0].numpy()
    labels = logits.argmax(0)
    postprocess, to_segments, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    if post_processing and (annotator.majority_vote or annotator.min_segment_dur):
        labels = postprocess(
            labels.copy(),
            timebin_dur=timebin_dur_from_vec(times),
            min_segment_dur=annotator.min_segment_dur,
            majority_vote=annotator.majority_vote,
            background_label=annotator.labelmap["background"],
        )
    names, onsets, offsets = to_segments(labels, labelmap=annotator.labelmap, frame_times=times)
    if names is None:
        names, onsets, offsets = np.array([], dtype=str), np.array([]), np.array([])
    return names, onsets, offsets, logits


def song(n: int, rate: int, seed: int = 0) -> np.ndarray:
    """Noise plus gated chirps."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    return 0.01 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * (2000 + 3000 * np.sin(3 * t)) * t) * (t % 0.5 < 0.2)


def make_results_dir(
    tmp_path: pathlib.Path,
    network: dict | None = None,
    replicates: int = 0,
    post_tfm_kwargs: dict | None = None,
    names: tuple[str, ...] = ("checkpoint.pt",),
) -> pathlib.Path:
    """A results directory as ``vak train`` (``replicates=0``) or ``vak learncurve`` (``replicates``
    runs under ``train_dur_4s/``) lays it out, no training: each run's checkpoint (``names``, copies of one
    checkpoint of :func:`make_predict_config`, seeded by the replicate's number), labelmap and standardizer,
    the config vak copies in, and the prepared dataset it names (metadata.json, the prep config)."""
    import shutil

    dataset = tmp_path / "dataset"
    dataset.mkdir(parents=True)
    metadata = {"dataset_csv_filename": "dataset.csv", "frame_dur": 64 / 44100, "input_type": "spect"}
    (dataset / "metadata.json").write_text(json.dumps({**metadata, "audio_format": "wav", "spect_format": None}))
    (dataset / "dataset.csv").write_text("split,frames_path,multi_frame_labels_path,audio_path\n")
    common = dict(model="TCN", data_dir=tmp_path, prep_output_dir=tmp_path, labelset="abc", spect_params=SPECT_PARAMS)
    configs.write_config(configs.vak_config(command="train", **common), dataset / "prep.toml", make_dirs=False)
    results = tmp_path / "results"
    command = "learncurve" if replicates else "train"
    learncurve = dict(train_set_durs=[4], num_replicates=replicates, post_tfm_kwargs=post_tfm_kwargs)
    doc = configs.vak_config(
        command=command, network=network, dataset_path=dataset, results_dir=tmp_path,
        **common, **(learncurve if replicates else {}),
    )  # fmt: skip
    configs.write_config(doc, results / f"{command}.toml", make_dirs=False)
    runs = [results / "train_dur_4s" / f"replicate_{i}" for i in range(1, replicates + 1)] or [results]
    for seed, run in enumerate(runs):
        model = make_predict_config(tmp_path / "models", network=network, seed=seed).parent
        (run / "TCN" / "checkpoints").mkdir(parents=True)
        for name in ("labelmap.json", "FramesStandardizer"):
            shutil.copy(model / name, run / name)
        for name in names:
            shutil.copy(model / "checkpoint.pt", run / "TCN" / "checkpoints" / name)
    return results
