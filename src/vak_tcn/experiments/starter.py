"""``vak-tcn init``: a lab's starter configs, from the package's own copy of the recommended ones.

The recommended configurations (``recommended/ConvTCN.toml`` and ``recommended/TCN.toml``, package
data that the wheel carries; the repository's ``configs/`` holds the same files, a test keeps them
equal) are learncurve configs: 3-stage centred TCNs trained with cross-entropy + TMSE, window 2000
(docs/real-song.md, "What a lab gets").  :func:`starter_configs` turns one of them into

* ``train.toml``: ``[vak.prep]`` + ``[vak.train]``, for ``vak prep train.toml`` then
  ``vak train train.toml`` (vak prep writes the dataset's path into it);
* ``learncurve.toml``: ``[vak.prep]`` + ``[vak.learncurve]``: how error falls with training data,

with the lab's data folder, audio and annotation formats and labelset; everything else (network,
loss, optimizer, window, spectrogram, training and clean-up settings, and their comments) is the
recommended file's.  :func:`write_starter_configs` checks each with vak's own parser (the model
built as vak builds it) before writing it.
"""

from __future__ import annotations

import importlib.resources
import pathlib
import re
import tempfile
from collections.abc import Sequence

import tomlkit

from . import configs, pairing

#: the recommended models, each with its package file; the first is the default (offline annotation)
MODELS = ("ConvTCN", "TCN")
DEFAULT_MODEL = "ConvTCN"
#: what ``init`` writes: file name -> vak command table
CONFIG_FILES = {"train.toml": "train", "learncurve.toml": "learncurve"}
#: audio formats vak reads, with their file extensions (vak.common.constants.VALID_AUDIO_FORMATS)
AUDIO_FORMATS = ("wav", "cbin")
#: formats soundfile reads the length of from the header (cheap), for the "how much audio" line
_SOUNDFILE_FORMATS = ("wav",)
#: the share of a small folder's song that validation and test each take (:func:`fit_to_folder`)
SPLIT_SHARE = 0.15


def recommended_text(model: str) -> str:
    """The text of the package's recommended learncurve config for ``model`` (``ConvTCN`` or ``TCN``)."""
    if model not in MODELS:
        raise ValueError(f"no recommended config for model {model!r}; choose one of {', '.join(MODELS)}")
    return (importlib.resources.files(__package__) / "recommended" / f"{model}.toml").read_text(encoding="utf-8")


def recommended_settings(model: str) -> dict:
    """The recommended config for ``model`` as plain values (its ``vak`` tables)."""
    return tomlkit.parse(recommended_text(model)).unwrap()["vak"]


def annot_formats() -> list[str]:
    """The annotation formats crowsetta knows (vak prep reads annotations with crowsetta)."""
    import crowsetta

    return list(crowsetta.formats.as_list())


def audio_files(data_dir: pathlib.Path, audio_format: str) -> list[pathlib.Path]:
    """The files ``vak prep`` would find: ``*.FORMAT`` (any case) in ``data_dir``, else one level below."""

    def match(folder: pathlib.Path) -> list[pathlib.Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == f".{audio_format}")

    found = match(data_dir)
    if not found:
        for sub in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            found += match(sub)
    return found


def infer_audio_format(data_dir: pathlib.Path) -> str:
    """The one audio format vak reads of which ``data_dir`` holds files; ValueError when none or several."""
    present = [fmt for fmt in AUDIO_FORMATS if audio_files(data_dir, fmt)]
    if len(present) != 1:
        found = f"files of {' and '.join(present)}" if present else f"no files of {', '.join(AUDIO_FORMATS)}"
        raise ValueError(f"{data_dir} holds {found}: name one with --audio-format")
    return present[0]


