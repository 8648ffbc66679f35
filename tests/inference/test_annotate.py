"""``vak-tcn annotate`` through the CLI: exact times, crowsetta round trip, resume, bad files, workers."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess

import crowsetta
import numpy as np
import pytest
import soundfile

from helpers.cli import cli_in_process, console_script, vak_env
from helpers.data import REAL_BOUT
from helpers.inference import LABELMAP, make_predict_config, song, whole_file_reference

NETWORK = {"out_channels": 16, "num_layers": 4, "kernel_size": 3, "causal": False}
GOOD = ["bout_1.wav", "long.wav", "silence.wav", "short.wav", "sub/nested.wav"]
BAD = {
    "corrupt.wav": "cannot read audio",
    "nan.wav": "non-finite sample",
    "rate.wav": "frequency bins",
    "stereo.wav": "--channel",
}


def annotate(*args, expect: int = 0) -> subprocess.CompletedProcess:
    cmd = [console_script("vak-tcn"), "annotate", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=vak_env(), timeout=900)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def annotate_in_process(capsys, *args, expect: int = 0) -> subprocess.CompletedProcess:
    """``annotate``, in this process (``vak_tcn.cli.main``): for mistakes caught before any recording is
    read, where a fresh interpreter proves nothing more.  An exception escaping ``main`` fails the test."""
    proc = cli_in_process(capsys, "annotate", *args)
    assert proc.returncode == expect, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def read_generic_seq(path: pathlib.Path):
    (annot,) = crowsetta.Transcriber(format="generic-seq").from_file(path).to_annot()
    return annot.seq


@pytest.fixture(scope="module")
def rate() -> int:
    return soundfile.info(str(REAL_BOUT / "bout_1.wav")).samplerate


@pytest.fixture(scope="module")
def predict_config(tmp_path_factory) -> pathlib.Path:
    """An untrained, seeded TCN and a stock vak predict config pointing at it (no training)."""
    return make_predict_config(tmp_path_factory.mktemp("model"), network=NETWORK)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, rate, predict_config):
    tmp = tmp_path_factory.mktemp("annotate")
    config = predict_config
    audio = tmp / "audio"
    (audio / "sub").mkdir(parents=True)
    bout, _ = soundfile.read(REAL_BOUT / "bout_1.wav")
    soundfile.write(audio / "bout_1.wav", bout, rate)
    soundfile.write(audio / "long.wav", song(rate * 7 + 77, rate), rate)  # 7 chunks of 1 s: 6 seams
    soundfile.write(audio / "silence.wav", np.zeros(rate * 2), rate)
    soundfile.write(audio / "short.wav", song(300, rate), rate)  # shorter than one FFT window
    soundfile.write(audio / "sub" / "nested.wav", song(rate, rate, seed=3), rate)
    (audio / "corrupt.wav").write_bytes(b"RIFF\x00\x00not a wave file" * 10)
    nan = song(rate, rate)
    nan[1234] = np.nan
    soundfile.write(audio / "nan.wav", nan, rate, subtype="FLOAT")
    soundfile.write(audio / "rate.wav", song(16000, 16000), 16000)
    soundfile.write(audio / "stereo.wav", np.stack([song(rate, rate), bout[:rate]], axis=1), rate)
    out = tmp / "out"
    proc = annotate(config, audio, "--recursive", "--out", out, "--chunk-seconds", 1, "--probabilities", expect=1)
    return dict(tmp=tmp, config=config, audio=audio, out=out, proc=proc, bout=bout)


def test_one_line_per_recording_bad_files_named_and_counted(setup):
    stdout = setup["proc"].stdout
    for name in GOOD:
        (line,) = [ln for ln in stdout.splitlines() if ln.startswith(str(setup["audio"] / name) + ":")]
        assert "segments" in line and "x real time" in line, line
    for name, reason in BAD.items():
        (line,) = [ln for ln in stdout.splitlines() if ln.startswith(f"FAILED {setup['audio'] / name}")]
        assert reason in line, line
    assert stdout.strip().splitlines()[-1] == f"{len(GOOD)} annotated, {len(BAD)} failed"
    assert not list(setup["out"].rglob("*.tmp")), "temporary files left behind"
    for name in BAD:
        assert not (setup["out"] / f"{name}.annot.csv").exists()


@pytest.mark.parametrize("name", ["bout_1.wav", "long.wav"])
def test_times_exact_and_equal_whole_file_inference(setup, rate, name):
    """Streamed, 1-s chunks: the segments of vak's own functions on the whole file, to the float."""
    samples, _ = soundfile.read(setup["audio"] / name)
    labels, onsets, offsets, logits = whole_file_reference(setup["config"], samples, rate)
    seq = read_generic_seq(setup["out"] / f"{name}.annot.csv")  # crowsetta reads it back
    assert len(labels) > 3
    np.testing.assert_array_equal(np.asarray(seq.labels).astype(str), labels)
    np.testing.assert_allclose(seq.onsets_s, onsets, rtol=0, atol=1e-12)
    np.testing.assert_allclose(seq.offsets_s, offsets, rtol=0, atol=1e-12)
    assert seq.offsets_s.max() <= len(samples) / rate  # no segment past the end of the audio
    assert np.all(seq.onsets_s[1:] >= seq.offsets_s[:-1])
    with np.load(setup["out"] / f"{name}.probabilities.npz") as npz:
        probs, times, names = npz["probabilities"], npz["frame_times"], npz["labels"]
    assert probs.shape == logits.shape and np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probs.argmax(0), logits.argmax(0))
    assert list(names) == sorted(LABELMAP, key=LABELMAP.get) and len(times) == probs.shape[1]


