"""``vak-tcn annotate`` through the CLI: exact times, crowsetta round trip, resume, bad files, workers."""

from __future__ import annotations

import os
import pathlib
import subprocess

import crowsetta
import numpy as np
import pytest
import soundfile

from conftest import REAL_BOUT, console_script, vak_env
from helpers_inference import LABELMAP, make_predict_config, song, whole_file_reference

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
    from vak_tcn import cli

    argv = ["annotate", *map(str, args)]
    capsys.readouterr()  # only this command's output
    status = cli.main(argv)
    out = capsys.readouterr()
    assert status == expect, f"exit {status}\n{out.out[-3000:]}\n{out.err[-5000:]}"
    return subprocess.CompletedProcess(argv, status, out.out, out.err)


def read_generic_seq(path: pathlib.Path):
    (annot,) = crowsetta.Transcriber(format="generic-seq").from_file(path).to_annot()
    return annot.seq


@pytest.fixture(scope="module")
def rate() -> int:
    return soundfile.info(str(REAL_BOUT / "bout_1.wav")).samplerate


@pytest.fixture(scope="module")
def setup(tmp_path_factory, rate):
    tmp = tmp_path_factory.mktemp("annotate")
    config = make_predict_config(tmp, network=NETWORK)
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
    proc = annotate_in_process(capsys, setup["config"], setup["audio"], "--annot-format", "textgrid", expect=2)
    assert "textgrid" in proc.stderr and "generic-seq" in proc.stderr


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