def audio_seconds(files: Sequence[pathlib.Path], audio_format: str) -> tuple[float, int] | None:
    """Total length of ``files`` and the first one's sample rate, read from their headers; None where
    that is not cheap (cbin) or fails."""
    if audio_format not in _SOUNDFILE_FORMATS:
        return None
    import soundfile

    try:
        infos = [soundfile.info(str(f)) for f in files]
    except Exception:  # a file soundfile cannot read: vak prep will say which
        return None
    return float(sum(i.duration for i in infos)), int(infos[0].samplerate)


def fit_to_folder(docs: dict, seconds: float, samplerate: int, chosen: set[str], say=print) -> None:
    """Size the recommended durations and validation steps to a folder of ``seconds`` of song, in place.

    * durations not ``chosen`` (by --train-dur, ...): where the folder holds less than the recommended
      train + val + test, val and test take ``SPLIT_SHARE`` of it each (at most the recommended) and
      train the rest (-1); learncurve's training subsets are those that fit;
    * ``val_step`` and ``ckpt_step``: Lightning stops ``vak train`` when ``val_step`` exceeds the
      training batches of an epoch; where it would, both become half the batches the training split
      (learncurve: its shortest subset) makes (vak's training set: every window start; splits are
      made of whole files, hence the half).
    Each change said in one line.
    """
    prep = docs["train.toml"]["vak"]["prep"]
    keys = ("train_dur", "val_dur", "test_dur")
    needed = sum(max(float(prep[k]), 0) for k in keys)
    if seconds < needed and not chosen:
        share = {k: min(float(prep[k]), round(SPLIT_SHARE * seconds, 1)) for k in keys[1:]}
        for doc in docs.values():
            doc["vak"]["prep"]["train_dur"] = -1
            for k, v in share.items():
                doc["vak"]["prep"][k] = int(v) if v.is_integer() else v
        say(
            f"the folder's {seconds:.0f} s of audio is less than the recommended {needed:.0f} s of splits: "
            f"val_dur = {share['val_dur']:g}, test_dur = {share['test_dur']:g} ({SPLIT_SHARE:.0%} each), "
            "train_dur = -1 (the rest); --train-dur, --val-dur, --test-dur to choose"
        )
    elif seconds < needed:
        say(
            f"note: vak prep splits train_dur + val_dur + test_dur = {needed:.0f} s of annotated song, more than "
            f"the folder's {seconds:.0f} s: lower --train-dur (-1: all that validation and test leave)"
        )
    rest = seconds - sum(max(float(prep[k]), 0) for k in keys[1:])
    train = rest if float(prep["train_dur"]) < 0 else min(float(prep["train_dur"]), rest)
    learncurve = docs["learncurve.toml"]["vak"]["prep"]
    if float(learncurve["train_dur"]) < 0 and "train_set_durs" in learncurve:
        durs = learncurve["train_set_durs"].unwrap()
        learncurve["train_set_durs"] = [d for d in durs if d <= train] or [max(1, int(train / 2))]
    for name, doc in docs.items():
        command = CONFIG_FILES[name]
        table, shortest = doc["vak"][command], train
        if command == "learncurve":  # each training subset is trained on: the shortest decides
            shortest = min([train, *doc["vak"]["prep"]["train_set_durs"].unwrap()])
        frames = shortest * samplerate / doc["vak"]["prep"]["spect_params"]["step_size"]
        batches = (frames - table["dataset"]["params"]["window_size"] + 1) / table["batch_size"]
        cap = max(1, int(batches / 2))
        # train's split is whole files, val and test at least their durations: train may come out shorter
        if table["val_step"] > batches * (0.6 if command == "train" else 1):
            was = table["val_step"]
            table["val_step"] = cap
            table["ckpt_step"] = min(table["ckpt_step"], cap)
            say(
                f"{name}: val_step = {cap}, ckpt_step = {table['ckpt_step']}: ~{shortest:.0f} s of training song "
                f"make about {max(batches, 0):.0f} batches an epoch, fewer than the recommended val_step {was} "
                f"(vak {command} would stop with Lightning's val_check_interval error)"
            )
        if batches < 1:
            say(
                f"note: {name}: ~{shortest:.0f} s of training song is less than one training window "
                f"({table['dataset']['params']['window_size']} frames): annotate more song"
            )