@pytest.mark.parametrize("name", ["bout_1.wav", "silence.wav"])
def test_probabilities_keep_the_networks_class_of_each_frame(setup, rate, name):
    """``frame_labels``: the argmax of the logits (what the annotation is made from, where the float32
    probabilities could tie); the background class for digital silence."""
    samples, _ = soundfile.read(setup["audio"] / name)
    with np.load(setup["out"] / f"{name}.probabilities.npz") as npz:
        frame_labels, probs = npz["frame_labels"], npz["probabilities"]
    assert frame_labels.shape == (probs.shape[1],)
    if name == "silence.wav":
        assert set(frame_labels.tolist()) == {LABELMAP["background"]}
    else:
        logits = whole_file_reference(setup["config"], samples, rate)[3]
        np.testing.assert_array_equal(frame_labels, logits.argmax(0))


@pytest.mark.parametrize("name", ["silence.wav", "short.wav"])
def test_silence_and_short_files_no_segments_no_nan(setup, name):
    annotation = setup["out"] / f"{name}.annot.csv"
    header = annotation.read_text().splitlines()
    assert header == ["label,onset_s,offset_s,notated_path,annot_path,sequence,annotation"]  # no segment
    with np.load(setup["out"] / f"{name}.probabilities.npz") as npz:
        assert np.all(np.isfinite(npz["probabilities"]))


def test_resume_skips_finished_and_redoes_interrupted(setup):
    out, bout_annot = setup["out"], setup["out"] / "long.wav.annot.csv"
    before = bout_annot.read_text()
    # an interrupted run: the annotation was never renamed into place, a temporary file is left
    bout_annot.unlink()
    stale = out / ".long.wav.annot.csv.4194305.tmp"  # a process id above Linux's limit: not running
    stale.write_text("partial")
    live = out / f".long.wav.annot.csv.{os.getpid()}.tmp"  # a run still writing (this process): kept
    live.write_text("partial")
    proc = annotate(
        setup["config"], setup["audio"], "--recursive", "--out", out, "--chunk-seconds", 1, "--probabilities", expect=1
    )
    assert f"{len(GOOD) - 1} recording(s) already annotated" in proc.stdout
    assert (
        proc.stdout.strip().splitlines()[-1]
        == f"1 annotated, {len(BAD)} failed, {len(GOOD) - 1} skipped (already annotated)"
    )
    assert bout_annot.read_text() == before
    assert not stale.exists() and live.read_text() == "partial"
    live.unlink()


@pytest.mark.slow  # a local dask cluster: each worker process imports torch and vak
@pytest.mark.orchestration
def test_channel_workers_and_simple_seq(setup, rate):
    """A stereo file's channel 1 (the bout) on a 2-worker dask cluster, written as simple-seq."""
    audio = setup["tmp"] / "stereo"
    audio.mkdir()
    soundfile.write(audio / "stereo.wav", np.stack([song(len(setup["bout"]), rate), setup["bout"]], axis=1), rate)
    soundfile.write(audio / "mono.wav", setup["bout"], rate)  # --channel leaves mono files alone
    out = setup["tmp"] / "out-stereo"
    proc = annotate(
        setup["config"], audio, "--channel", 1, "--workers", 2, "--annot-format", "simple-seq", "--out", out
    )
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    reference = read_generic_seq(setup["out"] / "bout_1.wav.annot.csv")
    for name in ("stereo.wav", "mono.wav"):
        annot = crowsetta.Transcriber(format="simple-seq").from_file(out / f"{name}.csv").to_annot()
        np.testing.assert_array_equal(annot.seq.labels, reference.labels)
        # crowsetta's simple-seq writes times in milliseconds, rounded
        np.testing.assert_allclose(annot.seq.onsets_s, reference.onsets_s, atol=5e-4 + 1e-12)
        np.testing.assert_allclose(annot.seq.offsets_s, reference.offsets_s, atol=5e-4 + 1e-12)


def test_config_errors_exit_2_with_one_line(setup, tmp_path, capsys):
    proc = annotate_in_process(capsys, tmp_path / "missing.toml", setup["audio"], expect=2)
    assert proc.stderr.strip() == f"vak-tcn annotate: error: config file not found: {tmp_path / 'missing.toml'}"
    proc = annotate_in_process(capsys, setup["config"], setup["audio"], "--annot-format", "notmat", expect=2)
    assert "notmat" in proc.stderr and "generic-seq" in proc.stderr and "textgrid" in proc.stderr


