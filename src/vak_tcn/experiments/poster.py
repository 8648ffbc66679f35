"""The SfN 2023 poster's experiment grid, as stock vak configs.

:func:`poster_grid` writes the grid from one template (:func:`vak_tcn.experiments.configs.vak_config`):
every model of the catalogue x window sizes 64, 176, 1000, 2000, 4000 with cross-entropy, plus
the loss experiment (CE+TMSE, CE+GS-TMSE) at window 2000, plus the stage experiment (not the
poster's; docs/models.md): every TCN model with 1-4 stages (MS-TCN refinement, its default stage
keys), causal (the poster's setting) and centred, at window 2000 with cross-entropy.  :data:`LOSSES` and
:func:`loss_label` are the poster's loss labels, used by the summary and the figures too.
"""

from __future__ import annotations

import pathlib

import tomlkit

from ..models import catalogue
from . import configs

WINDOW_SIZES = (64, 176, 1000, 2000, 4000)
#: the baseline loss of the window-size experiment
BASELINE_LOSS = "CE"
#: loss label (the poster's) -> loss table
LOSSES = {
    "CE": {"tmse_weight": 0.0},
    "CE+TMSE": {"tmse_weight": 0.15, "tmse_threshold": 4.0, "similarity": "none"},
    "CE+gsTMSE": {"tmse_weight": 0.15, "tmse_threshold": 4.0, "similarity": "gaussian", "sigma": 1.0},
}
LOSS_WINDOW = 2000
#: the stage experiment: numbers of stages, at LOSS_WINDOW with the baseline loss, causal and centred
STAGE_COUNTS = (1, 2, 3, 4)
#: the network table of every catalogue model with the TCN's parameters (``uses_tcn``)
TCN_NETWORK = {"out_channels": 64, "num_layers": 8, "kernel_size": 2, "dropout": 0.2, "causal": True}
#: the network tables of the poster's other networks, by the catalogue's ``network``
#: (the poster's TweetyNet configs set ``[TweetyNet.network] hidden_size = 256``)
OTHER_NETWORKS = {"vak.nets:TweetyNet": {"hidden_size": 256}}
#: Adam's learning rate in the poster's runs.  The poster's TOML files say ``lr = 0.001``, but
#: its training code (``framenets/model.py``, called by its ``src/scripts/learncurve.py`` for every
#: model) never reads the optimizer table and builds ``torch.optim.Adam(lr=0.003)``.
LEARNING_RATE = 0.003
LR_NOTE = (
    f"Adam lr {LEARNING_RATE}: what produced the poster's numbers. The poster's own TOML files say\n"
    "lr = 0.001, but its training code (framenets/model.py) never read them: it builds\n"
    f"torch.optim.Adam(lr={LEARNING_RATE}) for every model."
)


def _lr_item() -> tomlkit.items.Float:
    """The learning rate, with a comment pointing to the header's explanation."""
    item = tomlkit.item(LEARNING_RATE).comment("what the poster's training code used; see the top of the file")
    item.trivia.comment_ws = "  "
    return item


def poster_network(model: str) -> dict | None:
    """The poster's network table for a catalogue model (None: the network's defaults)."""
    entry = catalogue.get(model)
    if entry.uses_tcn:
        return dict(TCN_NETWORK)
    network = OTHER_NETWORKS.get(entry.network)
    return dict(network) if network is not None else None


def loss_label(loss_table: dict | None) -> str:
    """The poster's label of a loss table: CE, CE+TMSE or CE+gsTMSE (no table: CE)."""
    loss_table = loss_table or {}
    if float(loss_table.get("tmse_weight", 0.0)) == 0:
        return "CE"
    return "CE+gsTMSE" if loss_table.get("similarity", "none") == "gaussian" else "CE+TMSE"


def loss_slug(label: str) -> str:
    """A loss label as it appears in file names: CE, CE-TMSE, CE-GS-TMSE."""
    return label.replace("+", "-").replace("gsTMSE", "GS-TMSE")


def stage_variants() -> list[dict]:
    """The stage experiment's network keys beyond the poster's table: each of :data:`STAGE_COUNTS`
    causal (the poster's) and centred; the poster's own run (causal, one stage) is left out."""
    variants = []
    for causal in (True, False):
        for stages in STAGE_COUNTS:
            variant = ({} if causal else {"causal": False}) | ({"stages": stages} if stages > 1 else {})
            if variant:
                variants.append(variant)
    return variants