def _header(model: str, command: str, name: str) -> str:
    """The recommended file's header with its first paragraph (an example's commands) replaced."""
    steps = {
        "train": [
            f"vak prep {name}",
            f"vak train {name}",
            "vak-tcn annotate RESULTS_DIR recordings/ --out annotations/",
        ],
        "learncurve": [f"vak prep {name}", f"vak learncurve {name}"],
    }[command]
    what = {"train": "train", "learncurve": "a learning curve of"}[command]
    lines = [
        f"# Written by `vak-tcn init`: {what} vak-tcn's {model}, the recommended configuration, on your song.",
        "#",
    ]
    lines += [f"#   {step}" for step in steps]
    return "\n".join(lines) + "\n"


def starter_config(
    *,
    model: str,
    command: str,
    name: str,
    data_dir: pathlib.Path,
    audio_format: str,
    annot_format: str,
    labelset: str,
    prep_dir: pathlib.Path,
    results_dir: pathlib.Path,
    accelerator: str | None = None,
    train_dur: float | None = None,
    val_dur: float | None = None,
    test_dur: float | None = None,
) -> tomlkit.TOMLDocument:
    """One starter config (``command``: ``train`` or ``learncurve``) from the recommended config of ``model``.

    Durations left as None keep the recommended file's.  In ``learncurve``, the training subsets
    (``train_set_durs``) are the recommended ones up to ``train_dur``.
    """
    text = recommended_text(model)
    # the header's first two paragraphs are the example's title and commands: replace them, keep the rest
    parts = text.split("\n#\n", 2)
    body = parts[2] if text.startswith("#") and len(parts) == 3 else text
    if command != "learncurve":
        body = re.sub(r"^\[vak\.learncurve([.\]])", rf"[vak.{command}\1", body, flags=re.MULTILINE)
    doc = tomlkit.parse(_header(model, command, name) + "#\n" + body)
    prep = doc["vak"]["prep"]
    prep["data_dir"] = str(data_dir)
    prep["output_dir"] = str(prep_dir)
    prep["audio_format"] = audio_format
    prep["annot_format"] = annot_format
    for key, comment in (("data_dir", "audio + annotations (here, or one folder below)"), ("annot_format", None)):
        item = prep.item(key)  # the recommended file's comments name its example's files
        item.trivia.comment_ws, item.trivia.comment = ("  ", f"# {comment}") if comment else ("", "")
    prep["labelset"] = labelset
    for key, value in (("train_dur", train_dur), ("val_dur", val_dur), ("test_dur", test_dur)):
        if value is not None:
            prep[key] = int(value) if float(value).is_integer() else float(value)
    table = doc["vak"][command]
    table["root_results_dir"] = str(results_dir)
    if accelerator is not None:
        table["trainer"]["accelerator"] = accelerator
    if command == "learncurve":
        train = float(prep["train_dur"])
        if train > 0:
            prep["train_set_durs"] = [d for d in prep["train_set_durs"].unwrap() if d <= train] or [prep["train_dur"]]
    else:  # learncurve's keys, which vak's train table refuses
        for key in ("train_set_durs", "num_replicates"):
            prep.pop(key, None)
        table.pop("post_tfm_kwargs", None)
    return doc


def check(doc: tomlkit.TOMLDocument, name: str) -> None:
    """vak's own parser on ``doc`` (as ``vak-tcn prep`` checks a config: dataset path not yet written),
    the model built as vak builds it; ValueError naming the problem."""
    from ..plugins import vak_compat
    from ..plugins.manager import load_plugins

    load_plugins()
    configs.make_output_dirs(doc)  # vak's parser wants them
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / name
        path.write_text(tomlkit.dumps(doc))
        try:
            vak_compat.check_config(path, placeholder_dataset=True)
        except ValueError as e:
            raise ValueError(f"{name}: {str(e).removeprefix(f'{path}: ')}") from None