#: `vak-tcn annotate` that kills itself (SIGKILL, as the OOM killer or a power cut would) at the worst
#: moment: the second annotation written to its temporary name and not yet renamed into place
KILLED_AT_SECOND_RENAME = """
import os, signal, sys
real_replace, renamed = os.replace, []
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(".annot.csv"):
        renamed.append(dst)
        if len(renamed) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from vak_tcn.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.orchestration  # a killed process and its resume: vak-tcn's own code, either vak
def test_killed_run_resumes_to_the_same_annotations(setup, tmp_path):
    """SIGKILL with one annotation in place and the next one half-done; the rerun finishes the
    rest; the same files. The kill comes at the same point whatever the machine's speed."""
    import shutil
    import sys

    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(4):
        shutil.copy(setup["audio"] / "long.wav", audio / f"long{i}.wav")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        KILLED_AT_SECOND_RENAME,
        "annotate",
        str(setup["config"]),
        str(audio),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=vak_env(), timeout=900)
    assert proc.returncode == -9, proc.stderr[-3000:]  # killed
    finished = sorted(out.glob("*.annot.csv"))
    assert [p.name for p in finished] == ["long0.wav.annot.csv"], finished  # interrupted part-way
    read_generic_seq(finished[0])  # what is under a final name is complete
    assert len(list(out.glob(".long1.wav.annot.csv.*.tmp"))) == 1  # the half-done one: never under its name
    rerun = annotate(setup["config"], audio, "--out", out)
    assert rerun.stdout.strip().splitlines()[-1].startswith("3 annotated, 0 failed, 1 skipped")
    assert not list(out.glob(".*.tmp"))
    reference = (setup["out"] / "long.wav.annot.csv").read_text().replace(str(setup["audio"] / "long.wav"), "")
    for i in range(4):
        text = (out / f"long{i}.wav.annot.csv").read_text()
        assert text.replace(str(audio / f"long{i}.wav"), "").replace(str(out / f"long{i}.wav.annot.csv"), "") == (
            reference.replace(str(setup["out"] / "long.wav.annot.csv"), "")
        )


# ---------------------------------------------------------------- mistakes found before any work, resume
def annotate_argv_error(capsys, *args) -> str:
    """``vak-tcn ARGS`` refused by the argument parser: exit status 2 and one line, which is returned."""
    from vak_tcn import cli

    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main([*map(str, args)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1, (exited.value.code, err)
    return err.strip()


def one_line(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """The command wrote one line on stderr, holding every ``expected`` text, and no recording line."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    for text in expected:
        assert text in lines[0], lines[0]
    assert "segments" not in proc.stdout and "FAILED" not in proc.stdout, proc.stdout
    return lines[0]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any recording is annotated: the mistake must be found before."""
    from vak_tcn.inference import annotate as module

    def refuse(*args, **kwargs):  # pytest.fail: a BaseException, which no FAILED line swallows
        pytest.fail("a recording was annotated before the mistake was found")

    monkeypatch.setattr(module.Annotator, "annotate", refuse)


def recordings(folder: pathlib.Path, rate: int, *names: str, seconds: float = 1.0) -> pathlib.Path:
    for i, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(folder / name, song(int(rate * seconds), rate, seed=10 + i), rate)
    return folder


def test_same_name_in_two_folders_is_refused_naming_both(predict_config, tmp_path, rate, capsys, no_work):
    """n1/rec.wav and n2/rec.wav would write one rec.wav.annot.csv: refused, both named, nothing written
    (the reported run wrote the second recording's annotation under the first's name, counted both)."""
    recordings(tmp_path, rate, "n1/rec.wav", "n2/rec.wav")
    out = tmp_path / "out"
    for inputs in ([tmp_path / "n1", tmp_path / "n2"], [tmp_path / "n1" / "rec.wav", tmp_path / "n2" / "rec.wav"]):
        proc = annotate_in_process(capsys, predict_config, *inputs, "--out", out, expect=2)
        line = one_line(proc, str(tmp_path / "n1" / "rec.wav"), str(tmp_path / "n2" / "rec.wav"))
        assert str(out / "rec.wav.annot.csv") in line and "--recursive" in line, line
        assert not out.exists()


def test_folders_above_both_keep_recordings_apart_and_one_file_given_twice_is_annotated_once(
    predict_config, tmp_path, rate, capsys
):
    """What the refusal suggests: their parent with --recursive mirrors n1/ and n2/ under --out."""
    recordings(tmp_path / "night", rate, "n1/rec.wav", "n2/rec.wav", seconds=0.5)
    out = tmp_path / "out"
    proc = annotate_in_process(capsys, predict_config, tmp_path / "night", "--recursive", "--out", out)
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    one, two = (read_generic_seq(out / n / "rec.wav.annot.csv") for n in ("n1", "n2"))
    assert (len(one.segments), one.onsets_s.tolist()) != (len(two.segments), two.onsets_s.tolist())
    twice = tmp_path / "night" / "n1"
    proc = annotate_in_process(capsys, predict_config, twice, twice / "rec.wav", "--out", tmp_path / "o2")
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 0 failed"


def test_resume_never_takes_a_folders_ground_truth_or_an_edited_annotation_for_its_own(
    predict_config, tmp_path, rate, capsys
):
    """--out is the recordings' folder, which holds simple-seq ground truth NAME.wav.csv: it was
    counted "already annotated"; now it is named, not overwritten, and nothing runs.  The same for an
    annotation vak-tcn wrote and someone corrected by hand since."""
    folder = recordings(tmp_path / "bird", rate, "rec.wav", seconds=0.5)
    truth = folder / "rec.wav.csv"
    truth.write_text("onset_s,offset_s,label\n0.1,0.2,a\n")
    proc = annotate_in_process(
        capsys, predict_config, folder, "--out", folder, "--annot-format", "simple-seq", expect=2
    )
    line = one_line(proc, str(truth), "not written by vak-tcn annotate", "not overwritten")
    assert truth.read_text() == "onset_s,offset_s,label\n0.1,0.2,a\n", line
    out = tmp_path / "out"
    annotate_in_process(capsys, predict_config, folder, "--out", out)
    edited = out / "rec.wav.annot.csv"
    edited.write_text(edited.read_text() + "\n")  # a correction
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=2)
    one_line(proc, str(edited), "changed since", "not overwritten")


def test_annotate_overwrite_annotates_over_outputs_no_record_vouches_for(predict_config, tmp_path, rate, capsys):
    """An annotation no record vouches for (an earlier version's, one corrected by hand) stopped every rerun
    with exit 2 and no way forward but moving it away: the refusal names --overwrite, which annotates over
    it and vouches for the new one (the next run skips it)."""
    folder = recordings(tmp_path / "bird", rate, "a.wav", "b.wav", seconds=0.5)
    out = tmp_path / "out"
    out.mkdir()
    old = out / "a.wav.annot.csv"
    old.write_text("onset_s,offset_s,label\n0.1,0.2,a\n")  # an earlier version's, without a record
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=2)
    one_line(proc, str(old), "not overwritten; move them away or choose another --out", "--overwrite")
    assert old.read_text() == "onset_s,offset_s,label\n0.1,0.2,a\n" and not (out / "b.wav.annot.csv").exists()
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, "--overwrite")
    assert "1 file(s) under --out" in proc.stdout and "annotated over them (--overwrite)" in proc.stdout, proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    assert old.read_text().startswith(read_header(out / "b.wav.annot.csv"))
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out)
    assert proc.stdout.strip().splitlines()[-1] == "0 annotated, 0 failed, 2 skipped (already annotated)", proc.stdout


