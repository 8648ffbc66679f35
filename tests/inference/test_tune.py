"""``vak-tcn tune`` on a briefly trained model (validation split only) and ``annotate`` using its settings."""

from __future__ import annotations

import json
import shutil

import crowsetta
import numpy as np
import pandas as pd
import pytest
import soundfile
import tomlkit

from vak_tcn.experiments import configs

from helpers.cli import run_cli
from helpers.data import REAL_BOUT
from helpers.inference import make_predict_config

NETWORK = {"out_channels": 8, "num_layers": 3, "kernel_size": 3, "causal": False}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, real_bout_trained):
    """The real bout's TCN (stock vak train, 10 steps; shared with tests/test_e2e.py), its results and
    prepared dataset copied; every file outside the val split removed from the copy; then tune."""
    shared = real_bout_trained("TCN")
    # vak train itself tuned the clean-up when training ended (the family's on_fit_end)
    (after_training,) = sorted(shared["run_dir"].rglob("postprocess.json"))
    after_training = dict(path=after_training, doc=json.loads(after_training.read_text()), log=shared["log"])
    tmp = tmp_path_factory.mktemp("tune")
    run_dir = shutil.copytree(shared["run_dir"], tmp / "results" / shared["run_dir"].name)
    (config,) = run_dir.glob("*.toml")  # the config vak copied into the results
    dataset = shutil.copytree(configs.dataset_path(config), tmp / "prep" / "dataset")
    doc = tomlkit.parse(config.read_text())
    doc["vak"]["train"]["dataset"]["path"] = str(dataset)
    config.write_text(tomlkit.dumps(doc))
    metadata = json.loads((dataset / "metadata.json").read_text())
    df = pd.read_csv(dataset / metadata["dataset_csv_filename"])
    assert {"train", "val", "test"} <= set(df["split"])
    # tune must not need anything but the val split: the other splits' files are gone
    for _, row in df[df["split"] != "val"].iterrows():
        (dataset / row["frames_path"]).unlink()
        (dataset / row["multi_frame_labels_path"]).unlink()
    proc = run_cli(["vak-tcn", "tune", tmp / "results"])
    return dict(tmp=tmp, dataset=dataset, df=df, proc=proc, after_training=after_training)


@pytest.mark.slow
def test_vak_train_tunes_the_clean_up_when_training_ends(trained):
    """Stock `vak train`: postprocess.json beside the checkpoint vak evaluates, tuned on the val split."""
    from vak_tcn.models.family import checkpoint_vak_evaluates

    path, doc = trained["after_training"]["path"], trained["after_training"]["doc"]
    assert path.parent.name == "checkpoints"
    assert doc["checkpoint"] == checkpoint_vak_evaluates(path.parent).name
    assert doc["tuned_by"] == "vak-tcn, after training" and doc["split"] == "val"
    assert doc["n_files"] == int((trained["df"]["split"] == "val").sum())
    assert len(doc["settings_tried"]) == 100  # the default grid: no clean-up is in it; no post_tfm_kwargs
    assert_one_se_choice(doc)
    log = trained["after_training"]["log"]
    assert "clean-up tuned on" in log and "validation character error rate raw " in log
    assert "one-standard-error over files" in log
    assert ("too few to tell settings apart" in log) == (doc["n_files"] <= 2)


def assert_one_se_choice(doc: dict) -> None:
    """postprocess.json's ``choice`` agrees with the one-standard-error rule, recomputed from its per-file
    character error rates: the chosen setting within one SE of the lowest mean, no worse than raw."""
    choice, cers = doc["choice"], [r["character_error_rate"] for r in doc["settings_tried"]]
    assert doc["format_version"] == 2 and choice["rule"] == "one-standard-error over files"
    assert choice["n_files"] == doc["n_files"] and choice["fixed"] is None
    chosen = doc["best_scores"]["character_error_rate"]
    assert choice["validation_cer"]["chosen"] == chosen <= choice["validation_cer"]["raw"]
    assert choice["validation_cer"]["lowest"] == min(cers)
    assert choice["gain"]["over_raw"] == pytest.approx(choice["validation_cer"]["raw"] - chosen)
    diff = np.array(choice["file_cer"]["chosen"]) - np.array(choice["file_cer"]["lowest"])
    se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else 0.0
    assert choice["margin"] == pytest.approx(diff.mean(), abs=1e-12) and choice["se"] == pytest.approx(se)
    assert choice["margin"] <= se + 1e-12
    if choice["lowest"] is not None:  # the chosen one is not the lowest mean
        assert choice["lowest"]["character_error_rate"] == min(cers)
    # the stored choice is a setting that was tried
    (best,) = [r for r in doc["settings_tried"] if all(r[k] == v for k, v in doc["best"].items())]
    assert best["character_error_rate"] == chosen


