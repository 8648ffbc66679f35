"""The tests' data: the real Bengalese finch bout (tests/data) and the configs of the synthetic song
and of the real bout, prepared by stock ``vak prep`` (the session fixtures in tests/conftest.py
call these once)."""

from __future__ import annotations

import pathlib

from helpers.cli import run_cli

DATA = pathlib.Path(__file__).parents[1] / "data"
REAL_BOUT = DATA / "bengalese-finch-bout"


def learncurve_kwargs(tmp_path: pathlib.Path, song_dir: pathlib.Path, **overrides) -> dict:
    """``configs.vak_config`` arguments of a tiny learncurve on the generated song (4 s train, 2 s val
    and test, one 3-s replicate, window 64), with ``overrides`` on top."""
    kwargs = dict(
        command="learncurve",
        model="TCN",
        data_dir=song_dir,
        prep_output_dir=tmp_path / "prep",
        results_dir=tmp_path / "results",
        labelset="abcd",
        train_dur=4,
        val_dur=2,
        test_dur=2,
        train_set_durs=[3],
        num_replicates=1,
        window_size=64,
        batch_size=8,
        val_step=10,
        ckpt_step=10,
    )
    kwargs.update(overrides)
    return kwargs


def audacity_copy(song_dir: pathlib.Path, folder: pathlib.Path, drop=()) -> pathlib.Path:
    """``song_dir``'s recordings in ``folder`` with their annotations as Audacity exports labels:
    ``bout_000.txt`` (onset, offset, label; tab-separated), none for the stems in ``drop``."""
    import shutil

    import pandas as pd

    folder.mkdir(parents=True)
    for wav in sorted(song_dir.glob("*.wav")):
        shutil.copy(wav, folder / wav.name)
        if wav.stem in drop:
            continue
        segments = pd.read_csv(wav.with_name(wav.name + ".csv"))
        rows = zip(segments.onset_s, segments.offset_s, segments.label)
        (folder / f"{wav.stem}.txt").write_text("".join(f"{a:.6f}\t{b:.6f}\t{lab}\n" for a, b, lab in rows))
    return folder


def prep_once(tmp_path_factory, name: str, **kwargs) -> pathlib.Path:
    """One stock ``vak prep`` of a config made of ``configs.vak_config(**kwargs)``; the dataset's path."""
    from vak_tcn.experiments import configs

    tmp = tmp_path_factory.mktemp(name)
    cfg = configs.write_config(configs.vak_config(prep_output_dir=tmp / "prep", **kwargs), tmp / "prep.toml")
    run_cli(["vak", "prep", cfg])
    dataset = configs.dataset_path(cfg)
    assert dataset is not None and dataset.is_dir()  # vak prep wrote the dataset into the config
    return dataset


# ---- the real bout: prepared and trained once, shared by test_e2e.py and the tune tests --------

REAL_LABELS = "abcdefghijkn"
SMALL_TCN = {"out_channels": 16, "num_layers": 4}
GS_TMSE = {"tmse_weight": 0.15, "similarity": "gaussian", "sigma": 1.0, "normalize": "none"}
#: every model through every stock command, each with another network / loss variant
REAL_BOUT_RUNS = [
    ("TCN", SMALL_TCN, GS_TMSE),
    ("ConvTCN", {**SMALL_TCN, "causal": False, "conv1_filters": 8, "conv2_filters": 8},
     {"tmse_weight": 0.15, "similarity": "none"}),
    ("TweetyNetPlugin", {"hidden_size": 16, "conv1_filters": 8, "conv2_filters": 8},
     {**GS_TMSE, "normalize": "dim"}),
]  # fmt: skip
#: settings of a model's `vak train` in real_bout_trained, beyond the step cap: ConvTCN's run also proves
#: that a stock run records VAK_TCN_TUNE and VAK_TCN_POST_PROCESSING in its provenance (tests/test_e2e.py).
#: Not the TCN's: the tune tests use the clean-up its training tunes. POST_PROCESSING changes nothing in
#: training (eval and predict, in their own processes, do not inherit it)
REAL_BOUT_TRAIN_ENV = {"ConvTCN": {"VAK_TCN_TUNE": "0", "VAK_TCN_POST_PROCESSING": "config"}}


def real_bout_config(tmp_path: pathlib.Path, command: str, **kwargs) -> pathlib.Path:
    """A stock vak config for the real bout (.not.mat annotation), ``command``'s table."""
    from vak_tcn.experiments import configs

    kwargs = {"data_dir": REAL_BOUT, "prep_output_dir": tmp_path / f"prep-{command}", **kwargs}
    return configs.write_config(
        configs.vak_config(
            command=command, labelset=REAL_LABELS, annot_format="notmat", window_size=176, batch_size=4, **kwargs
        ),
        tmp_path / f"{command}.toml",
    )