def read_header(path: pathlib.Path) -> str:
    return path.read_text().splitlines()[0]


def test_resume_annotates_again_what_another_clean_up_or_checkpoint_made(predict_config, tmp_path, rate, capsys):
    """A rerun with another clean-up, then another checkpoint, into the same --out: the outputs were
    kept as "already annotated"; now each is annotated again, saying why, then skipped."""
    folder = recordings(tmp_path / "bird", rate, "a.wav", "b.wav", seconds=0.5)
    out = tmp_path / "out"
    annotate_in_process(capsys, predict_config, folder, "--out", out, "--no-post-processing")
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out)
    assert f"2 recording(s) in {out} were annotated with a different clean-up: annotating them again" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    other_model = make_predict_config(tmp_path / "other", network=NETWORK, seed=1)  # other weights
    proc = annotate_in_process(capsys, other_model, folder, "--out", out)
    assert f"2 recording(s) in {out} were annotated with a different checkpoint" in proc.stdout, proc.stdout
    proc = annotate_in_process(capsys, other_model, folder, "--out", out)
    assert proc.stdout.strip().splitlines()[-1] == "0 annotated, 0 failed, 2 skipped (already annotated)"
    record = json.loads((out / "a.wav.annotate.json").read_text())
    assert record["outputs"]["a.wav.annot.csv"]["state"] == "complete"


#: the paths this process opened while an audit hook was listening (test_annotate_reads_its_config_once)
_OPENED: list[str] | None = None
_AUDITING: list[bool] = []


def _audit(event: str, args) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], (str, os.PathLike)):
        _OPENED.append(os.path.realpath(args[0]))


@pytest.mark.parametrize("model", ["TCN", "TweetyNetPlugin"])
def test_annotate_reads_its_config_once(model, tmp_path, rate, capsys):
    """One read of the predict config (its model, clean-up keys and output folder), with and without
    vak's parser (TweetyNetPlugin is built by vak's factory); the tuned clean-up beside the checkpoint is
    read too, so the config's clean-up keys are taken from the same read."""
    global _OPENED
    import sys

    config = make_predict_config(tmp_path, model=model)
    recordings(tmp_path / "in", rate, "a.wav")
    if not _AUDITING:  # once: a hook is for the life of the process; it records only while _OPENED is a list
        sys.addaudithook(_audit)
        _AUDITING.append(True)
    _OPENED = []
    try:
        annotate_in_process(capsys, config, tmp_path / "in", "--out", tmp_path / "out")
        opened = [path for path in _OPENED if path == os.path.realpath(config)]
    finally:
        _OPENED = None
    assert len(opened) == 1, opened


def test_exact_and_float32_outputs_are_told_apart_and_profiled(predict_config, tmp_path, rate, capsys, monkeypatch):
    """The record names the float32 spectrogram: a rerun with --exact (or VAK_TCN_ANNOTATE_EXACT=1) annotates
    again, saying why, then skips; --profile prints the seconds per hour of audio of every stage."""
    folder = recordings(tmp_path / "bird", rate, "a.wav", seconds=0.5)
    out = tmp_path / "out"
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, "--profile")
    record = json.loads((out / "a.wav.annotate.json").read_text())
    assert record["outputs"]["a.wav.annot.csv"]["made_with"]["spectrogram"] == "float32"
    table = proc.stdout[proc.stdout.index("profile: 0.5 s of audio") :]
    for stage in ("read", "filter", "FFT", "transform", "store", "network", "clean-up", "write", "wall"):
        assert f"\n{stage} " in table, table
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, "--exact")
    assert "were annotated with a different spectrogram (float32, or float64 with --exact)" in proc.stdout
    assert "profile:" not in proc.stdout
    monkeypatch.setenv("VAK_TCN_ANNOTATE_EXACT", "1")  # the setting: the same as --exact
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out)
    assert proc.stdout.strip().splitlines()[-1] == "0 annotated, 0 failed, 1 skipped (already annotated)"
    monkeypatch.setenv("VAK_TCN_ANNOTATE_EXACT", "maybe")
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=2)
    one_line(proc, "VAK_TCN_ANNOTATE_EXACT must be 1 or 0, got 'maybe'")


