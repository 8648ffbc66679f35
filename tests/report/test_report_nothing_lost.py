"""``vak-tcn report``: nothing wrong, nothing lost (issue 37).

A reference past its recording's end is refused, a reference matching no recording is named, the
report removes only the files its previous run listed, a recording without segments is a page of zero
segments, ``--out`` below a file is one line, and a ``vak learncurve`` results directory (its config
without ``[vak.prep]``) is reported, with nothing left behind when it fails."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
import soundfile

from helpers.cli import cli_in_process, run_cli
from helpers.data import REAL_BOUT, learncurve_kwargs
from helpers.report import NETWORK, perturb, read_simple_seq, summary, write_prediction

CLASSES = ["background", "a", "b", "c", "d"]
BOUTS = ("bout_000", "bout_001", "bout_002")


def report(capsys, *args, expect: int = 0):
    proc = cli_in_process(capsys, "report", *args)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def one_error_line(proc) -> str:
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("vak-tcn report: error:") and "Traceback" not in proc.stderr, proc.stderr
    return line


def warnings_of(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("vak-tcn report: warning:")]


def files_under(folder: pathlib.Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture()
def demo(tmp_path, song_dir):
    """Predictions of three demo bouts (one known difference each, as annotate writes them) and a folder
    of their simple-seq references."""
    ann, refs = tmp_path / "annotations", tmp_path / "references"
    ann.mkdir()
    refs.mkdir()
    for name, how in zip(BOUTS, ("missed", "wrong", "extra")):
        audio = song_dir / f"{name}.wav"
        truth = read_simple_seq(song_dir / f"{name}.wav.csv")
        write_prediction(ann, audio, perturb(*truth, how), {}, CLASSES, soundfile.info(str(audio)).duration)
        shutil.copy(song_dir / f"{name}.wav.csv", refs)
    return dict(tmp=tmp_path, ann=ann, refs=refs, song=song_dir)


def write_simple_seq(path: pathlib.Path, onsets, offsets, labels) -> None:
    lines = ["onset_s,offset_s,label"] + [f"{a:.6f},{b:.6f},{lab}" for a, b, lab in zip(onsets, offsets, labels)]
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- case 2: references
def test_report_refuses_reference_past_recording_end(demo, capsys):
    """A reference running past its recording (here 6 s of song for a ~1.3-s bout: it used to be scored,
    every segment past the end "missed", exit 0) is one line naming the reference file, the recording
    and both durations; nothing is written."""
    on, off, lab = read_simple_seq(demo["song"] / "bout_001.wav.csv")
    duration = soundfile.info(str(demo["song"] / "bout_001.wav")).duration
    period = float(off[-1]) + 0.05
    tiles = int(6.0 // period) + 1
    long_ref = demo["refs"] / "bout_001.wav.csv"
    write_simple_seq(
        long_ref, np.concatenate([on + k * period for k in range(tiles)]),
        np.concatenate([off + k * period for k in range(tiles)]), np.tile(lab, tiles),
    )  # fmt: skip
    out = demo["tmp"] / "report"
    proc = report(
        capsys, demo["ann"], "--out", out, "--reference", demo["refs"], "--reference-format", "simple-seq", expect=2
    )
    line = one_error_line(proc)
    assert str(long_ref) in line and "bout_001.wav" in line, line
    assert f"{duration:.3f} s" in line and f"{tiles * period - 0.05:.3f} s" in line, line
    assert not out.exists(), "nothing written"
    # a last offset within 10 ms of the end (rounded hand annotations) is not past it
    write_simple_seq(long_ref, [*on[:-1], on[-1]], [*off[:-1], duration + 0.008], lab)
    report(
        capsys, demo["ann"], "--out", out, "--reference", demo["refs"], "--reference-format", "simple-seq", "--queue", 1
    )
    assert {r["name"] for r in summary(out)["recordings"] if "scores" in r} == {f"{b}.wav" for b in BOUTS}


def test_report_warns_of_reference_matching_no_recording(demo, capsys):
    """A reference file of no annotated recording (it used to be dropped without a word) is named in one
    warning line, said once, and listed in summary.json; the others are scored."""
    stray = demo["refs"] / "bout_007.wav.csv"
    shutil.copy(demo["song"] / "bout_007.wav.csv", stray)
    out = demo["tmp"] / "report"
    proc = report(
        capsys, demo["ann"], "--out", out, "--reference", demo["refs"], "--reference-format", "simple-seq", "--queue", 1
    )
    (warning,) = warnings_of(proc)
    assert str(stray) in warning and "bout_007.wav" in warning and "1 reference annotation" in warning, warning
    assert all(str(demo["refs"] / f"{b}.wav.csv") not in warning for b in BOUTS)
    s = summary(out)
    assert s["unmatched_references"] == [{"file": str(stray), "recording": "bout_007.wav"}]
    assert sum("scores" in r for r in s["recordings"]) == 3
    # every reference used: no warning
    stray.unlink()
    proc = report(
        capsys, demo["ann"], "--out", out, "--reference", demo["refs"], "--reference-format", "simple-seq", "--queue", 1
    )
    assert not warnings_of(proc) and summary(out)["unmatched_references"] == []


# ---------------------------------------------------------------- case 7: --out
def test_report_keeps_files_it_did_not_write(demo, capsys, tmp_path):
    """A rerun removes only what the previous report listed (report-files.json): the user's files in --out
    (they used to be deleted: img/..., r0007.html) are kept, the previous report's pages and images that
    this one does not make again are removed."""
    out = tmp_path / "review"
    report(capsys, demo["ann"], "--out", out, "--queue", 4)
    first = files_under(out)
    listed = set(json.loads((out / "report-files.json").read_text())["files"])
    assert listed == first - {"report-files.json"} and {"r0003.html", "img/r0003/s00000.png"} <= listed
    mine = {"img/mine/p.png": b"\x89PNG mine", "r0007.html": b"<p>mine</p>", "img/r0001/notes.txt": b"mine",
            "notes.md": b"mine"}  # fmt: skip
    for name, content in mine.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)
    one = tmp_path / "one"  # the next report has one recording: r0002, r0003 and their images go
    one.mkdir()
    for path in demo["ann"].glob("bout_000.wav.*"):
        shutil.copy(path, one)
    report(capsys, one, "--out", out, "--queue", 2)
    for name, content in mine.items():
        assert (out / name).read_bytes() == content, name
    now = files_under(out)
    assert not {"r0002.html", "r0003.html", "img/r0002/s00000.png", "img/r0003/s00000.png"} & now
    assert not (out / "img" / "r0002").exists(), "the folders it made and emptied are removed"
    assert set(json.loads((out / "report-files.json").read_text())["files"]) == now - set(mine) - {"report-files.json"}


def test_report_refuses_to_overwrite_files_it_did_not_write(demo, capsys, tmp_path):
    """A file of the user's under a name the report writes (no report-files.json lists it, or it changed
    since) is one line naming it, exit 2; nothing in --out is touched."""
    out = tmp_path / "review"
    out.mkdir()
    (out / "index.html").write_text("<p>my own index</p>")
    proc = report(capsys, demo["ann"], "--out", out, expect=2)
    line = one_error_line(proc)
    assert str(out / "index.html") in line and "not written by vak-tcn report" in line, line
    assert files_under(out) == {"index.html"} and (out / "index.html").read_text() == "<p>my own index</p>"
    # a page of a previous report, edited since: kept, refused
    (out / "index.html").unlink()
    report(capsys, demo["ann"], "--out", out, "--queue", 1)
    (out / "r0002.html").write_text("<p>my notes on this recording</p>")
    line = one_error_line(report(capsys, demo["ann"], "--out", out, expect=2))
    assert str(out / "r0002.html") in line, line
    assert (out / "r0002.html").read_text() == "<p>my notes on this recording</p>"
    # a file of the user's named as the report's list
    other = tmp_path / "other"
    other.mkdir()
    (other / "report-files.json").write_text('{"my": "data"}')
    line = one_error_line(report(capsys, demo["ann"], "--out", other, expect=2))
    assert str(other / "report-files.json") in line, line
    assert files_under(other) == {"report-files.json"}


def test_report_refuses_out_below_a_file(demo, capsys, tmp_path):
    """``--out FILE/sub`` (a NotADirectoryError traceback before) is one line naming the file, exit 2."""
    (tmp_path / "file").write_text("x")
    line = one_error_line(report(capsys, demo["ann"], "--out", tmp_path / "file" / "sub", expect=2))
    assert f"{tmp_path / 'file'} is a file" in line and "--out" in line, line
    assert (tmp_path / "file").read_text() == "x"


# ---------------------------------------------------------------- case 11: no segment
@pytest.fixture(scope="module")
def with_silence(tmp_path_factory):
    """`vak-tcn annotate --probabilities` (in process, a seeded untrained TCN) of the real bout and of 2 s
    of digital silence (no segment: its annotation names no audio file)."""
    from vak_tcn.inference.annotate import Options, annotate_all

    from helpers.inference import make_predict_config

    tmp = tmp_path_factory.mktemp("report-silence")
    audio = tmp / "audio"
    audio.mkdir()
    shutil.copy(REAL_BOUT / "bout_1.wav", audio / "bout_1.wav")
    soundfile.write(audio / "quiet.wav", np.zeros(2 * 44100), 44100)
    config = make_predict_config(tmp, network=NETWORK)
    annotate_all(config, [audio], out_dir=tmp / "ann", options=Options(probabilities=True), echo=lambda line: None)
    assert (tmp / "ann" / "quiet.wav.annot.csv").read_text().count("\n") == 1  # the header alone
    return dict(tmp=tmp, audio=audio, ann=tmp / "ann")


def test_report_shows_recording_without_segments(with_silence, capsys, tmp_path):
    """A recording with no segment (it used to stop the report: "the audio file quiet.wav it annotates
    was not found") is a page of zero segments, its audio found beside the other recordings'."""
    out = tmp_path / "report"
    proc = report(capsys, with_silence["ann"], "--out", out, "--queue", 2)
    assert not warnings_of(proc)
    rows = {r["name"]: r for r in summary(out)["recordings"]}
    assert rows["quiet.wav"]["n_segments"] == 0 and rows["quiet.wav"]["counts"] == {}
    assert rows["quiet.wav"]["audio"] == str(with_silence["audio"] / "quiet.wav")
    assert rows["quiet.wav"]["duration"] == pytest.approx(2.0)
    assert rows["bout_1.wav"]["n_segments"] > 0
    page = (out / rows["quiet.wav"]["href"]).read_text()
    assert "in 0 segments" in page and (out / "img" / rows["quiet.wav"]["href"][:-5] / "s00000.png").is_file()


def test_report_shows_recording_without_segments_and_audio(with_silence, capsys, tmp_path):
    """The empty annotation alone (no other annotation names a folder, no --audio, the recording moved
    from where the record saw it): still a page of zero segments, without a spectrogram, and one warning
    line naming it; with --audio, its spectrogram."""
    alone = tmp_path / "alone"
    alone.mkdir()
    for path in with_silence["ann"].glob("quiet.wav.*"):
        shutil.copy(path, alone)
    record = alone / "quiet.wav.annotate.json"
    moved = json.loads(record.read_text())
    for entry in moved["outputs"].values():
        assert entry["recording_path"] == str((with_silence["audio"] / "quiet.wav").resolve())
        entry["recording_path"] = str(tmp_path / "moved" / "quiet.wav")
    record.write_text(json.dumps(moved))
    out = tmp_path / "report"
    proc = report(capsys, alone, "--out", out)
    (warning,) = warnings_of(proc)
    assert str(alone / "quiet.wav.annot.csv") in warning and "--audio" in warning, warning
    (row,) = summary(out)["recordings"]
    assert row["n_segments"] == 0 and row["audio"] is None
    assert row["duration"] == pytest.approx(2.0, abs=0.01)  # from its probabilities' frames
    assert "in 0 segments" in (out / "r0001.html").read_text() and (out / "img/r0001/s00000.png").is_file()
    proc = report(capsys, alone, "--out", out, "--audio", with_silence["audio"])
    assert not warnings_of(proc)
    (row,) = summary(out)["recordings"]
    assert row["audio"] == str(with_silence["audio"] / "quiet.wav") and row["duration"] == pytest.approx(2.0)


@pytest.mark.parametrize("annot_format", ["simple-seq", "aud-seq"])
def test_report_shows_recording_without_segments_in_other_formats(with_silence, annot_format, capsys, tmp_path):
    """annotate's other formats name no audio: with --audio, the silent recording is a page of zero segments
    (its empty aud-seq file used to stop the report: "cannot read it as a aud-seq annotation")."""
    from vak_tcn.inference.annotate import Options, annotate_all

    ann = tmp_path / "annotations"
    config = with_silence["tmp"] / "model-TCN-0" / "predict.toml"
    options = Options(annot_format=annot_format)
    annotate_all(config, [with_silence["audio"] / "quiet.wav"], out_dir=ann, options=options, echo=lambda line: None)
    out = tmp_path / "report"
    report(capsys, ann, "--out", out, "--audio", with_silence["audio"])
    (row,) = summary(out)["recordings"]
    assert row["n_segments"] == 0 and row["audio"] == str(with_silence["audio"] / "quiet.wav")


# ---------------------------------------------------------------- case 9: a learncurve results directory
@pytest.fixture(scope="module")
def learncurve_results(tmp_path_factory, song_dir, song_learncurve_dataset):
    """Stock `vak learncurve` (2 steps, a 2-layer TCN) of a config without [vak.prep] (the dataset
    prepared by another config, as vak allows): its results directory."""
    from vak_tcn.experiments import configs

    tmp = tmp_path_factory.mktemp("report-learncurve")
    kwargs = learncurve_kwargs(tmp, song_dir, dataset_path=song_learncurve_dataset,
                               network={"out_channels": 8, "num_layers": 2})  # fmt: skip
    config = configs.vak_config(**kwargs)
    config["vak"].pop("prep", None)
    cfg = configs.write_config(config, tmp / "learncurve.toml")
    (tmp / "results").mkdir(exist_ok=True)
    run_cli(["vak", "learncurve", cfg], VAK_TCN_MAX_STEPS=2)
    (results,) = [p for p in (tmp / "results").iterdir() if p.is_dir()]
    assert "[vak.prep" not in (results / "learncurve.toml").read_text()
    return results


@pytest.mark.slow
def test_report_on_learncurve_results_directory(learncurve_results, song_learncurve_dataset, capsys, tmp_path):
    """The learncurve results directory (a KeyError 'data_dir' before, from the empty [vak.prep] of the
    predict config the report wrote): its test split, raw and cleaned, against the dataset's annotations."""
    import pandas as pd

    meta = json.loads((song_learncurve_dataset / "metadata.json").read_text())
    df = pd.read_csv(song_learncurve_dataset / meta["dataset_csv_filename"])
    test = {pathlib.Path(p).name for p in df[df["split"] == "test"]["audio_path"]}
    out = tmp_path / "report"
    report(capsys, learncurve_results, "--out", out, "--run", "replicate_1", "--queue", 2)
    s = summary(out)
    assert {r["name"] for r in s["recordings"]} == test
    assert all(list(r["scores"]) == ["cleaned", "raw"] for r in s["recordings"])
    assert "predictions/predict.toml" in json.loads((out / "report-files.json").read_text())["files"]


@pytest.mark.slow
def test_report_leaves_nothing_behind_when_it_fails(learncurve_results, capsys, tmp_path, monkeypatch):
    """A results-directory report that fails (here: a file of the user's under a name annotate writes)
    leaves no predict config and no folder it made behind; the user's file is kept."""
    out = tmp_path / "report"
    (out / "predictions" / "raw").mkdir(parents=True)
    for name in ("bout_000", "bout_001", "bout_002", "bout_003", "bout_004", "bout_005", "bout_006", "bout_007"):
        (out / "predictions" / "raw" / f"{name}.wav.annot.csv").write_text("mine\n")
    before = files_under(out)
    line = one_error_line(report(capsys, learncurve_results, "--out", out, "--run", "replicate_1", expect=2))
    assert "not written by vak-tcn annotate" in line, line
    assert files_under(out) == before
    # a failure while predicting, in a folder the report made: nothing left, the folders neither
    from vak_tcn.report import model

    def fail(*args, **kwargs):
        raise ValueError("annotate failed")

    monkeypatch.setattr(model.annotate, "annotate_all", fail)
    gone = tmp_path / "gone"
    line = one_error_line(report(capsys, learncurve_results, "--out", gone / "sub", "--run", "replicate_1", expect=2))
    assert "annotate failed" in line, line
    assert not gone.exists()
