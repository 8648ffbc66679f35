"""What the model family reads from a prepared vak dataset besides what vak hands it.

* :func:`dataset_references`: the ground-truth segments of each file, from its annotation (the
  segment metrics score against them), with a warning, once, when they cannot be read;
* :func:`frame_times_of`: the times of a frames file's frames;
* :func:`frames_finite`, :func:`nonfinite_sources`, :func:`source_of`: whether frames files hold
  NaN/inf values, and the audio file ``vak prep`` made one from (the family's
  :class:`~vak_tcn.models.family.NonFiniteError` names them).
"""

from __future__ import annotations

import functools
import logging
import pathlib

import numpy as np

from ..plugins import vak_compat

__all__ = ["dataset_references", "frame_times_of", "frames_finite", "nonfinite_sources", "source_of"]

logger = logging.getLogger(__name__)
#: messages a vak user must see go to vak's own logger, so they land in vak's log file too
vak_logger = logging.getLogger("vak").getChild("vak_tcn")


@functools.lru_cache(maxsize=65536)
def frames_finite(frames_path: str, input_type: str, mtime: float) -> bool:
    return bool(np.isfinite(vak_compat.load_frames(frames_path, input_type)).all())


def nonfinite_sources(files, input_type: str = "spect") -> list[str]:
    """Sources of the ``(frames file, source)`` pairs whose frames have NaN/inf values
    (each file read once per process)."""
    return [
        source
        for frames, source in files
        if frames.exists() and not frames_finite(str(frames), input_type, frames.stat().st_mtime)
    ]


def source_of(located: tuple[pathlib.Path, pathlib.Path]) -> str | None:
    """The audio file ``vak prep`` made a frames file from, if the dataset's CSV says."""
    frames, dataset_dir = located
    try:
        sources = vak_compat.prepared_split_sources(dataset_dir, None)
    except Exception:  # no CSV, moved files: the frames file is named instead
        return None
    return next((source for path, source in sources if path.name == frames.name), None)


@functools.lru_cache(maxsize=16)
def dataset_references(dataset_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Ground-truth segments of a prepared dataset, by frames file name.

    Maps the name of each frames file to ``(onsets_s, offsets_s, labels)``
    from its annotation (read with vak's own reader).  Empty if the dataset has
    no annotations or they cannot be read.
    """
    dataset_dir = pathlib.Path(dataset_dir)
    try:
        df = vak_compat.read_prepared_dataset(dataset_dir)
    except Exception as e:  # not a prepared dataset vak-tcn can read: frame labels are all there is
        logger.info(f"no reference annotations for dataset {dataset_dir}: {e}")
        return {}
    if "annot_path" not in df.columns or df["annot_path"].isna().all():
        logger.info(f"dataset {dataset_dir} has no annotations: segment metrics score against frame labels")
        return {}
    named = [pathlib.Path(p) for p in df["annot_path"].dropna().unique()]
    missing = [p for p in named if not p.exists()]
    if missing:  # a moved dataset: its CSV's annotation paths no longer resolve
        _warn_no_annotations(
            dataset_dir, f"{len(missing)} of the {len(named)} annotation files it names are missing, e.g. {missing[0]}"
        )
        return {}
    try:
        annots = vak_compat.read_annotations(df)
    except Exception as e:
        _warn_no_annotations(dataset_dir, f"{type(e).__name__}: {e}")
        return {}
    if annots is None:
        return {}
    return {
        pathlib.Path(frames_path).name: (
            np.asarray(annot.seq.onsets_s, dtype=float),
            np.asarray(annot.seq.offsets_s, dtype=float),
            np.asarray(annot.seq.labels).astype(str),
        )
        for frames_path, annot in zip(df["frames_path"], annots)
    }


def _warn_no_annotations(dataset_dir: pathlib.Path, why: str) -> None:
    """Say, once per dataset and process, that its annotations cannot be read, and what that changes."""
    if str(dataset_dir) in _WARNED_DATASETS:
        return
    _WARNED_DATASETS.add(str(dataset_dir))
    vak_logger.warning(
        f"cannot read the annotations of dataset {dataset_dir} ({why}): segment metrics (boundary "
        "precision/recall/F-score, R-value, edit, F1@k) score against the frame labels, quantised to "
        "frames, instead of the annotations' onset and offset times. If the dataset or the audio and "
        "annotation files were moved since `vak prep`, its CSV still names the old paths: put them back "
        "or prepare the dataset again."
    )


_WARNED_DATASETS: set[str] = set()


def frame_times_of(frames_path: pathlib.Path) -> np.ndarray | None:
    """Times of the frames (spectrogram time bins) stored with a prepared dataset's frames."""
    if frames_path.suffix != ".npz" or not frames_path.exists():
        return None
    with np.load(frames_path) as npz:
        return np.asarray(npz[vak_compat.TIMEBINS_KEY]) if vak_compat.TIMEBINS_KEY in npz else None