def test_truncated_wav_is_named_not_annotated_as_a_shorter_recording(predict_config, tmp_path, rate, capsys):
    """A WAV whose data chunk was cut in half read as a whole, shorter recording ("1.3 s, 9 segments",
    exit 0); now a FAILED line names it and says what its header promised."""
    folder = recordings(tmp_path / "bird", rate, "cut.wav", seconds=1.0)
    whole = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(whole[: 44 + (len(whole) - 44) // 2])
    proc = annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out", expect=1)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    assert str(folder / "cut.wav") in line and "truncated" in line and f"header gives {rate} samples" in line, line
    assert proc.stdout.strip().splitlines()[-1] == "0 annotated, 1 failed"
    assert not (tmp_path / "out" / "cut.wav.annot.csv").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--workers", "0"], "--workers: must be a positive integer, got '0'"),
        (["--workers", "-1"], "--workers: must be a positive integer, got '-1'"),
        (["--chunk-seconds", "0.0001"], "--chunk-seconds: must be a number of seconds >= 0.05"),
        (["--chunk-seconds", "nan"], "--chunk-seconds: must be a number of seconds >= 0.05"),
        (["--chunk-seconds", "inf"], "--chunk-seconds: must be a number of seconds >= 0.05"),
        (["--threads", "-1"], "--threads: must be a positive integer, got '-1'"),
        (["--channel", "-1"], "--channel: must be an integer >= 0, got '-1'"),
    ],
)
def test_workers_chunk_and_threads_out_of_bounds_are_one_line_at_parse_time(tmp_path, capsys, args, expected):
    """`--workers 0|-1` waited forever, `--chunk-seconds 0.0001` stalled, `nan` failed every file,
    `--threads -1` was a traceback: now argparse's one line, exit 2, before the config is read."""
    line = annotate_argv_error(capsys, "annotate", tmp_path / "predict.toml", tmp_path, *args)
    assert line.startswith("vak-tcn annotate: error: argument ") and expected in line, line


def test_grid_workers_below_one_is_one_line_at_parse_time(tmp_path, capsys):
    """`vak-tcn grid --workers -1` waited forever for a cluster of -1 workers."""
    line = annotate_argv_error(capsys, "grid", tmp_path / "x.toml", "--workers", "-1")
    assert line.startswith("vak-tcn grid: error: argument --workers: must be a positive integer, got '-1'"), line


def test_min_chunk_seconds_is_the_same_for_the_command_and_the_api():
    from vak_tcn.inference import annotate as module
    from vak_tcn.inference import command as cli

    assert cli.MIN_CHUNK_SECONDS == module.MIN_CHUNK_SECONDS
    with pytest.raises(ValueError, match="--chunk-seconds"):
        module.check_options(module.Options(chunk_seconds=float("nan")))


@pytest.mark.parametrize("mismatch", ["garbage checkpoint", "labelmap", "network table"])
def test_checkpoint_that_does_not_load_or_match_the_config_is_one_line(
    predict_config, tmp_path, rate, capsys, no_work, mismatch
):
    """A garbage checkpoint, or a labelmap or network table other than the checkpoint's: tracebacks
    (UnpicklingError, RuntimeError: size mismatch / missing keys); now one line naming the file, exit 2."""
    text = predict_config.read_text()
    checkpoint = str(predict_config.parent / "checkpoint.pt")
    if mismatch == "garbage checkpoint":
        (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint" * 64)
        text, expected = text.replace(checkpoint, str(tmp_path / "garbage.pt")), "not a checkpoint torch can load"
    elif mismatch == "labelmap":
        (tmp_path / "labelmap.json").write_text(json.dumps({"background": 0, "a": 1, "b": 2}))
        text = text.replace(str(predict_config.parent / "labelmap.json"), str(tmp_path / "labelmap.json"))
        expected = "3 classes from labelmap_path"
    else:
        assert f"num_layers = {NETWORK['num_layers']}" in text
        text, expected = text.replace("num_layers = 4", "num_layers = 5"), "Missing key(s)"
    config = tmp_path / "predict.toml"
    config.write_text(text)
    recordings(tmp_path / "bird", rate, "rec.wav", seconds=0.2)
    proc = annotate_in_process(capsys, config, tmp_path / "bird", "--out", tmp_path / "out", expect=2)
    line = one_line(proc, "vak-tcn annotate: error: [vak.predict] checkpoint_path", expected)
    if mismatch != "garbage checkpoint":
        assert "does not match the model the config builds" in line and checkpoint in line


def test_output_folder_that_is_a_file_is_refused_before_any_work(predict_config, tmp_path, rate, capsys, no_work):
    folder = recordings(tmp_path / "bird", rate, "rec.wav", seconds=0.2)
    (tmp_path / "out").write_text("a file")
    proc = annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out", expect=2)
    one_line(proc, f"output folder {tmp_path / 'out'} is a file, not a folder")
    proc = annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out" / "sub", expect=2)
    one_line(proc, f"output folder {tmp_path / 'out' / 'sub'} cannot be made ({tmp_path / 'out'} is a file)")


@contextlib.contextmanager
def read_only(folder: pathlib.Path):
    """``folder`` read-only; as root (whom permissions do not stop), immutable (chattr +i) where the
    file system has it; else the test is skipped."""
    folder.chmod(0o555)
    immutable = False
    try:
        probe = folder / ".probe"
        try:
            probe.write_text("")
            probe.unlink()
            writable = True
        except OSError:
            writable = False
        if writable:
            chattr = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, timeout=30)
            immutable = chattr.returncode == 0
            if not immutable:
                pytest.skip("cannot make a folder read-only here (root, without chattr +i)")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True, timeout=30)
        folder.chmod(0o755)


