"""Which annotation file ``vak prep`` pairs with each recording, checked before ``vak prep`` runs.

vak prep pairs a recording with an annotation file by name: for the formats with one annotation
file per recording, ``bird1_001.wav`` goes with ``bird1_001.wav`` + the format's extension
(``bird1_001.wav.txt``, ``bird1_001.wav.csv``, ...; vak's ``map_annotated_to_annot``, "remove"
method).  vak also tries ``bird1_001`` + extension for the audio, but then fails on the
spectrogram files it made from them (``bird1_001.wav.spect.npz``), with a traceback that names no
file.  Audacity exports ``bird1_001.txt``, so a lab's first ``vak prep`` stops there:
:func:`check_pairing` says it in one line and, asked to, renames the files to vak's names.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

#: formats whose annotations vak maps by the recording named inside them (one file for a folder,
#: ``annot_file``), not by file name: vak's ``map_annotated_to_annot``
NAMED_INSIDE = ("birdsong-recognition-dataset", "yarden", "generic-seq")
#: how many file names a message lists before "..."
_SHOWN = 3


def extensions(annot_format: str) -> tuple[str, ...]:
    """The annotation format's file extensions, as crowsetta (and so vak) knows them."""
    import crowsetta

    ext = crowsetta.formats.by_name(annot_format).ext
    return (ext,) if isinstance(ext, str) else tuple(ext)


@dataclasses.dataclass
class Pairing:
    """Recordings without an annotation file vak pairs, and annotation files named without the
    audio extension (``bird1_001.txt`` for ``bird1_001.wav``) with the name vak wants."""

    recordings: int
    missing: list[pathlib.Path]
    #: (recording, its annotation file, the name vak pairs)
    renames: list[tuple[pathlib.Path, pathlib.Path, pathlib.Path]]
    #: the extension vak finds (that of files already paired, else the format's first)
    ext: str


def pair(audio_files: Sequence[pathlib.Path], annot_format: str) -> Pairing | None:
    """How ``audio_files`` pair with annotation files beside them; None for formats vak maps otherwise."""
    if annot_format in NAMED_INSIDE:
        return None
    exts = extensions(annot_format)
    missing, renames, used = [], [], []
    for audio in audio_files:
        paired = [ext for ext in exts if audio.with_name(audio.name + ext).is_file()]
        if paired:
            used += paired
            continue
        stem_named = [audio.with_name(audio.stem + ext) for ext in exts]
        found = next((p for p in stem_named if p.is_file()), None)
        if found is None:
            missing.append(audio)
        else:
            renames.append((audio, found, audio.with_name(audio.name + found.name[len(audio.stem) :])))
    return Pairing(len(audio_files), missing, renames, used[0] if used else exts[0])


def _names(paths: Sequence[pathlib.Path]) -> str:
    shown = ", ".join(p.name for p in paths[:_SHOWN])
    return shown + (", ..." if len(paths) > _SHOWN else "")


def check_pairing(pairing: Pairing | None, data_dir: pathlib.Path, *, rename: bool) -> None:
    """ValueError in one line naming the fix: annotation files named without the audio extension
    (unless ``rename``: they are renamed by :func:`rename_annotations` once every check passed),
    recordings without an annotation file."""
    if pairing is None:
        return
    if pairing.renames and not rename:
        (audio, old, new), n = pairing.renames[0], len(pairing.renames)
        raise ValueError(
            f"vak prep pairs {audio.name} with {new.name}, not {old.name} ({n} annotation "
            f"file{'s' if n > 1 else ''} in {data_dir} named so, as Audacity names them): add "
            "--rename-annotations and init renames them"
        )
    if pairing.missing:
        first = pairing.missing[0]
        raise ValueError(
            f"no annotation file for {len(pairing.missing)} of {pairing.recordings} recordings in {data_dir} "
            f"({_names(pairing.missing)}): vak prep pairs {first.name} with {first.name}{pairing.ext}; "
            "add one for each or move those recordings out of the folder"
        )


def rename_annotations(pairing: Pairing | None, say=print) -> None:
    """Rename the annotation files of ``pairing`` to the names vak prep pairs (none exists: :func:`pair`)."""
    if pairing is None or not pairing.renames:
        return
    for _, old, new in pairing.renames:
        old.rename(new)
    (_, old, new), n = pairing.renames[0], len(pairing.renames)
    say(
        f"renamed {n} annotation file{'s' if n > 1 else ''} to the names vak prep pairs ({old.name} -> {new.name}{', ...' if n > 1 else ''})"
    )
