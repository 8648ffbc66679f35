"""Fixtures of the inference tests: a model with its artifacts and a vak predict config, no training."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import soundfile

from vak_tcn.experiments import configs

from conftest import REAL_BOUT

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
