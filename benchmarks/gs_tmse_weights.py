"""Measure GS-TMSE's Gaussian similarity weights on real and synthetic song (docs/losses.md).

    python benchmarks/gs_tmse_weights.py

Prints, per recording and setting, the median weight exp(-||x_t - x_{t-1}|| / (2 sigma^2))
for frame pairs inside syllables and at annotated boundaries, on log spectrograms z-scored
per frequency bin as vak does.
"""

from __future__ import annotations

import pathlib
import tempfile

import crowsetta
import numpy as np
import pandas as pd
import soundfile
import torch
from vak.prep.spectrogram_dataset.spect import spectrogram

from vak_tcn.corpus import make_corpus
from vak_tcn.losses import gaussian_similarity_weights

REAL = pathlib.Path(__file__).parents[1] / "tests" / "data" / "bengalese-finch-bout"
SETTINGS = (("none", 1.0), ("none", 2.0), ("none", 4.0), ("dim", 0.5), ("dim", 1.0))


def analyse(name: str, wav: pathlib.Path, onsets: np.ndarray, offsets: np.ndarray) -> None:
    audio, sr = soundfile.read(wav)
    s, _, t = spectrogram(audio, sr, fft_size=512, step_size=64, freq_cutoffs=[500, 10000], transform_type="log_spect")
    z = (s - s.mean(axis=1, keepdims=True)) / (s.std(axis=1, keepdims=True) + 1e-8)
    x = torch.from_numpy(z).float()[None]
    pair_t = (t[1:] + t[:-1]) / 2
    bounds = np.sort(np.concatenate([onsets, offsets]))
    near = np.min(np.abs(pair_t[:, None] - bounds[None, :]), axis=1) <= (t[1] - t[0])
    inside = np.zeros_like(near)
    for on, off in zip(onsets, offsets):
        inside |= (pair_t > on + 0.01) & (pair_t < off - 0.01)
    for normalize, sigma in SETTINGS:
        w = gaussian_similarity_weights(x, sigma=sigma, normalize=normalize)[0].numpy()
        print(
            f"{name:10s} bins={z.shape[0]:3d} normalize={normalize:4s} sigma={sigma}: "
            f"inside {np.median(w[inside]):.3g}  boundaries {np.median(w[near]):.3g}  "
            f"ratio {np.median(w[inside]) / np.median(w[near]):.2f}  overall {np.median(w):.3g}"
        )


def main() -> None:
    annot = crowsetta.Transcriber(format="notmat").from_file(REAL / "bout_1.wav.not.mat").to_annot()
    analyse("real bout", REAL / "bout_1.wav", annot.seq.onsets_s, annot.seq.offsets_s)
    with tempfile.TemporaryDirectory() as tmp:
        for wav in make_corpus(tmp, n_bouts=2, seed=3):
            df = pd.read_csv(f"{wav}.csv")
            analyse("synthetic", wav, df.onset_s.to_numpy(), df.offset_s.to_numpy())


if __name__ == "__main__":
    main()
