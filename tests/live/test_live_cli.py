"""`vak-tcn live` through the console script: --simulate, --stdin, triggers, the annotation."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time

import crowsetta
import numpy as np
import pytest
import soundfile

from helpers.cli import cli_in_process, console_script, run_cli, vak_env
from helpers.data import REAL_BOUT
from helpers.inference import SPECT_PARAMS, make_predict_config, whole_file_reference

BOUT = REAL_BOUT / "bout_1.wav"
SMALL_TCN = {"out_channels": 16, "num_layers": 4, "causal": True}  # live needs a causal TCN


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
        ["vak-tcn", "live", config, "--simulate", BOUT, "--speed", "0", "--calibration", BOUT,
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
        [console_script("vak-tcn"), "live", str(config), "--stdin", "--samplerate", str(rate), "--dtype", "float32", "--hop", "4",
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


def test_a_trigger_on_the_background_is_refused_naming_the_valid_labels(config, tmp_path, capsys):
    """`--trigger background` used to be taken and never fire (the background makes no onsets), unsaid:
    'trigger fired 0x'.  Now refused in one line naming the labels it can fire on."""
    for args in ([], ["--post-processing", "config"]):
        proc = cli_in_process(
            capsys, "live", config, "--simulate", BOUT, "--speed", "0", "--trigger", "background",
            "--fifo", tmp_path / "fires.jsonl", *args,
        )  # fmt: skip
        line = one_line_error(proc.returncode, proc.stderr)
        assert line == (
            "vak-tcn live: error: --trigger 'background': the background class makes no onsets, a trigger on it "
            "would never fire; give a syllable label: a, b, c"
        )
        assert proc.stdout == ""


def test_user_mistakes_are_one_line_errors(config, capsys):
    """In-process (``vak_tcn.cli.main``): an exception escaping it would fail the test, so no traceback;
    and none printed."""
    from vak_tcn import cli

    status = cli.main(["live", str(config), "--stdin"])
    stderr = capsys.readouterr().err
    assert status == 2 and "--samplerate" in stderr and "Traceback" not in stderr, stderr
    status = cli.main(["live", str(config), "--simulate", str(BOUT), "--trigger", "zz", "--fifo", "/dev/null"])
    stderr = capsys.readouterr().err
    assert status == 2 and "'zz'" in stderr and "Traceback" not in stderr, stderr


def test_post_processing_gives_annotates_segments_later(config, tmp_path):
    """--post-processing auto: the tuned clean-up beside the checkpoint, then the config's, as
    `vak-tcn annotate` applies it; with the file's own reference power, the same syllables."""
    from vak_tcn.models.cleanup import Settings

    tuned = Settings(min_segment_dur=0.004, min_gap_dur=0.006, majority_vote=True)
    stored = config.parent / "postprocess.json"
    stored.write_text(json.dumps({"best": tuned.asdict()}))
    try:
        live = run_cli(
            ["vak-tcn", "live", config, "--simulate", BOUT, "--speed", "0", "--calibration", BOUT,
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


# ---------------------------------------------------------------- what a session survives, and how it ends


def live(args: list, monkeypatch=None, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``vak-tcn live CONFIG ...`` in this process: ``(exit status, stdout, stderr)``."""
    from vak_tcn import cli

    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["live", *map(str, args)])
    return status, out.getvalue(), err.getvalue()


def one_line_error(status: int, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("vak-tcn live: error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def bout32(config, tmp_path_factory):
    """The bout as float32 (what --stdin --dtype float32 gets) in a WAV file, and its events at --hop 16."""
    samples, rate = soundfile.read(BOUT, dtype="float32")
    wav = tmp_path_factory.mktemp("bout32") / "bout32.wav"
    soundfile.write(wav, samples, rate, subtype="FLOAT")
    status, stdout, _ = live([config, "--simulate", wav, "--speed", "0", "--hop", "16"])
    assert status == 0
    events = events_of(stdout)
    assert sum(e["kind"] == "offset" for e in events) > 20
    return wav, samples, rate, events


def target_of(events: list[dict]) -> tuple[str, int]:
    """The label with the most onsets, and their number."""
    counts: dict[str, int] = {}
    for e in events:
        if e["kind"] == "onset":
            counts[e["label"]] = counts.get(e["label"], 0) + 1
    label = max(counts, key=counts.get)
    return label, counts[label]


def syllables_of(annot: pathlib.Path) -> list[tuple[str, float]]:
    """``(label, offset_s)`` of each syllable of a generic-seq file (an empty one: its header alone)."""
    if len(annot.read_text().splitlines()) < 2:
        return []
    seq = crowsetta.Transcriber(format="generic-seq").from_file(annot).to_annot()
    seq = (seq[0] if isinstance(seq, list) else seq).seq
    return list(zip(map(str, seq.labels), np.round(seq.offsets_s, 6).tolist()))


def offsets_printed(events: list[dict]) -> list[tuple[str, float]]:
    return [(e["label"], round(e["time"], 6)) for e in events if e["kind"] == "offset"]


def test_a_non_finite_sample_is_reported_and_live_keeps_hearing(config, tmp_path):
    """One NaN used to stay in the band-pass filter's state and the running maximum: no event ever
    again.  Now each stretch of NaN/inf samples is one line with its count, the samples are silence,
    and the events are those of the same audio with zeros there.  Non-finite samples less than a
    second apart are one stretch: two runs (one spanning two pushes), or every other sample for
    a while (one line per sample before: 7,508 lines for 4.3 s of int16 PCM read as float32)."""
    samples, rate = soundfile.read(BOUT)
    bad, zeros = samples.copy(), samples.copy()
    stretches = {(1000, 1003): np.nan, (2040, 2060): np.nan, (100000, 100002): np.inf}  # 2048: a push boundary
    stretches.update({(i, i + 1): np.nan for i in range(200000, 201000, 2)})
    for (a, b), value in stretches.items():
        bad[a:b], zeros[a:b] = value, 0.0
    bad[100001] = -np.inf
    for name, audio in (("bad.wav", bad), ("zeros.wav", zeros)):
        soundfile.write(tmp_path / name, audio, rate, subtype="DOUBLE")
    status, stdout, stderr = live([config, "--simulate", tmp_path / "bad.wav", "--speed", "0", "--hop", "16"])
    assert status == 0, stderr
    reports = [line for line in stderr.splitlines() if "non-finite sample(s) (NaN or inf) from" in line]
    assert [line.split(": replaced")[0] for line in reports] == [
        f"vak-tcn live: 23 non-finite sample(s) (NaN or inf) from {1000 / rate:.4f} s to {2060 / rate:.4f} s",
        f"vak-tcn live: 2 non-finite sample(s) (NaN or inf) from {100000 / rate:.4f} s to {100002 / rate:.4f} s",
        f"vak-tcn live: 500 non-finite sample(s) (NaN or inf) from {200000 / rate:.4f} s to {200999 / rate:.4f} s",
    ]
    assert "525 non-finite sample(s) in 3 stretch(es) replaced by silence" in stderr
    status, expected, _ = live([config, "--simulate", tmp_path / "zeros.wav", "--speed", "0", "--hop", "16"])
    assert events_of(stdout) == events_of(expected) and len(events_of(expected)) > 40


def test_a_reference_that_is_silent_non_finite_or_at_another_rate_is_refused(config, tmp_path):
    samples, rate = soundfile.read(BOUT)
    silent, nan, other_rate = tmp_path / "silent.wav", tmp_path / "nan.wav", tmp_path / "32k.wav"
    soundfile.write(silent, np.zeros(rate), rate)
    soundfile.write(nan, np.where(np.arange(len(samples)) == 500, np.nan, samples), rate, subtype="DOUBLE")
    soundfile.write(other_rate, samples[:32000], 32000)
    for reference, says in ((silent, "silent"), (nan, "non-finite sample"), (other_rate, "sample rate 32000 Hz")):
        status, _, stderr = live([config, "--simulate", BOUT, "--speed", "0", "--calibration", reference])
        line = one_line_error(status, stderr)
        assert f"--calibration {reference}: " in line and says in line, line


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The small network, with the reference level its training would have recorded (the bout's
    maximum power: what `--reference BOUT` measures), and the first second of the bout."""
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live.stream import reference_power_of
    from vak_tcn.models import trained

    out = tmp_path_factory.mktemp("recorded")
    config = make_predict_config(out, network=SMALL_TCN, fc_bias=[1.0, 0, 0, 0])
    params = SpectParams.from_vak(SPECT_PARAMS)
    level = reference_power_of(BOUT, params)
    samples, rate = soundfile.read(BOUT)
    doc = {"reference_power": level, "n_files": 3, "samplerate": rate, "spect_params": params.power_key()}
    trained.write_reference(config.parent / "checkpoint.pt", doc, "test")
    second = out / "first-second.wav"
    soundfile.write(second, samples[:rate], rate, subtype="DOUBLE")
    return config, level, second


def test_a_reference_far_from_the_level_recorded_at_training_is_refused(recorded, config, tmp_path):
    """5 s of DC as --reference (its band-pass leaves next to nothing: 77 dB below the recorded level
    here) used to be taken: every frame far too loud, 375 syllables instead of 63 in the issue.  A
    reference more than 20 dB from the recorded level is refused, both levels named; within 20 dB
    it is used; --reference-power takes any level; without a recorded level there is nothing to
    compare with."""
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live.stream import reference_power_of

    config_recorded, level, second = recorded
    samples, rate = soundfile.read(BOUT)
    dc, louder, quieter = tmp_path / "dc.wav", tmp_path / "louder.wav", tmp_path / "quieter.wav"
    soundfile.write(dc, np.full(5 * rate, 0.01), rate, subtype="DOUBLE")
    soundfile.write(louder, samples * 20, rate, subtype="DOUBLE")  # +26 dB
    soundfile.write(quieter, samples * 0.2, rate, subtype="DOUBLE")  # -14 dB: another gain, the same song
    annot = tmp_path / "session.csv"
    db = lambda power: 10 * np.log10(power)  # noqa: E731
    powers = {path: reference_power_of(path, SpectParams.from_vak(SPECT_PARAMS)) for path in (dc, louder, quieter)}
    assert db(powers[dc] / level) < -70 and 25 < db(powers[louder] / level) < 27
    for reference, side in ((dc, "below"), (louder, "above")):
        power = powers[reference]
        status, stdout, stderr = live(
            [config_recorded, "--simulate", second, "--speed", "0", "--calibration", reference, "--annot-out", annot]
        )
        line = one_line_error(status, stderr)
        assert line.startswith(
            f"vak-tcn live: error: --calibration {reference}: its level, {db(power):.1f} dB (maximum power "
            f"{power:.3g}), is {abs(db(power / level)):.1f} dB {side} the level recorded when training ended, "
            f"{db(level):.1f} dB ({level:.3g}): more than 20 dB away"
        ), line
        assert line.endswith(f"or --reference-power {power:.3g} if its gain really differs that much"), line
        assert stdout == "" and not annot.exists()
    status, _, stderr = live([config_recorded, "--simulate", second, "--speed", "0", "--calibration", quieter])
    assert status == 0 and f"reference power {powers[quieter]:.6g}: the maximum power of --calibration" in stderr
    for args in (
        [config_recorded, "--reference-power", powers[dc]],  # the way out, when the gain really differs
        [config, "--calibration", dc],  # no recorded level beside this checkpoint
    ):
        status, _, stderr = live([*args, "--simulate", second, "--speed", "0"])
        assert status == 0 and f"reference power {powers[dc]:.6g}" in stderr, stderr


def test_stdin_in_the_wrong_dtype_is_refused_in_one_line(config, monkeypatch, tmp_path):
    """The bout's float32 bytes read as int16 used to give twice the audio and a flood of syllables;
    int16 bytes read as float32 one line per NaN.  Now the first second is checked: one line naming
    --dtype and what the data look like, exit 2, nothing printed or written."""
    samples, rate = soundfile.read(BOUT, dtype="float32")
    ints, _ = soundfile.read(BOUT, dtype="int16")
    annot = tmp_path / "session.csv"
    cases = [
        (samples, "int16", "read as int16 it is white noise at "),
        (samples, "int32", "read as int32 it is white noise at "),
        (ints, "float32", "% of its non-zero samples are NaN, inf or beyond +-16"),
        ((ints.astype(np.int32) << 16), "float32", "% of its non-zero samples are NaN, inf or beyond +-16"),
    ]
    for data, dtype, says in cases:
        status, stdout, stderr = live(
            [config, "--stdin", "--samplerate", rate, "--dtype", dtype, "--annot-out", annot],
            monkeypatch,
            data.tobytes(),
        )
        line = one_line_error(status, stderr)
        assert line.startswith(
            f"vak-tcn live: error: --dtype {dtype}: the first second on standard input does not look like {dtype} PCM: "
        ), line
        assert says in line, line
        if dtype == "float32":
            assert line.endswith(
                "give the --dtype it was written in, e.g. --dtype int16 for arecord -f S16_LE (int32: S32_LE)"
            )
        else:
            assert "its bytes read as float32 are audio within +-" in line and "give --dtype float32" in line
        assert stdout == "" and not annot.exists()


def test_stdin_in_its_dtype_is_taken_whole_after_the_check(config, monkeypatch, tmp_path):
    """The first second, read to be checked, is not lost: int16 on --stdin gives --simulate's events of
    the same samples; digital silence (which could be any dtype) is taken."""
    ints, rate = soundfile.read(BOUT, dtype="int16")
    wav = tmp_path / "bout16.wav"
    soundfile.write(wav, ints, rate, subtype="PCM_16")
    _, expected, _ = live([config, "--simulate", wav, "--speed", "0", "--hop", "16"])
    status, stdout, stderr = live(
        [config, "--stdin", "--samplerate", rate, "--dtype", "int16", "--hop", "16"], monkeypatch, ints.tobytes()
    )
    assert status == 0 and events_of(stdout) == events_of(expected) and len(events_of(expected)) > 40, stderr
    assert "8.5 s of audio" in stderr
    silence = np.concatenate([np.zeros(2 * rate, dtype=np.float32), np.zeros(100, dtype=np.float32)])
    status, _, stderr = live(
        [config, "--stdin", "--samplerate", rate, "--dtype", "float32"], monkeypatch, silence.tobytes()
    )
    assert status == 0 and "2.0 s of audio" in stderr, stderr


def test_scattered_non_finite_samples_on_stdin_are_one_line(config, monkeypatch):
    """A float32 stream whose first second is right, then a second of int16 bytes (NaN in every few
    samples): one line for that stretch, not one per NaN, and the stream goes on."""
    samples, rate = soundfile.read(BOUT, dtype="float32")
    ints, _ = soundfile.read(BOUT, dtype="int16")
    data = samples[:rate].tobytes() + ints[3 * rate : 4 * rate].tobytes() + samples[4 * rate : 6 * rate].tobytes()
    floats = np.frombuffer(data, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(floats))
    assert len(bad) > 300 and bad[0] >= rate and bad[-1] < rate * 3 // 2  # scattered over 0.23 s
    status, _, stderr = live([config, "--stdin", "--samplerate", rate, "--dtype", "float32"], monkeypatch, data)
    assert status == 0, stderr
    reports = [line for line in stderr.splitlines() if "non-finite sample(s)" in line and "replaced" in line]
    assert reports[0] == (
        f"vak-tcn live: {len(bad)} non-finite sample(s) (NaN or inf) from {bad[0] / rate:.4f} s to "
        f"{(bad[-1] + 1) / rate:.4f} s: replaced by silence, the stream goes on"
    )
    assert len(reports) == 2 and f"{len(bad)} non-finite sample(s) in 1 stretch(es)" in reports[1]


def test_a_failing_exec_command_is_reported_once_and_the_session_goes_on(config, bout32, tmp_path):
    """A missing or non-executable program, or one that fails: one line on stderr, every event,
    the whole annotation; the summary counts the failures."""
    wav, _, _, events = bout32
    target, n_target = target_of(events)
    not_executable = tmp_path / "not-executable.sh"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    not_executable.chmod(0o644)
    commands = {
        str(tmp_path / "missing-program"): "cannot run it: No such file or directory",
        str(not_executable): "cannot run it: Permission denied",
        "sh -c 'exit 3'": "exited with status 3",
    }
    for i, (command, says) in enumerate(commands.items()):
        annot = tmp_path / f"session{i}.csv"
        status, stdout, stderr = live(
            [config, "--simulate", wav, "--speed", "0", "--hop", "16", "--trigger", target, "--exec", command,
             "--annot-out", annot],
        )  # fmt: skip
        assert status == 0 and events_of(stdout) == events, stderr
        assert len([line for line in stderr.splitlines() if says in line]) == 1, stderr
        assert f"trigger fired {n_target}x (--exec failed {n_target}x)" in stderr
        assert syllables_of(annot) == offsets_printed(events)


def test_bad_channel_channels_or_simulate_file_are_one_line_errors(config, tmp_path, monkeypatch):
    text = tmp_path / "notes.txt"
    text.write_text("not audio\n")
    cases = [
        (["--simulate", BOUT, "--channel", "3"], f"--channel 3 out of range: {BOUT} has 1 channel(s)"),
        (["--stdin", "--samplerate", "44100", "--channels", "0"], "--channels must be at least 1, got 0"),
        (["--stdin", "--samplerate", "44100", "--channels", "2", "--channel", "2"], "--channel 2 out of range"),
        (["--simulate", text], f"--simulate {text}: cannot read audio"),
    ]
    for args, says in cases:
        status, _, stderr = live([config, *args], monkeypatch, stdin=bytes(4096))
        assert says in one_line_error(status, stderr), stderr


@pytest.mark.orchestration
def test_exec_commands_still_running_at_the_end_are_killed_with_their_process_group(config, bout32, tmp_path):
    """Commands that hang (and what they started) get --exec-grace, then are killed: none outlives live."""
    wav, _, _, events = bout32
    target, n_target = target_of(events)
    pids = tmp_path / "pids"
    command = f"sh -c 'echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; wait'"
    try:
        started = time.monotonic()
        status, stdout, stderr = live(
            [config, "--simulate", wav, "--speed", "0", "--hop", "16", "--trigger", target, "--exec", command,
             "--exec-grace", "0.3"],
        )  # fmt: skip
        assert status == 0 and events_of(stdout) == events, stderr
        assert time.monotonic() - started < 60
        assert f"{n_target} --exec command(s) still running 0.3 s after the session ended: killed" in stderr
        assert f"{n_target} --exec command(s) killed at the end" in stderr
        listed = [int(pid) for pid in pids.read_text().split()]
        assert len(listed) >= 2 and [pid for pid in listed if alive(pid)] == []
    finally:
        for pid in [int(p) for p in pids.read_text().split()] if pids.exists() else []:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is not)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


class LiveProcess:
    """``vak-tcn live CONFIG --stdin ...`` as a real process: audio written and stdout read in threads,
    so that nothing in the test can block without a timeout."""

    def __init__(self, args: list, stderr: pathlib.Path):
        self._err = stderr.open("w")
        self.proc = subprocess.Popen(
            [console_script("vak-tcn"), "live", *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=vak_env(),
        )  # fmt: skip
        self.lines: queue.Queue = queue.Queue()
        self.stderr = stderr

    def feed(self, data: bytes, close: bool = False) -> threading.Thread:
        def write():
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                if close:
                    self.proc.stdin.close()

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        return thread

    def read_lines(self, stop_after: int | None = None) -> None:
        """Lines of stdout into :attr:`lines` (None at the end); closes stdout after ``stop_after`` lines."""

        def read():
            for n, line in enumerate(iter(self.proc.stdout.readline, b""), 1):
                self.lines.put(json.loads(line))
                if n == stop_after:
                    self.proc.stdout.close()  # the reader goes away
                    break
            self.lines.put(None)

        threading.Thread(target=read, daemon=True).start()

    def wait(self, timeout: float) -> tuple[int, str]:
        try:
            status = self.proc.wait(timeout=timeout)
        finally:
            self.proc.kill()
            self._err.close()
        return status, self.stderr.read_text()


@pytest.mark.orchestration
@pytest.mark.parametrize(
    "signum, status_expected, why",
    [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGHUP, 129, "hung up (SIGHUP)")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_sigterm_and_sighup_end_the_session_with_its_annotation_written(
    config, bout32, tmp_path, signum, status_expected, why
):
    """A supervisor's SIGTERM, or the SIGHUP of a closed terminal or a lost ssh session (which used to
    kill live: exit 129, no annotation): the annotation is written, the documented exit status."""
    wav, samples, rate, events = bout32
    annot = tmp_path / "session.csv"
    live_process = LiveProcess(
        [config, "--stdin", "--samplerate", rate, "--dtype", "float32", "--hop", "16", "--annot-out", annot],
        tmp_path / "stderr.txt",
    )
    live_process.feed(samples[: 4 * rate].tobytes())  # 4 s, then nothing more: live waits for audio
    live_process.read_lines()
    got = []
    while not got or got[-1]["time"] < 2.0:  # syllables up to 2 s are out
        got.append(live_process.lines.get(timeout=300))
    live_process.proc.send_signal(signum)
    status, stderr = live_process.wait(timeout=120)
    while (event := live_process.lines.get(timeout=10)) is not None:
        got.append(event)
    assert status == status_expected and f"; {why}" in stderr and "Traceback" not in stderr, stderr
    assert f"annotation written to {annot}" in stderr
    # the syllable open at SIGTERM ends with the last frame heard; the others are the whole run's
    written = syllables_of(annot)
    assert written == offsets_printed(got) and len(written) > 3
    assert written[:-1] == offsets_printed(events)[: len(written) - 1]


def test_a_closed_stdout_ends_the_session_with_its_annotation_written(config, bout32, tmp_path):
    """The reader of the events goes (broken pipe): live ends, exit 141, with the annotation so far,
    no traceback and no 'Exception ignored'."""
    wav, samples, rate, events = bout32
    annot = tmp_path / "session.csv"
    live_process = LiveProcess(
        [config, "--stdin", "--samplerate", rate, "--dtype", "float32", "--hop", "16", "--annot-out", annot],
        tmp_path / "stderr.txt",
    )
    half = len(samples) // 2
    first_half = live_process.feed(samples[:half].tobytes())
    live_process.read_lines(stop_after=1)
    assert live_process.lines.get(timeout=300) == events[0]
    assert live_process.lines.get(timeout=60) is None  # our end of the pipe is closed
    first_half.join(timeout=120)
    assert not first_half.is_alive()
    live_process.feed(samples[half:].tobytes(), close=True)  # more events: written to a closed pipe
    status, stderr = live_process.wait(timeout=120)
    assert status == 141 and "standard output closed by its reader" in stderr, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    written = syllables_of(annot)  # the syllable open at the end: ended with the last frame heard
    assert written and written[:-1] == offsets_printed(events)[: len(written) - 1]


def test_a_fifo_without_a_reader_never_blocks_live(config, bout32, tmp_path):
    """No reader on --fifo: live used to wait for one at the first trigger.  Now every event is
    printed, each trigger's event is dropped and counted, and the annotation is whole."""
    wav, _, _, events = bout32
    target, n_target = target_of(events)
    fifo, annot = tmp_path / "stimulus.fifo", tmp_path / "session.csv"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [console_script("vak-tcn"), "live", str(config), "--simulate", str(wav), "--speed", "0", "--hop", "16",
         "--trigger", target, "--fifo", str(fifo), "--annot-out", str(annot)],
        capture_output=True, text=True, env=vak_env(), timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert events_of(proc.stdout) == events
    assert f"--fifo {fifo}: no reader: events dropped until one opens it" in proc.stderr
    assert f"trigger fired {n_target}x ({n_target} --fifo event(s) dropped, nobody reading)" in proc.stderr
    assert syllables_of(annot) == offsets_printed(events)


def test_annot_out_as_a_raven_table_and_a_textgrid(config, tmp_path, capsys):
    """--annot-format raven / textgrid: the session's syllables as annotate writes them, read back by
    crowsetta's readers; the TextGrid ends with the audio heard, the selections on the model's band."""
    samples, rate = soundfile.read(BOUT)
    names, onsets, offsets, _ = whole_file_reference(config, samples, rate, post_processing=False)
    for fmt, name in (("raven", "session.Table.1.selections.txt"), ("textgrid", "session.TextGrid")):
        proc = cli_in_process(
            capsys, "live", config, "--simulate", BOUT, "--speed", "0", "--calibration", BOUT,
            "--annot-out", tmp_path / name, "--annot-format", fmt,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        if fmt == "raven":
            boxes = crowsetta.formats.bbox.Raven.from_file(tmp_path / name).to_bbox()
            got = [b.label for b in boxes], [b.onset for b in boxes], [b.offset for b in boxes]
            assert {(b.low_freq, b.high_freq) for b in boxes} == {tuple(map(float, SPECT_PARAMS["freq_cutoffs"]))}
        else:
            textgrid = crowsetta.formats.seq.TextGrid.from_file(tmp_path / name)
            seq = textgrid.to_seq(round_times=False)
            got = list(seq.labels), seq.onsets_s, seq.offsets_s
            assert textgrid.xmax == pytest.approx(len(samples) / rate, abs=1e-6)
        assert got[0] == list(names) and len(names) > 3
        np.testing.assert_allclose(got[1], onsets, atol=2e-5)
        np.testing.assert_allclose(got[2], offsets, atol=2e-5)


def test_a_centred_model_is_one_line_naming_the_keys_to_set(tmp_path, capsys):
    """Live needs a bounded look-ahead: a centred model is refused in one line naming causal and lookahead."""
    centred = make_predict_config(tmp_path, network={**SMALL_TCN, "causal": False})
    proc = cli_in_process(capsys, "live", centred, "--simulate", BOUT, "--speed", "0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "set causal = true in the network table (and lookahead = N" in proc.stderr
