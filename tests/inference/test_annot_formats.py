"""`vak-tcn annotate --annot-format raven | textgrid`: a Raven selection table and a Praat TextGrid, read back
by crowsetta's readers (the tools' own formats), with generic-seq's segments to the microsecond."""

from __future__ import annotations

import pathlib

import crowsetta
import numpy as np
import pandas as pd
import pytest
import soundfile

from vak_tcn import cli

from helpers.inference import SPECT_PARAMS, make_predict_config, song

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}
RATE = 44100  # the model's (the real bout's)
#: rounding to the microsecond moves a time by at most half of one
MICROSECOND = 5e-7 + 1e-12


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """One folder of recordings (song, and digital silence), annotated in each format: ``{fmt: out}``."""
    tmp = tmp_path_factory.mktemp("formats")
    config = make_predict_config(tmp / "model", network=NETWORK)
    audio = tmp / "audio"
    audio.mkdir()
    soundfile.write(audio / "song.wav", song(int(RATE * 1.5), RATE, seed=10), RATE)
    soundfile.write(audio / "silence.wav", np.zeros(RATE), RATE)
    outs = {}
    for fmt in ("generic-seq", "raven", "textgrid"):  # the command line, in this process
        assert cli.main(["annotate", str(config), str(audio), "--out", str(tmp / fmt), "--annot-format", fmt]) == 0
        outs[fmt] = tmp / fmt
    return outs


def generic(annotated, name: str):
    path = annotated["generic-seq"] / f"{name}.annot.csv"
    (annot,) = crowsetta.Transcriber(format="generic-seq").from_file(path).to_annot()
    return annot.seq


def test_raven_selection_table_read_back_by_crowsetta(annotated):
    table = annotated["raven"] / "song.wav.Table.1.selections.txt"
    reference = generic(annotated, "song.wav")
    assert len(reference.labels) > 3
    raven = crowsetta.formats.bbox.Raven.from_file(table)  # crowsetta's reader, its default "Annotation" column
    boxes = raven.to_bbox()
    assert [b.label for b in boxes] == list(reference.labels)
    np.testing.assert_allclose([b.onset for b in boxes], reference.onsets_s, rtol=0, atol=MICROSECOND)
    np.testing.assert_allclose([b.offset for b in boxes], reference.offsets_s, rtol=0, atol=MICROSECOND)
    # the band the model listens to (its freq_cutoffs), under the Nyquist frequency
    assert {(b.low_freq, b.high_freq) for b in boxes} == {tuple(map(float, SPECT_PARAMS["freq_cutoffs"]))}
    lines = table.read_text().splitlines()
    assert lines[0].split("\t") == [
        "Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
        "Annotation",
    ]  # fmt: skip
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[:3] for r in rows] == [[str(i), "Spectrogram 1", "1"] for i in range(1, len(rows) + 1)]
    assert all(len(t.split(".")[1]) <= 6 for r in rows for t in r[3:5]), rows  # the microsecond, no more


def test_textgrid_read_back_by_crowsetta(annotated):
    path = annotated["textgrid"] / "song.wav.TextGrid"
    reference = generic(annotated, "song.wav")
    textgrid = crowsetta.formats.seq.TextGrid.from_file(path)
    seq = textgrid.to_seq(round_times=False)  # one interval tier: one sequence; its times as written
    assert textgrid.tier_names == ["syllables"] and list(seq.labels) == list(reference.labels)
    np.testing.assert_allclose(seq.onsets_s, reference.onsets_s, rtol=0, atol=MICROSECOND)
    np.testing.assert_allclose(seq.offsets_s, reference.offsets_s, rtol=0, atol=MICROSECOND)
    # Praat's tier: intervals from 0 to the recording's end, each starting where the one before ends
    (tier,) = crowsetta.formats.seq.TextGrid.from_file(path, keep_empty=True).tiers
    assert (textgrid.xmin, textgrid.xmax, tier.xmin, tier.xmax) == (0.0, 1.5, 0.0, 1.5)
    starts, ends = [i.xmin for i in tier.intervals], [i.xmax for i in tier.intervals]
    assert starts[0] == 0.0 and ends[-1] == 1.5 and starts[1:] == ends[:-1]
    assert [i.text for i in tier.intervals if i.text] == list(reference.labels)
    assert all(i.xmax > i.xmin for i in tier.intervals)
    assert path.read_text().startswith('File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0 \n')