def test_read_only_output_folder_is_refused_before_any_work(predict_config, tmp_path, rate, capsys, no_work):
    folder = recordings(tmp_path / "bird", rate, "rec.wav", seconds=0.2)
    (tmp_path / "out").mkdir()
    with read_only(tmp_path / "out") as out:
        proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=2)
    one_line(proc, f"cannot write in output folder {out}")


def test_folder_without_audio_says_so_and_suggests_recursive(predict_config, tmp_path, rate, capsys, no_work):
    """An empty folder, or audio only in subfolders without --recursive: "0 annotated, 0 failed", exit
    0; now one line naming the folder, exit 2."""
    from vak_tcn.audio.read import audio_extensions

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = annotate_in_process(capsys, predict_config, empty, "--out", tmp_path / "out", expect=2)
    one_line(proc, f"{empty} holds no audio file ({', '.join(audio_extensions()[0])})")
    assert {".cbin", ".flac", ".ogg", ".wav"} <= set(audio_extensions()[0])  # vak's formats, and more
    nested = recordings(tmp_path / "nested", rate, "night1/rec.wav", "night2/rec.wav", seconds=0.2)
    proc = annotate_in_process(capsys, predict_config, nested, "--out", tmp_path / "out", expect=2)
    one_line(proc, f"{nested} holds no audio file at its top level, and 2 in its subfolders: add --recursive")
    proc = annotate_in_process(capsys, predict_config, empty, "--recursive", "--out", tmp_path / "out", expect=2)
    one_line(proc, f"{empty} holds no audio file", "in any subfolder")


def tqdm_lines_removed(stderr: str) -> list[str]:
    """stderr without the progress bar's redraws."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.lstrip().startswith("annotate:")]


@pytest.mark.slow  # a local dask cluster: each worker process imports torch and vak
@pytest.mark.orchestration
def test_ctrl_c_with_workers_is_one_line_and_the_rerun_resumes(predict_config, setup, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) of `annotate --workers 2` while
    recordings are being annotated: 70 lines of dask tracebacks; now one line, exit 130, nothing left
    running, and the rerun finishes the rest."""
    import shutil
    import signal
    import time

    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(4):
        shutil.copy(setup["audio"] / "long.wav", audio / f"long{i}.wav")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [console_script("vak-tcn"), "annotate", str(predict_config), str(audio), "--workers", "2", "--out", str(out)],
        env=vak_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
    )
    line = ""
    try:
        for line in proc.stdout:  # Ctrl-C once one recording is done: the workers are busy
            if "x real time" in line or line.startswith(("FAILED", "0 annotated")):
                break
        assert "x real time" in line, line
        os.killpg(proc.pid, signal.SIGINT)
        out_text, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err[-3000:]
    assert tqdm_lines_removed(err) == ["vak-tcn annotate: interrupted; rerun the same command to resume"], err[-5000:]
    deadline = time.monotonic() + 30
    while True:  # every worker process ends with the command
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "worker processes left running"
        time.sleep(0.2)
    rerun = annotate(predict_config, audio, "--out", out)
    finished = int(rerun.stdout.strip().splitlines()[-1].split(" annotated")[0])
    assert (
        rerun.stdout.strip().splitlines()[-1]
        == f"{finished} annotated, 0 failed, {4 - finished} skipped (already annotated)"
    )
    assert 1 <= 4 - finished < 4 and not list(out.glob(".*.tmp"))


def test_unreachable_scheduler_is_one_line_naming_it(predict_config, tmp_path, rate, capsys, no_work, monkeypatch):
    """`--scheduler` nobody listens at: one line within the connect timeout (1 s here: the wait itself is
    dask's; test_cli.py's grid test waits the real 10 s), nothing annotated."""
    import time

    from vak_tcn import _processes

    monkeypatch.setattr(_processes, "CONNECT_TIMEOUT_S", 1)
    CONNECT_TIMEOUT_S = _processes.CONNECT_TIMEOUT_S
    audio = recordings(tmp_path / "audio", rate, "a.wav")
    started = time.monotonic()
    proc = annotate_in_process(
        capsys, predict_config, audio, "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9", expect=2
    )
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 30
    last = proc.stderr.strip().splitlines()[-1]  # after the progress bar (tqdm's, on stderr)
    assert last.startswith("vak-tcn annotate: error: cannot reach the dask scheduler at tcp://127.0.0.1:9"), last
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "out").glob("*.annot.csv"))