@pytest.mark.slow
def test_vak_train_records_the_reference_level_for_live_when_training_ends(real_bout_trained):
    """Stock `vak train`: reference_power.json beside the checkpoints, the median over the training split's
    audio of each file's maximum power, as `vak-tcn live --reference FILE` measures a file's."""
    from vak_tcn.inference.spectrogram import SpectParams
    from vak_tcn.live.stream import reference_power_of
    from vak_tcn.plugins import vak_compat

    shared = real_bout_trained("TCN")
    (path,) = sorted(shared["run_dir"].rglob("reference_power.json"))
    doc = json.loads(path.read_text())
    (config,) = shared["run_dir"].glob("*.toml")
    sources = sorted({s for _, s in vak_compat.prepared_split_sources(configs.dataset_path(config), "train")})
    peaks = [reference_power_of(source, SpectParams.from_vak(configs.DEFAULT_SPECT_PARAMS)) for source in sources]
    assert path.parent.name == "checkpoints" and doc["written_by"] == "vak-tcn, after training"
    assert doc["reference_power"] == pytest.approx(np.median(peaks), rel=1e-6) and doc["n_files"] == len(sources)
    assert "reference level for vak-tcn live" in shared["log"]


@pytest.mark.slow
def test_tune_writes_settings_beside_the_checkpoint_from_the_val_split_only(trained):
    (stored,) = sorted((trained["tmp"] / "results").rglob("postprocess.json"))
    assert stored.parent.name == "checkpoints"
    assert (stored.parent / "max-val-acc-checkpoint.pt").exists() or (stored.parent / "checkpoint.pt").exists()
    doc = json.loads(stored.read_text())
    n_val = int((trained["df"]["split"] == "val").sum())
    assert doc["split"] == "val" and doc["n_files"] == n_val and doc["tuned_by"] == "vak-tcn tune"
    assert len(doc["settings_tried"]) == 100
    # no clean-up is always among the settings tried (so tuning can choose to change nothing)
    assert any(not (r["min_segment_dur"] or r["min_gap_dur"] or r["majority_vote"]) for r in doc["settings_tried"])
    assert_one_se_choice(doc)
    assert (stored.parent / "postprocess.png").stat().st_size > 1000
    out = trained["proc"].stdout
    assert "chosen: " in out and "raw (none)" in out and "CHOSEN" in out and f"on {n_val} validation file" in out
    assert "by one-standard-error over files" in out and "validation character error rate: raw " in out
    assert ("warning: clean-up tuned on" in out) == (n_val <= 2)


@pytest.mark.slow
def test_tune_reads_the_validation_frames_and_nothing_else(trained):
    from vak_tcn.inference import tune

    (run,) = tune.find_runs(trained["tmp"] / "results")
    data = tune.validation_predictions(run, echo=lambda *a: None)
    df = trained["df"]
    assert sorted(data["files"]) == sorted(str(trained["dataset"] / p) for p in df[df["split"] == "val"]["frames_path"])
    assert [len(p) for p in data["predictions"]] == [len(r) for r in data["references"]]


def test_tune_names_a_directory_without_checkpoints(tmp_path, capsys):
    from vak_tcn import cli

    assert cli.main(["tune", str(tmp_path)]) == 2  # in-process: the CLI path without a new interpreter
    err = capsys.readouterr().err
    assert err.startswith("vak-tcn tune: error: no checkpoint") and str(tmp_path) in err
    assert cli.main(["tune", str(tmp_path), "--min-gap-dur", "0,-0.002"]) == 2
    assert "--min-gap-dur: durations >= 0" in capsys.readouterr().err