def write_starter_configs(
    out: pathlib.Path,
    *,
    data_dir: pathlib.Path,
    labelset: str,
    annot_format: str,
    audio_format: str | None = None,
    model: str = DEFAULT_MODEL,
    prep_dir: pathlib.Path | None = None,
    results_dir: pathlib.Path | None = None,
    accelerator: str | None = None,
    train_dur: float | None = None,
    val_dur: float | None = None,
    test_dur: float | None = None,
    force: bool = False,
    rename_annotations: bool = False,
    say=print,
) -> list[pathlib.Path]:
    """Write ``train.toml`` and ``learncurve.toml`` into ``out`` (see the module); return their paths.

    Refused (ValueError / FileNotFoundError, nothing written): a config already there (unless
    ``force``), a data folder that does not exist or holds no audio of the format, an unknown model,
    an annotation format crowsetta does not know, a config vak's parser refuses.  Paths are written
    absolute: vak reads a config's paths from the directory it runs in.
    """
    out = pathlib.Path(out).absolute()
    if model not in MODELS:
        raise ValueError(f"no recommended config for model {model!r}; choose one of {', '.join(MODELS)}")
    data_dir = pathlib.Path(data_dir).expanduser().absolute()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder not found: {data_dir}")
    known = annot_formats()
    if annot_format not in known:
        raise ValueError(f"annotation format {annot_format!r} is not one crowsetta knows: {', '.join(known)}")
    if not labelset:
        raise ValueError("--labelset is empty: name the labels to keep, e.g. abcde")
    targets = [out / name for name in CONFIG_FILES]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise ValueError(f"{' and '.join(existing)} already {verb}: pass --force to overwrite, or --out another folder")
    if audio_format is None:
        audio_format = infer_audio_format(data_dir)
        say(f"audio format: {audio_format} (the only one of {', '.join(AUDIO_FORMATS)} in {data_dir})")
    files = audio_files(data_dir, audio_format)
    if not files:
        raise ValueError(f"no .{audio_format} files in {data_dir} (nor one folder below, where vak prep looks)")
    found = pairing.pair(files, annot_format)
    pairing.check_pairing(found, data_dir, rename=rename_annotations)
    prep_dir = pathlib.Path(prep_dir).absolute() if prep_dir else out / "prep"
    results_dir = pathlib.Path(results_dir).absolute() if results_dir else out / "results" / model
    if accelerator is None:  # the recommended "gpu" where this machine has one
        import torch

        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
        if accelerator == "cpu":
            say("no GPU here: accelerator = cpu (--accelerator gpu to train elsewhere)")
    docs = {
        name: starter_config(
            model=model,
            command=command,
            name=name,
            data_dir=data_dir,
            audio_format=audio_format,
            annot_format=annot_format,
            labelset=labelset,
            prep_dir=prep_dir,
            results_dir=results_dir,
            accelerator=accelerator,
            train_dur=train_dur,
            val_dur=val_dur,
            test_dur=test_dur,
        )  # fmt: skip
        for name, command in CONFIG_FILES.items()
    }
    measured = audio_seconds(files, audio_format)
    held = f", {measured[0]:.0f} s of audio" if measured is not None else ""
    say(f"{data_dir}: {len(files)} .{audio_format} files{held}")
    if measured is not None:
        chosen = {k for k, v in (("train", train_dur), ("val", val_dur), ("test", test_dur)) if v is not None}
        fit_to_folder(docs, *measured, chosen, say=say)
    for name, doc in docs.items():
        check(doc, name)
    pairing.rename_annotations(found, say=say)
    paths = [configs.write_config(doc, out / name) for name, doc in docs.items()]
    say(f"wrote {', '.join(str(p) for p in paths)} ({model}, checked by vak's parser)")
    say(f"next: vak prep {paths[0]} && vak train {paths[0]}")
    return paths