def variant_slug(variant: dict) -> str:
    """A stage-experiment variant as it appears in file names: ``_stages3``, ``_centred_stages3``."""
    causal = "_centred" if variant.get("causal", True) is False else ""
    stages = f"_stages{variant['stages']}" if variant.get("stages", 1) > 1 else ""
    return causal + stages


def variant_text(variant: dict) -> str:
    causal = "causal" if variant.get("causal", True) else "centred"
    return f"{causal}, {variant.get('stages', 1)} stage(s)"


#: the poster's dataset: BFSongRepo-style .cbin audio + .not.mat annotations, 30 min of training
#: song, 5 replicates (keys of :func:`vak_tcn.experiments.configs.vak_config`)
POSTER_DATASET = {
    "annot_format": "notmat",
    "audio_format": "cbin",
    "train_dur": 1800,
    "val_dur": 80,
    "test_dur": 400,
    "num_replicates": 5,
    "spect_params": None,
}
#: the poster's training settings
POSTER_TRAINING = {
    "batch_size": 16,
    "num_epochs": 15,
    "val_step": 1000,
    "ckpt_step": 500,
    "patience": 4,
    "num_workers": 4,
}


def poster_grid(
    out_dir: str | pathlib.Path,
    *,
    data_dir: str | pathlib.Path,
    labelset: str,
    prep_dir: str | pathlib.Path | None = None,
    results_dir: str | pathlib.Path | None = None,
    accelerator: str = "gpu",
    **dataset,
) -> list[pathlib.Path]:
    """Write the poster's grid of learncurve configs to ``out_dir``; return their paths.

    ``dataset`` overrides keys of :data:`POSTER_DATASET` (e.g. ``audio_format="wav"``).
    Settings are the poster's: :data:`POSTER_TRAINING` (batch 16, 15 epochs, val_step 1000,
    ckpt_step 500, patience 4), Adam lr 0.003 (:data:`LEARNING_RATE`: what its training code
    used, not the 0.001 of its TOML files), TCN out_channels 64 / kernel_size 2 / num_layers 8,
    TweetyNet hidden_size 256 (:func:`poster_network`), post-processing majority vote
    + min_segment_dur 0.01, learning curve at ``train_dur`` seconds x ``num_replicates``.
    """
    unknown = sorted(set(dataset) - set(POSTER_DATASET))
    if unknown:
        raise TypeError(f"poster_grid() got unknown dataset setting(s) {unknown}; valid: {sorted(POSTER_DATASET)}")
    dataset = {**POSTER_DATASET, **dataset}
    out_dir = pathlib.Path(out_dir)
    prep_dir = pathlib.Path(prep_dir) if prep_dir is not None else out_dir / "prep"
    results_dir = pathlib.Path(results_dir) if results_dir is not None else out_dir / "results"
    models = [entry.name for entry in catalogue.MODELS]
    runs = [(m, w, BASELINE_LOSS, {}) for m in models for w in WINDOW_SIZES]
    runs += [(m, LOSS_WINDOW, loss, {}) for m in models for loss in LOSSES if loss != BASELINE_LOSS]
    runs += [
        (m, LOSS_WINDOW, BASELINE_LOSS, variant)
        for m in models
        if catalogue.get(m).uses_tcn
        for variant in stage_variants()
    ]
    paths = []
    for model, window, loss, variant in runs:
        stem = f"{model}_window{window}_{loss_slug(loss)}{variant_slug(variant)}"
        network = poster_network(model)
        what = ""
        if variant:
            network.update(variant)
            what = f", {variant_text(variant)} (the stage experiment, not the poster's)"
        header = (
            f"SfN 2023 poster grid: {model}, window {window} frames, loss {loss}{what}.\n"
            "Generated by `vak-tcn configs`; run with `vak prep` + `vak learncurve`, or `vak-tcn grid`.\n" + LR_NOTE
        )
        doc = configs.vak_config(
            command="learncurve",
            model=model,
            data_dir=data_dir,
            prep_output_dir=prep_dir,
            results_dir=results_dir / stem,
            labelset=labelset,
            train_set_durs=[dataset["train_dur"]],
            window_size=window,
            **dataset,
            **POSTER_TRAINING,
            network=network,
            optimizer={"lr": _lr_item()},
            loss=LOSSES[loss],
            metrics={"segmentation": {"tolerance": 0.004}},
            accelerator=accelerator,
            header=header,
        )
        paths.append(configs.write_config(doc, out_dir / f"{stem}.toml", make_dirs=False))
    return paths