def test_annotate_uses_the_tuned_settings_beside_the_checkpoint(tmp_path):
    """No clean-up in the predict config + postprocess.json beside the checkpoint: annotate applies it."""
    from vak_tcn.inference.annotate import Annotator, Options
    from vak_tcn.models.cleanup import Settings, clean
    from vak_tcn.plugins import vak_compat

    config = make_predict_config(tmp_path, network=NETWORK, post_tfm_kwargs=None)
    checkpoint = config.parent / "checkpoint.pt"
    tuned = Settings(min_segment_dur=0.012, min_gap_dur=0.02, majority_vote=True)
    (checkpoint.parent / "postprocess.json").write_text(json.dumps({"best": tuned.asdict()}))
    bout, rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    audio = tmp_path / "bout.wav"
    soundfile.write(audio, bout, rate)
    proc = run_cli(["vak-tcn", "annotate", config, audio, "--out", tmp_path / "out", "--probabilities"])
    # no clean-up key in the config: exactly the tuned settings (issue 37), nothing after them
    assert f"clean-up: {tuned.describe()}; from tuned ({checkpoint.parent / 'postprocess.json'})\n" in proc.stdout
    (annot,) = crowsetta.Transcriber(format="generic-seq").from_file(tmp_path / "out" / "bout.wav.annot.csv").to_annot()

    # the reference: the network's own frame labels (argmax of the saved probabilities), the
    # tuned clean-up on the whole vector, vak's to_segments
    saved = np.load(tmp_path / "out" / "bout.wav.probabilities.npz")
    raw, times = saved["probabilities"].argmax(0), saved["frame_times"]
    _, to_segments, timebin_dur_from_vec = vak_compat.frame_labels_functions()
    labelmap = json.loads((config.parent / "labelmap.json").read_text())
    labels = clean(raw, timebin_dur_from_vec(times), tuned, background=0)
    names, onsets, offsets = to_segments(labels, labelmap=labelmap, frame_times=times)
    assert len(names) < len(to_segments(raw, labelmap=labelmap, frame_times=times)[0])  # clean-up did something
    assert not np.array_equal(labels, clean(raw, timebin_dur_from_vec(times), Settings(0.012, 0.0, True)))  # gaps too
    assert list(annot.seq.labels) == list(names)
    np.testing.assert_allclose(annot.seq.onsets_s, onsets, atol=1e-9)
    np.testing.assert_allclose(annot.seq.offsets_s, offsets, atol=1e-9)

    # auto/tuned: clean-up keys written in the config apply after the tuned clean-up (as vak predict applies
    # them after the model), with both settings' validation scores; config: the config's alone; none; the
    # mode from the environment and the network table
    from vak_tcn.models.cleanup import then

    explicit = make_predict_config(tmp_path / "explicit", network=NETWORK)  # min_segment_dur 0.01, majority vote
    loose = Settings(min_segment_dur=0.004, min_gap_dur=0.02, majority_vote=False)
    both = Settings(min_segment_dur=0.01, min_gap_dur=0.02, majority_vote=True)
    tried = [{**loose.asdict(), "character_error_rate": 0.069}, {**both.asdict(), "character_error_rate": 0.145}]
    (explicit.parent / "postprocess.json").write_text(json.dumps({"best": loose.asdict(), "settings_tried": tried}))
    a = Annotator(explicit)
    assert a.cleanup == then(loose, Settings(min_segment_dur=0.01, majority_vote=True)) == both
    assert "tuned (" in a.cleanup_source and "then the config's (majority_vote, min_segment_dur" in a.cleanup_source
    assert "validation character error rate 0.1450 against 0.0690 for the tuned clean-up alone" in a.cleanup_source
    # the same tuned settings, no clean-up key in the config: the tuned settings alone (not followed by
    # vak predict's default majority vote, which the line names)
    unsaid = make_predict_config(tmp_path / "unsaid", network=NETWORK, post_tfm_kwargs=None)
    (unsaid.parent / "postprocess.json").write_text(json.dumps({"best": loose.asdict()}))
    assert Annotator(unsaid).cleanup == loose
    assert "stock vak predict would add its default" in Annotator(unsaid).cleanup_source
    assert Annotator(explicit, Options(cleanup="tuned")).cleanup == a.cleanup
    assert Annotator(explicit, Options(cleanup="config")).cleanup == Settings(min_segment_dur=0.01, majority_vote=True)
    assert Annotator(config, Options(cleanup="config")).cleanup == Settings(majority_vote=True)  # vak's default
    assert Annotator(config, Options(post_processing=False)).cleanup == Settings()
    assert Annotator(config, Options(cleanup="none")).cleanup == Settings()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAK_TCN_POST_PROCESSING", "config")
        a = Annotator(explicit)
        assert a.cleanup == Settings(min_segment_dur=0.01, majority_vote=True)
        assert "VAK_TCN_POST_PROCESSING" in a.cleanup_source
        assert Annotator(explicit, Options(cleanup="auto")).cleanup == then(loose, a.cleanup)  # the option wins
    in_table = make_predict_config(tmp_path / "in-table", network={**NETWORK, "post_processing": "none"})
    (in_table.parent / "postprocess.json").write_text(json.dumps({"best": loose.asdict()}))
    assert Annotator(in_table).cleanup == Settings() and "the network table" in Annotator(in_table).cleanup_source
    (checkpoint.parent / "postprocess.json").unlink()
    assert "vak's defaults (no postprocess.json" in Annotator(config).cleanup_source
    with pytest.raises(FileNotFoundError, match="vak-tcn tune"):
        Annotator(config, Options(cleanup="tuned"))


