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

from conftest import REAL_BOUT, console_script, run_cli, vak_env

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "inference"))
from helpers_inference import make_predict_config, whole_file_reference  # noqa: E402

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


def test_user_mistakes_are_one_line_errors(config, capsys):
    """In-process (``vak_tcn.cli.main``): an exception escaping it would fail the test, so no traceback;
    and none printed."""
    from vak_tcn import cli

    status = cli.main(["live", str(config), "--stdin"])
    stderr = capsys.readouterr().err
    assert status == 2 and "--rate" in stderr and "Traceback" not in stderr, stderr
    status = cli.main(["live", str(config), "--simulate", str(BOUT), "--trigger", "zz", "--fifo", "/dev/null"])
    stderr = capsys.readouterr().err
    assert status == 2 and "'zz'" in stderr and "Traceback" not in stderr, stderr


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
    again.  Now each stretch of NaN/inf samples (one spanning two pushes included) is one line with
    its count, the samples are silence, and the events are those of the same audio with zeros there."""
    samples, rate = soundfile.read(BOUT)
    bad, zeros = samples.copy(), samples.copy()
    stretches = {(1000, 1003): np.nan, (2040, 2060): np.nan, (20000, 20002): np.inf}  # 2048: a push boundary
    for (a, b), value in stretches.items():
        bad[a:b], zeros[a:b] = value, 0.0
    bad[20001] = -np.inf
    for name, audio in (("bad.wav", bad), ("zeros.wav", zeros)):
        soundfile.write(tmp_path / name, audio, rate, subtype="DOUBLE")
    status, stdout, stderr = live([config, "--simulate", tmp_path / "bad.wav", "--speed", "0", "--hop", "16"])
    assert status == 0, stderr
    reports = [line for line in stderr.splitlines() if "non-finite sample(s) (NaN or inf) from" in line]
    assert [line.split(" non-finite")[0] for line in reports] == [
        "vak-tcn live: 3",
        "vak-tcn live: 20",
        "vak-tcn live: 2",
    ]
    assert f"from {1000 / rate:.4f} s" in reports[0] and f"from {2040 / rate:.4f} s" in reports[1]
    assert "25 non-finite sample(s) in 3 stretch(es) replaced by silence" in stderr
    status, expected, _ = live([config, "--simulate", tmp_path / "zeros.wav", "--speed", "0", "--hop", "16"])
    assert events_of(stdout) == events_of(expected) and len(events_of(expected)) > 40


def test_a_reference_that_is_silent_non_finite_or_at_another_rate_is_refused(config, tmp_path):
    samples, rate = soundfile.read(BOUT)
    silent, nan, other_rate = tmp_path / "silent.wav", tmp_path / "nan.wav", tmp_path / "32k.wav"
    soundfile.write(silent, np.zeros(rate), rate)
    soundfile.write(nan, np.where(np.arange(len(samples)) == 500, np.nan, samples), rate, subtype="DOUBLE")
    soundfile.write(other_rate, samples[:32000], 32000)
    for reference, says in ((silent, "silent"), (nan, "non-finite sample"), (other_rate, "sample rate 32000 Hz")):
        status, _, stderr = live([config, "--simulate", BOUT, "--speed", "0", "--reference", reference])
        line = one_line_error(status, stderr)
        assert f"--reference {reference}: " in line and says in line, line


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
        (["--stdin", "--rate", "44100", "--channels", "0"], "--channels must be at least 1, got 0"),
        (["--stdin", "--rate", "44100", "--channels", "2", "--channel", "2"], "--channel 2 out of range"),
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
def test_sigterm_ends_the_session_with_its_annotation_written(config, bout32, tmp_path):
    wav, samples, rate, events = bout32
    annot = tmp_path / "session.csv"
    live_process = LiveProcess(
        [config, "--stdin", "--rate", rate, "--dtype", "float32", "--hop", "16", "--annot-out", annot],
        tmp_path / "stderr.txt",
    )
    live_process.feed(samples[: 4 * rate].tobytes())  # 4 s, then nothing more: live waits for audio
    live_process.read_lines()
    got = []
    while not got or got[-1]["time"] < 2.0:  # syllables up to 2 s are out
        got.append(live_process.lines.get(timeout=300))
    live_process.proc.send_signal(signal.SIGTERM)
    status, stderr = live_process.wait(timeout=120)
    while (event := live_process.lines.get(timeout=10)) is not None:
        got.append(event)
    assert status == 143 and "terminated (SIGTERM)" in stderr and "Traceback" not in stderr, stderr
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
        [config, "--stdin", "--rate", rate, "--dtype", "float32", "--hop", "16", "--annot-out", annot],
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