# ---------------------------------------------------------------- issue 37: formats, one run per --out, records, output
def test_mp3_in_a_folder_is_annotated_as_when_named(predict_config, tmp_path, rate, capsys):
    """A folder of MP3 files "held no audio file", and an MP3 beside WAV files was skipped without a word,
    while the same MP3 named on the command line was annotated: libsndfile here reads MP3, so folders take
    it too, the same annotation either way."""
    import soundfile as sf

    from vak_tcn.audio.read import audio_extensions

    if "MP3" not in sf.available_formats():
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) reads no MP3: the refusal is tested below")
    assert ".mp3" in audio_extensions()[0]
    only = tmp_path / "only-mp3"
    only.mkdir()
    sf.write(only / "a.mp3", song(rate // 2, rate), rate)
    mixed = recordings(tmp_path / "mixed", rate, "b.wav", seconds=0.5)
    sf.write(mixed / "a.mp3", song(rate // 2, rate), rate)
    proc = annotate_in_process(capsys, predict_config, only, "--out", tmp_path / "o1")
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 0 failed"
    proc = annotate_in_process(capsys, predict_config, mixed, "--out", tmp_path / "o2")
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    proc = annotate_in_process(capsys, predict_config, only / "a.mp3", "--out", tmp_path / "o3")
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 0 failed"
    in_folder, named = (read_generic_seq(tmp_path / o / "a.mp3.annot.csv") for o in ("o1", "o3"))
    assert len(in_folder.segments) > 0
    np.testing.assert_array_equal(in_folder.labels, named.labels)
    np.testing.assert_array_equal(in_folder.onsets_s, named.onsets_s)


def test_audio_format_the_reader_cannot_open_is_refused_in_folders_and_when_named(
    predict_config, tmp_path, rate, capsys, no_work, monkeypatch
):
    """With a libsndfile that reads no MP3 (before 1.1), an MP3 in a folder or named is refused alike, before
    any work: one line naming the files, the formats read here and the remedy.  A named file in no audio format
    (it failed as it was read) is refused the same way."""
    import soundfile as sf

    folder = recordings(tmp_path / "bird", rate, "b.wav", seconds=0.2)
    (folder / "a.mp3").write_bytes(b"\xff\xfb" + bytes(400))  # never read
    without_mp3 = {k: v for k, v in sf.available_formats().items() if k != "MP3"}
    monkeypatch.setattr(sf, "available_formats", lambda: without_mp3)
    for given in (folder, folder / "a.mp3"):
        proc = annotate_in_process(capsys, predict_config, given, "--out", tmp_path / "out", expect=2)
        line = one_line(proc, "1 file(s) not in an audio format annotate reads here", str(folder / "a.mp3"))
        assert ".wav" in line and ".flac" in line and ".mp3" not in line.split("it reads")[1].split("(")[0], line
        assert "MP3 needs libsndfile >= 1.1" in line, line
        assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    (folder / "a.mp3").unlink()
    (folder / "notes.txt").write_text("not audio")
    proc = annotate_in_process(capsys, predict_config, folder / "notes.txt", "--out", tmp_path / "out", expect=2)
    line = one_line(proc, f"1 file(s) not in an audio format annotate reads here: {folder / 'notes.txt'}; it reads")
    assert "MP3 needs" not in line
    annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out")  # other files in a folder: not audio


def test_variable_bitrate_mp3_without_xing_header_fails_instead_of_being_read_in_part(
    predict_config, tmp_path, rate, capsys
):
    """libsndfile estimates the length of an MP3 without a Xing/Info header from its first frame and reads no
    further: a variable-bitrate one was annotated in part, without a word.  Now a FAILED line says so."""
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) reads no MP3")
    folder = tmp_path / "bird"
    folder.mkdir()
    sf.write(folder / "whole.mp3", song(rate * 2, rate), rate)  # libsndfile's encoder: VBR, with a Xing frame
    data = (folder / "whole.mp3").read_bytes()
    assert data[:2] == b"\xff\xfb" and b"Xing" in data[:64], data[:64]
    header = int.from_bytes(data[:4], "big")
    bitrate = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)[(header >> 12) & 15] * 1000
    first = 144 * bitrate // (44100, 48000, 32000)[(header >> 10) & 3] + ((header >> 9) & 1)
    (folder / "no-xing.mp3").write_bytes(data[first:])  # the same audio frames, without the Xing frame
    assert sf.info(str(folder / "no-xing.mp3")).frames < rate  # what libsndfile would read: under half
    proc = annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out", expect=1)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    assert line.startswith(f"FAILED {folder / 'no-xing.mp3'}: libsndfile would read") and "Xing" in line, line
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 1 failed"


#: `vak-tcn annotate` that holds its --out: every recording waits, after saying it has started
HOLDS_ITS_OUT = """
import pathlib, sys, time
from vak_tcn.inference import annotate
def wait(self, audio, outputs):
    pathlib.Path(sys.argv[1]).write_text("annotating")
    time.sleep(600)
annotate.Annotator.annotate = wait
from vak_tcn.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.orchestration  # two real processes, one killed: vak-tcn's own code, either vak
def test_second_run_on_one_out_stops_naming_the_first_and_a_killed_runs_lock_is_taken_over(
    predict_config, tmp_path, rate, capsys
):
    """Two runs on one --out both said "6 annotated" and the folder held 2 files of one and 4 of the
    other.  Now the second stops (one line naming the first's pid, exit 2, nothing written); once the first
    is killed (SIGKILL: its lock file stays), the next run takes the lock over, saying so, and annotates."""
    import signal
    import sys
    import time

    folder = recordings(tmp_path / "bird", rate, "a.wav", "b.wav", seconds=0.3)
    out, started = tmp_path / "out", tmp_path / "started"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDS_ITS_OUT, started, "annotate", predict_config, folder, "--out", out],
        env=vak_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert first.poll() is None and time.monotonic() < deadline, first.communicate(timeout=30)
            time.sleep(0.1)
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}  # the first's lock and pending record
        second = annotate(predict_config, folder, "--out", out, expect=2)
        line = one_line(second, f"--out {out} is being written by another vak-tcn annotate (pid {first.pid}")
        assert "choose another --out" in line and "\n" not in second.stdout.strip(), second.stdout
        assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert json.loads((out / ".vak-tcn-annotate.lock").read_text())["pid"] == first.pid  # left by the killed run
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out)
    taken = [ln for ln in proc.stdout.splitlines() if ln.startswith("taking over the lock")]
    assert len(taken) == 1 and taken[0].endswith(": no longer running"), proc.stdout
    assert taken[0].startswith(f"taking over the lock on --out {out} from vak-tcn annotate pid {first.pid}, since ")
    assert proc.stdout.strip().splitlines()[-1] == "2 annotated, 0 failed"
    assert not (out / ".vak-tcn-annotate.lock").exists()  # released at the end
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out)
    assert "taking over" not in proc.stdout and proc.stdout.strip().splitlines()[-1].endswith(
        "2 skipped (already annotated)"
    )


def test_failed_recording_is_recorded_as_failed_with_its_reason_and_retried(predict_config, tmp_path, rate, capsys):
    """A recording that failed left its record "pending", as if a run had been interrupted writing it.  Now
    the record says "failed" and why (as read and as annotated), and the rerun tries it again, saying so."""
    folder = recordings(tmp_path / "bird", rate, "good.wav", seconds=0.3)
    nan = song(rate // 2, rate)
    nan[100] = np.nan
    soundfile.write(folder / "nan.wav", nan, rate, subtype="FLOAT")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00not a wave file" * 10)
    out = tmp_path / "out"
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=1)
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 2 failed"
    for name, reason in (("nan.wav", "non-finite sample (NaN or inf) at sample 100"), ("corrupt.wav", "cannot read")):
        entry = json.loads((out / f"{name}.annotate.json").read_text())["outputs"][f"{name}.annot.csv"]
        assert entry["state"] == "failed" and reason in entry["error"] and entry["finished"], entry
        assert not (out / f"{name}.annot.csv").exists()
    soundfile.write(folder / "nan.wav", song(rate // 2, rate), rate, subtype="FLOAT")  # fixed
    proc = annotate_in_process(capsys, predict_config, folder, "--out", out, expect=1)
    retried = f"2 recording(s) failed in an earlier run (e.g. {folder / 'corrupt.wav'}: cannot read audio: "
    assert retried in proc.stdout and proc.stdout.count("failed in an earlier run") == 1, proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "1 annotated, 1 failed, 1 skipped (already annotated)"
    entry = json.loads((out / "nan.wav.annotate.json").read_text())["outputs"]["nan.wav.annot.csv"]
    assert entry["state"] == "complete" and "error" not in entry


def test_progress_bar_ends_at_100_percent_without_a_tqdm_warning(
    predict_config, tmp_path, rate, capsys, recwarn, monkeypatch
):
    """Three 2-s recordings: each counted as 0.0006 h against a total of 0.0017 h, the bar reached 106 % (109 %
    for six) and tqdm warned "clamping frac to range [0, 1]" into annotate's output.  Now it ends at 100 %."""
    import re

    import tqdm

    last = []  # the bar as it stands when it closes (tqdm redraws at most every 0.1 s: the last state may not show)
    close = tqdm.std.tqdm.close
    monkeypatch.setattr(tqdm.std.tqdm, "close", lambda self: (last.append(str(self)), close(self))[1])
    folder = recordings(tmp_path / "bird", rate, "a.wav", "b.wav", "c.wav", seconds=2.0)
    proc = annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / "out")
    assert proc.stdout.strip().splitlines()[-1] == "3 annotated, 0 failed"
    assert re.match(r"annotate: 100%\|█+\| 6\.0/6\.0 s audio \[", last[-1]), last
    assert all(int(p) <= 100 for p in re.findall(r"(\d+)%\|", proc.stderr)), proc.stderr
    assert "Warning" not in proc.stderr and "clamping" not in proc.stderr
    assert not [w for w in recwarn.list if "tqdm" in type(w.message).__module__], [str(w) for w in recwarn.list]


def test_simple_seq_and_aud_seq_times_are_rounded_to_microseconds(predict_config, tmp_path, rate, capsys):
    """simple-seq wrote `1.0510000000000002`: now every time has at most 6 decimals (µs), in aud-seq too, and
    equals generic-seq's rounded; generic-seq keeps vak predict's floats (compared to the float with stock vak
    predict in test_annotate_vs_vak_predict.py)."""
    import pandas as pd

    folder = recordings(tmp_path / "bird", rate, "a.wav", seconds=1.0)
    for fmt in ("generic-seq", "simple-seq", "aud-seq"):
        annotate_in_process(capsys, predict_config, folder, "--out", tmp_path / fmt, "--annot-format", fmt)
    generic = pd.read_csv(tmp_path / "generic-seq" / "a.wav.annot.csv", dtype={"onset_s": str, "offset_s": str})
    assert max(len(t.split(".")[1]) for t in generic["onset_s"]) > 6  # the floats as computed: digits to round
    simple = (tmp_path / "simple-seq" / "a.wav.csv").read_text().splitlines()
    aud = (tmp_path / "aud-seq" / "a.wav.txt").read_text().splitlines()
    assert simple[0] == "onset_s,offset_s,label" and len(simple) - 1 == len(aud) == len(generic) > 3
    for row, line, (onset, offset) in zip(simple[1:], aud, zip(generic["onset_s"], generic["offset_s"])):
        written = [*row.split(",")[:2], *line.split("\t")[:2]]
        assert all(len(t.split(".")[1]) <= 6 for t in written if "." in t), written
        assert [float(t) for t in written] == [round(float(onset), 6), round(float(offset), 6)] * 2, written