def test_find_runs_in_vak_learncurve_layout(tmp_path):
    """One run per checkpoints directory; max-val-acc preferred; the config vak copied to the top."""
    from vak_tcn.inference import tune

    results = tmp_path / "results_261126_010203"
    (results / "learncurve.toml").parent.mkdir(parents=True)
    (results / "learncurve.toml").write_text("")
    first = results / "train_dur_4s" / "replicate_1" / "TCN" / "checkpoints"
    second = results / "train_dur_4s" / "replicate_2" / "TCN" / "checkpoints"
    for ckpt_dir, names in ((first, ["checkpoint.pt", "max-val-acc-checkpoint.pt"]), (second, ["checkpoint.pt"])):
        ckpt_dir.mkdir(parents=True)
        for name in names:
            (ckpt_dir / name).write_bytes(b"")
    runs = tune.find_runs(results)
    assert [r.checkpoint for r in runs] == [first / "max-val-acc-checkpoint.pt", second / "checkpoint.pt"]
    assert [r.run_dir for r in runs] == [first.parent.parent, second.parent.parent]
    assert {r.config for r in runs} == {results / "learncurve.toml"}
    assert [r.checkpoint for r in tune.find_runs(results, "checkpoint.pt")] == [
        first / "checkpoint.pt",
        second / "checkpoint.pt",
    ]
    (results / "learncurve.toml").unlink()
    with pytest.raises(FileNotFoundError, match=r"no vak config \(\*\.toml\)"):
        tune.find_runs(results)


# ---- the choice as vak-tcn tune prints and draws it, and the config's clean-up of a training run ------
FD = 0.002


def song(n_short: int, n_blips: int) -> tuple[np.ndarray, np.ndarray]:
    """10 reference syllables, ``n_short`` of them 2 frames long (predicted right), the others 10; the
    prediction adds ``n_blips`` 1-frame blips in the gaps (tests/models/test_postprocess.py's ``song``).
    Raw CER n_blips / 10; min_segment_dur 5 ms: n_short / 10."""
    ref, pred = [0] * 5, [0] * 5
    for i in range(10):
        syllable = [4] * 2 if i < n_short else [1 + i % 2] * 10
        ref += syllable + [0] * 6
        pred += syllable + ([0, 0, 3, 0, 0, 0] if i < n_blips else [0] * 6)
    return np.array(pred), np.array(ref)


def hand_computed_result(fixed=None):
    """Files (short syllables, blips) (0, 3), (2, 0), (1, 0), (0, 1): raw mean 0.1; min_segment_dur 5 ms
    0.075, the lowest, but raw is within one SE (0.1109) of it: raw chosen (or the config's ``fixed``
    clean-up, when it is no worse than raw)."""
    from vak_tcn.models import cleanup as pp

    preds, refs = zip(*(song(*f) for f in ((0, 3), (2, 0), (1, 0), (0, 1))))
    return pp.tune(list(preds), list(refs), FD, [pp.Settings(min_segment_dur=0.005)], fixed=fixed)


def test_the_table_and_figure_mark_raw_fixed_lowest_and_chosen(tmp_path):
    from vak_tcn.inference import tune
    from vak_tcn.models.cleanup import Settings

    result = hand_computed_result()
    lines = tune.table(result).splitlines()
    assert lines[0].split() == "min_gap_dur min_seg_dur majority CER -lowest SE frame err bnd F".split()
    # ordered by CER: the lowest (min_segment_dur 5 ms), then raw: within one SE of it, chosen
    assert [line[:18].strip() for line in lines[1:]] == ["lowest", "raw (none), CHOSEN"]
    assert lines[2][18:].split()[3:6] == ["0.1000", "0.0250", "0.1109"]  # CER, above the lowest, SE
    assert tune.gains_text(result) == (
        "validation character error rate: raw 0.1000 -> 0.1000 (gain 0.0000); no config's clean-up (no post_tfm_kwargs)"
    )
    assert "margin" not in result.how_chosen() and "0.0250 lower, SE 0.1109" in result.how_chosen()
    # with the config's clean-up (the same CER as the lowest): it comes first, and is chosen
    result = hand_computed_result(fixed=Settings(0.010, 0.0, True))
    lines = tune.table(result).splitlines()
    assert [line[:18].strip() for line in lines[1:]] == ["lowest", "config's, CHOSEN", "raw (none)"]
    assert lines[3][18:].split()[3:6] == ["0.1000", "0.0250", "0.1109"]
    assert tune.gains_text(result) == (
        "validation character error rate: raw 0.1000 -> 0.0750 (gain 0.0250); config's 0.0750 -> 0.0750 (gain 0.0000)"
    )
    figure = tune.write_figure(result, tmp_path / "postprocess.png", title="checkpoint.pt")
    assert figure.stat().st_size > 1000


