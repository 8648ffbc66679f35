"""Inputs of the report tests: annotate's outputs made in process, predictions with known differences,
and the documented review-queue rule computed the long way."""

from __future__ import annotations

import json
import pathlib
import re

import crowsetta
import numpy as np

from vak_tcn.audio.annotations import write_annotation
from vak_tcn.inference.annotate import Options, annotate_all

from helpers.inference import make_predict_config

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}
FRAME_DUR = 0.002


def annotate_real_bout(tmp: pathlib.Path, audio: pathlib.Path) -> pathlib.Path:
    """``vak-tcn annotate --probabilities`` of ``audio`` with a seeded untrained TCN, in process."""
    config = make_predict_config(tmp, network=NETWORK)
    out = tmp / "annotations"
    annotate_all(config, [audio], out_dir=out, options=Options(probabilities=True), echo=lambda line: None)
    return out


def read_simple_seq(path: pathlib.Path):
    seq = crowsetta.Transcriber(format="simple-seq").from_file(path).to_annot().seq
    return np.asarray(seq.onsets_s, float), np.asarray(seq.offsets_s, float), np.asarray(seq.labels).astype(str)


def perturb(onsets, offsets, labels, how: str):
    """Reference segments changed in one known way: ``missed`` (the 3rd dropped), ``wrong`` (the 4th
    relabelled), ``boundary`` (the 6th's offset 20 ms early), ``extra`` (a 10-ms 'a' in the 2nd gap)."""
    on, off, lab = list(onsets), list(offsets), list(labels)
    if how == "missed":
        del on[2], off[2], lab[2]
    elif how == "wrong":
        lab[3] = "d" if lab[3] != "d" else "c"
    elif how == "boundary":
        off[5] -= 0.020
    elif how == "extra":
        middle = (off[1] + on[2]) / 2
        on.insert(2, middle - 0.005)
        off.insert(2, middle + 0.005)
        lab.insert(2, "a")
    return np.array(on), np.array(off), np.array(lab)


def write_prediction(out: pathlib.Path, audio: pathlib.Path, segments, low: dict[int, float], classes, duration):
    """An annotation as annotate writes it (generic-seq, naming the audio) and a probabilities file:
    probability 0.9 of each segment's label over its frames (``low[i]`` for segment ``i``), background
    elsewhere."""
    onsets, offsets, labels = segments
    write_annotation(out / f"{audio.name}.annot.csv", "generic-seq", audio, labels, onsets, offsets)
    times = (np.arange(int(duration / FRAME_DUR)) + 0.5) * FRAME_DUR
    probs = np.full((len(classes), times.size), 0.1 / (len(classes) - 1), dtype=np.float32)
    probs[0] = 0.9
    for i, (a, b, label) in enumerate(zip(onsets, offsets, labels)):
        frames = (times >= a) & (times < b)
        p = low.get(i, 0.9)
        probs[:, frames] = (1 - p) / (len(classes) - 1)
        probs[classes.index(label), frames] = p
    np.savez_compressed(
        out / f"{audio.name}.probabilities.npz", probabilities=probs, frame_times=times, labels=np.array(classes)
    )


def certainties_the_long_way(recordings: list[dict]) -> list[tuple[float, str, float]]:
    """docs/report.md's rule, segment by segment: ``[(certainty, recording, onset)]`` sorted as the
    queue is.  ``recordings``: ``{"name", "onsets", "offsets", "labels", "probability"}`` each."""
    durations: dict[str, list[float]] = {}
    follows: dict[str, dict[str, int]] = {}
    for rec in recordings:
        for a, b, label in zip(rec["onsets"], rec["offsets"], rec["labels"]):
            durations.setdefault(label, []).append(b - a)
        for first, second in zip(rec["labels"][:-1], rec["labels"][1:]):
            follows.setdefault(first, {}).setdefault(second, 0)
            follows[first][second] += 1

    def fraction(first, second):
        return follows[first][second] / sum(follows[first].values())

    rows = []
    for rec in recordings:
        labels = list(rec["labels"])
        for i, label in enumerate(labels):
            duration = rec["offsets"][i] - rec["onsets"][i]
            d = min(1.0, duration / (0.5 * float(np.median(durations[label]))))
            t = 1.0
            if i > 0:
                t = min(t, fraction(labels[i - 1], label) / 0.05)
            if i + 1 < len(labels):
                t = min(t, fraction(label, labels[i + 1]) / 0.05)
            rows.append((rec["probability"][i] * d * t, rec["name"], float(rec["onsets"][i])))
    return sorted(rows)


def queue_captions(index_html: str) -> list[tuple[str, float]]:
    """``(recording, onset)`` of each review-queue thumbnail, in page order."""
    return [(name, float(onset)) for name, onset in re.findall(r"#\d+ (\S+) ([\d.]+) s, <b>", index_html)]


def summary(out: pathlib.Path) -> dict:
    return json.loads((out / "summary.json").read_text())
