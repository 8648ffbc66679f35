"""`vak-tcn live` through the console script: --simulate, --stdin, triggers, the annotation."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import crowsetta
import numpy as np
import pytest
import soundfile

from conftest import REAL_BOUT, console_script, run_cli, vak_env

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "inference"))
from helpers_inference import make_predict_config, whole_file_reference  # noqa: E402

BOUT = REAL_BOUT / "bout_1.wav"
SMALL_TCN = {"out_channels": 16, "num_layers": 4}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return make_predict_config(tmp_path_factory.mktemp("live"), network=SMALL_TCN, fc_bias=[1.0, 0, 0, 0])


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_simulate_prints_the_offline_syllables_and_fires_the_trigger(config, tmp_path):
    samples, rate = soundfile.read(BOUT)
    names, onsets, offsets, _ = whole_file_reference(config, samples, rate, post_processing=False)
    target = str(names[0])
    fires, annot = tmp_path / "fires.jsonl", tmp_path / "session.csv"
    proc = run_cli(
        ["vak-tcn", "live", config, "--simulate", BOUT, "--speed", "0", "--reference", BOUT,
         "--trigger", target, "--fifo", fires, "--annot-out", annot],
    )  # fmt: skip
    events = events_of(proc.stdout)
    got_onsets = [e for e in events if e["kind"] == "onset"]
    assert [e["label"] for e in got_onsets] == list(names)
    np.testing.assert_allclose([e["time"] for e in got_onsets], onsets, atol=2e-5)
    fired = [json.loads(line) for line in fires.read_text().splitlines()]
    assert fired == [e for e in got_onsets if e["label"] == target] and fired
    seq = crowsetta.Transcriber(format="generic-seq").from_file(annot).to_annot()
    seq = (seq[0] if isinstance(seq, list) else seq).seq
    assert list(seq.labels) == list(names)
    np.testing.assert_allclose(seq.offsets_s, offsets, atol=2e-5)
    assert "syllables" in proc.stderr and "trigger fired" in proc.stderr


def test_stdin_pcm_gives_the_same_events_and_exec_runs_per_onset(config, tmp_path):
    samples, rate = soundfile.read(BOUT, dtype="float32")
    wav = tmp_path / "bout32.wav"  # the same float32 samples for both sources
    soundfile.write(wav, samples, rate, subtype="FLOAT")
    simulated = events_of(run_cli(["vak-tcn", "live", config, "--simulate", wav, "--speed", "0"]).stdout)
    log = tmp_path / "exec.log"
    command = f"{sys.executable} -c \"import os; open({str(log)!r}, 'a').write(os.environ['VAK_TCN_EVENT'] + chr(10))\""
    target = next(e["label"] for e in simulated if e["kind"] == "onset")
    proc = subprocess.run(
        [console_script("vak-tcn"), "live", str(config), "--stdin", "--rate", str(rate), "--dtype", "float32", "--hop", "4",
         "--trigger", target, "--exec", command],
        input=samples.tobytes(), capture_output=True, env=vak_env(), timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    piped = events_of(proc.stdout.decode())
    # pushes of 4 frames instead of 1 sum the same products in another order: probabilities to ~1e-7
    assert [{**e, "probability": None} for e in piped] == [{**e, "probability": None} for e in simulated]
    np.testing.assert_allclose([e["probability"] for e in piped], [e["probability"] for e in simulated], atol=1e-5)
    expected = [e for e in simulated if e["kind"] == "onset" and e["label"] == target]
    for _ in range(100):  # the commands run in the background
        if log.exists() and len(log.read_text().splitlines()) == len(expected):
            break
        time.sleep(0.1)
    assert sorted(json.loads(x)["frame"] for x in log.read_text().splitlines()) == [e["frame"] for e in expected]


def test_user_mistakes_are_one_line_errors(config):
    proc = subprocess.run(
        [console_script("vak-tcn"), "live", str(config), "--stdin"],
        capture_output=True,
        text=True,
        env=vak_env(),
        timeout=300,
    )
    assert proc.returncode == 2 and "--rate" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [console_script("vak-tcn"), "live", str(config), "--simulate", str(BOUT), "--trigger", "zz", "--fifo", "/dev/null"],
        capture_output=True, text=True, env=vak_env(), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and "'zz'" in proc.stderr and "Traceback" not in proc.stderr


def test_post_processing_gives_annotates_segments_later(config, tmp_path):
    """--post-processing auto: the tuned clean-up beside the checkpoint, then the config's, as
    `vak-tcn annotate` applies it; with the file's own reference power, the same syllables."""
    from vak_tcn.models.postprocess import Settings

    tuned = Settings(min_segment_dur=0.004, min_gap_dur=0.006, majority_vote=True)
    stored = config.parent / "postprocess.json"
    stored.write_text(json.dumps({"best": tuned.asdict()}))
    try:
        live = run_cli(
            ["vak-tcn", "live", config, "--simulate", BOUT, "--speed", "0", "--reference", BOUT,
             "--post-processing", "auto", "--annot-out", tmp_path / "live.csv"],
        )  # fmt: skip
        run_cli(["vak-tcn", "annotate", config, BOUT, "--out", tmp_path / "annotate"])
    finally:
        stored.unlink()
    # the config's min_segment_dur (10 ms) is the larger; at 1.45 ms frames (44.1 kHz, hop 64):
    # onsets wait 6 more frames (7 frames >= 10 ms), offsets 4 (5 frames of gap >= 6 ms)
    assert "clean-up min_gap_dur=0.006 s, min_segment_dur=0.01 s, majority_vote=true" in live.stderr
    assert "onsets 8.7 ms and offsets 5.8 ms later" in live.stderr
    ours, theirs = (
        crowsetta.Transcriber(format="generic-seq").from_file(path).to_annot()
        for path in (tmp_path / "live.csv", tmp_path / "annotate" / "bout_1.wav.annot.csv")
    )
    ours, theirs = ((a[0] if isinstance(a, list) else a).seq for a in (ours, theirs))
    assert len(theirs.labels) > 0 and list(ours.labels) == list(theirs.labels)
    np.testing.assert_allclose(ours.onsets_s, theirs.onsets_s, atol=2e-5)
    np.testing.assert_allclose(ours.offsets_s, theirs.offsets_s, atol=2e-5)
    events = events_of(live.stdout)
    assert [e["label"] for e in events if e["kind"] == "offset"] == list(theirs.labels)