def test_tune_prints_the_gain_of_each_replicate(tmp_path, monkeypatch, capsys):
    """``vak-tcn tune`` on a learncurve directory: one line per replicate, raw and the config's -> chosen."""
    import argparse

    from vak_tcn.inference import tune
    from vak_tcn.models.cleanup import Settings

    root = tmp_path / "results"
    runs = [
        tune.TrainedRun(root / f"train_dur_4s/replicate_{i}/TCN/checkpoints/checkpoint.pt", root, root / "a.toml")
        for i in (1, 2)
    ]
    results = iter([hand_computed_result(), hand_computed_result(fixed=Settings(0.010, 0.0, True))])
    monkeypatch.setattr(tune, "find_runs", lambda *a: runs)
    monkeypatch.setattr(tune, "tune_run", lambda run, settings: next(results))
    root.mkdir()
    args = argparse.Namespace(
        results_dir=root, checkpoint=None, min_segment_dur=None, min_gap_dur=None, majority_vote="both"
    )
    assert tune.main_tune(args) == 0
    out = capsys.readouterr().out
    assert "train_dur_4s/replicate_1/TCN/checkpoints: raw 0.1000 -> 0.1000 (gain 0.0000; 4 files): none" in out
    assert (
        "replicate_2/TCN/checkpoints: raw 0.1000, config's 0.0750 -> 0.0750 (gain 0.0250, 0.0000; 4 files): "
        "min_gap_dur=0 s, min_segment_dur=0.01 s, majority_vote=true" in out
    )


@pytest.mark.parametrize("learncurve", [False, True])
def test_the_configs_clean_up_when_training_ends(tmp_path, learncurve):
    """The family reads the config's post_tfm_kwargs from the config vak copied into the results, in
    vak train's and vak learncurve's layouts; vak's post-processing of the model, when it has one, first."""
    import types

    from vak_tcn.models.cleanup import Settings
    from vak_tcn.models.family import FrameClassificationModel

    results = tmp_path / "results_261126_010203"
    run_dir = results / "train_dur_4s" / "replicate_1" if learncurve else results
    ckpt = run_dir / "TCN" / "checkpoints" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    model = types.SimpleNamespace(_config_tfm=None)
    assert FrameClassificationModel._fixed_cleanup(model, ckpt) is None  # no config
    (tmp_path / "elsewhere.toml").write_text("[vak.eval]\npost_tfm_kwargs = {min_segment_dur = 0.5}\n")
    assert FrameClassificationModel._fixed_cleanup(model, ckpt) is None  # not above the results directory
    (results / "learncurve.toml").write_text(
        "[vak.learncurve]\npost_tfm_kwargs = {majority_vote = true, min_segment_dur = 0.02}\n"
    )
    assert FrameClassificationModel._fixed_cleanup(model, ckpt) == Settings(0.02, 0.0, True)
    (results / "learncurve.toml").write_text("[vak.learncurve]\npost_tfm_kwargs = {min_gap_dur = 0.02}\n")
    assert FrameClassificationModel._fixed_cleanup(model, ckpt) is None  # a warning in vak's log
    vak_postprocess = types.SimpleNamespace(min_segment_dur=None, majority_vote=True)
    assert FrameClassificationModel._fixed_cleanup(types.SimpleNamespace(_config_tfm=vak_postprocess), ckpt) == (
        Settings(0.0, 0.0, True)
    )


def test_tune_refuses_a_bad_grid_option_before_loading_vak(tmp_path):
    """`vak-tcn tune DIR --min-segment-dur abc`: one line, exit 2, before vak is imported (issue 37: it took
    8-9 s, vak's import, to say so)."""
    import subprocess
    import sys

    from helpers.cli import vak_env

    script = (
        "import sys; from vak_tcn import cli; status = cli.main(sys.argv[1:]); "
        "print('vak imported' if 'vak' in sys.modules else 'vak not imported'); sys.exit(status)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "tune", str(tmp_path), "--min-segment-dur", "abc"],
        capture_output=True, text=True, timeout=120, env=vak_env(),
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout.strip() == "vak not imported", proc
    assert (
        proc.stderr.strip() == "vak-tcn tune: error: --min-segment-dur: comma-separated durations in seconds, got 'abc'"
    )
