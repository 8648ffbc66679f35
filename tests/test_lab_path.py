"""The lab's path of the README, walked as a new user walks it: a folder of WAVs with Audacity label
files -> ``vak-tcn init`` -> ``vak prep`` -> ``vak train`` -> ``vak-tcn annotate`` of a folder of long
recordings (one at 44.1 kHz, the model's rate 32 kHz), written as Raven selection tables ->
``vak-tcn report``; no file written by hand.

Small data, few steps: the generated song (18 s), the TCN (the faster of the two recommended models;
ConvTCN's configs are checked by vak's parser in tests/experiments/test_init.py), and training stopped
after 30 steps by ``VAK_TCN_MAX_STEPS`` (seeded) with validation and checkpoints every 10 steps: the one
edit of the test's own, for time; the user's run validates where init sized it.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import tomlkit

from helpers.cli import cli_in_process, run_cli
from helpers.data import audacity_copy

# one environment (vak 1.1's, beside the demo, so the two take about as long): init's configs are parsed
# by both vaks' parsers in tests/experiments/test_init.py, and stock prep and train run on both in test_e2e.py
pytestmark = [pytest.mark.slow, pytest.mark.in_vak11]


def long_recordings(song_dir, folder):
    """Two 'nights' made of the song's bouts end to end: one at the song's 32 kHz, one resampled to 44.1 kHz."""
    import soxr

    folder.mkdir()
    bouts = [soundfile.read(p) for p in sorted(song_dir.glob("*.wav"))]
    rate = bouts[0][1]
    night = np.concatenate([np.concatenate([x, np.zeros(rate // 2)]) for x, _ in bouts])
    soundfile.write(folder / "night_1.wav", night, rate)
    soundfile.write(folder / "night_2.wav", soxr.resample(night[::-1].copy(), rate, 44100), 44100)
    return rate, len(night) / rate


def test_a_lab_walks_from_audacity_labels_to_raven_tables_and_a_report(capsys, tmp_path, song_dir):
    import crowsetta

    data = audacity_copy(song_dir, tmp_path / "bird1")
    lab = tmp_path / "lab"
    lab.mkdir()
    init = ["init", "--data-dir", data, "--annot-format", "aud-seq", "--labelset", "abcd", "--model", "TCN", "--out", lab]  # fmt: skip
    # Audacity names its labels bout_000.txt: init says so in one line, naming the flag that fixes it
    refused = cli_in_process(capsys, *init)
    assert refused.returncode == 2 and "--rename-annotations" in refused.stderr
    result = cli_in_process(capsys, *init, "--rename-annotations")
    assert result.returncode == 0, result.stderr
    assert "renamed 8 annotation files" in result.stdout and "val_step = " in result.stdout  # sized to 18 s

    config = lab / "train.toml"
    doc = tomlkit.parse(config.read_text())
    doc["vak"]["train"]["val_step"] = doc["vak"]["train"]["ckpt_step"] = 10  # the test's edit: 30 steps
    config.write_text(tomlkit.dumps(doc))
    run_cli(["vak", "prep", config], cwd=lab)
    run_cli(["vak", "train", config], cwd=lab, VAK_TCN_MAX_STEPS=30, VAK_TCN_SEED=1)

    rate, seconds = long_recordings(song_dir, lab / "recordings")
    annotations = lab / "annotations"
    result = cli_in_process(
        capsys, "annotate", lab / "results" / "TCN", lab / "recordings", "--out", annotations,
        "--annot-format", "raven", "--probabilities",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert f"1 recording(s) at 44100 Hz resampled to {rate} Hz" in said
    found = 0
    for name in ("night_1", "night_2"):
        table = annotations / f"{name}.wav.Table.1.selections.txt"  # Raven's own name for one
        if len(table.read_text().splitlines()) == 1:  # no segment: Raven's header alone (crowsetta refuses it)
            assert table.read_text().startswith("Selection\tView\tChannel\tBegin Time (s)")
            continue
        boxes = crowsetta.formats.bbox.Raven.from_file(table).to_bbox()  # crowsetta's Raven reader
        found += len(boxes)
        assert {b.label for b in boxes} <= set("abcd")
        assert all(0 <= b.onset < b.offset <= seconds + 1e-6 for b in boxes)
        record = (annotations / f"{name}.wav.annotate.json").read_text()
        assert ("44100" in record) == (name == "night_2")  # the resampling kept beside the outputs
    assert found > 0  # 30 steps label some song

    review = lab / "review"
    result = cli_in_process(capsys, "report", annotations, "--out", review)
    assert result.returncode == 0, result.stderr
    page = (review / "index.html").read_text()
    assert "night_1.wav" in page and "night_2.wav" in page