def test_silence_is_still_a_readable_file_in_both(annotated):
    """No segment: a TextGrid of one empty interval, a Raven table of its header alone (which Raven opens;
    crowsetta's Raven reader refuses a table without rows, report reads it as no segment)."""
    (tier,) = crowsetta.formats.seq.TextGrid.from_file(
        annotated["textgrid"] / "silence.wav.TextGrid", keep_empty=True
    ).tiers
    assert [(i.xmin, i.xmax, i.text) for i in tier.intervals] == [(0.0, 1.0, "")]
    seq = crowsetta.formats.seq.TextGrid.from_file(annotated["textgrid"] / "silence.wav.TextGrid").to_seq()
    assert len(seq.labels) == 0
    table = pd.read_csv(annotated["raven"] / "silence.wav.Table.1.selections.txt", sep="\t")
    assert table.empty and list(table.columns)[3:5] == ["Begin Time (s)", "End Time (s)"]


@pytest.mark.parametrize("fmt", ["raven", "textgrid"])
def test_report_reads_annotates_raven_and_textgrid(annotated, fmt):
    """report's reader of annotate's folder: the segments of generic-seq's, the silent recording with none."""
    from vak_tcn.report.data import read_predictions

    recordings = {r.name: r for r in read_predictions(annotated[fmt], audio_dirs=[annotated[fmt].parent / "audio"])}
    assert sorted(recordings) == ["silence.wav", "song.wav"]
    assert len(recordings["silence.wav"].predicted) == 0
    got, reference = recordings["song.wav"].predicted, generic(annotated, "song.wav")
    assert list(got.labels) == list(reference.labels)
    np.testing.assert_allclose(got.onsets, reference.onsets_s, rtol=0, atol=MICROSECOND)


def test_writers_tile_round_and_quote():
    from vak_tcn.audio.annotations import raven_band, raven_table, textgrid_text

    text = textgrid_text(["a", 'say "hi"', "c"], [0.1, 0.2, 0.5], [0.2, 0.3, 1.0510000000000002], duration_s=None)
    assert "xmax = 1.051 " in text and 'text = "say ""hi""" ' in text  # Praat doubles a quote
    assert "intervals: size = 5 " in text  # a, say "hi", a gap, c; no gap between a and the next; ends at c
    assert "e-" not in textgrid_text(["a"], [0.000005], [0.00001])  # plain decimals (crowsetta reads no exponent)
    with pytest.raises(ValueError, match="overlaps"):
        textgrid_text(["a", "b"], [0.1, 0.15], [0.2, 0.3])
    with pytest.raises(ValueError, match="tab"):
        raven_table(["a\tb"], [0.1], [0.2], (0.0, 100.0))
    assert raven_band(32000) == (0.0, 16000.0) and raven_band(16000, (500, 10000)) == (500.0, 8000.0)
    assert raven_table(["a"], [1.0], [2.0], (0, 8000), channel=2).splitlines()[1].split("\t")[:7] == [
        "1", "Spectrogram 1", "3", "1.0", "2.0", "0.0", "8000.0",
    ]  # fmt: skip


def test_write_annotation_is_atomic_and_needs_a_band_for_raven(tmp_path):
    from vak_tcn.audio.annotations import write_annotation

    path = tmp_path / "a.wav.Table.1.selections.txt"
    with pytest.raises(ValueError, match="band_hz"):
        write_annotation(path, "raven", pathlib.Path("a.wav"), ["a"], [0.1], [0.2])
    assert not list(tmp_path.iterdir())  # nothing half-written, no temporary file left
