"""The ``segmentation`` metric vak-tcn registers with vak: the adapter between vak's
validation loop (frame labels of one file) and :func:`vak_tcn.metrics.segment_scores`.

NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping

from .scores import segment_scores_and_counts
from .segments import f1_from_counts

__all__ = ["SegmentationMetrics"]

#: scores that :func:`~vak_tcn.metrics.segment_scores` gives in percent (MS-TCN's scale);
#: in vak's outputs they are fractions, like every other column
PERCENT_KEYS = ("edit", "f1_10", "f1_25", "f1_50")
#: suffix of the per-file (macro) mean of F1@k in vak's outputs
MACRO_SUFFIX = "_macro"


class SegmentationMetrics:
    """The ``segmentation`` metric vak-tcn registers with vak.

    Configure it in a vak config's metrics table::

        [vak.learncurve.model.TCN.metrics.segmentation]
        tolerance = 0.004   # seconds, +/-

    vak-tcn's model family calls it once per validation file (see
    docs/plugins.md) through :meth:`score`, which returns the file's scores and
    its F1@k counts; the family logs the scores per file (vak averages them:
    ``avg_val_precision_epoch`` ...) and, at the end of the validation epoch,
    :meth:`pool` of the counts summed over files (``avg_val_f1_50_epoch`` ...,
    MS-TCN's dataset-level F1@k).  All values are fractions (0-1), vak's unit.
    """

    def __init__(self, tolerance: float = 0.004, decimals: int | None = 3):
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ValueError(
                f"metrics.segmentation parameter 'tolerance' must be a number >= 0 (seconds), got {tolerance!r}"
            )
        self.tolerance = float(tolerance)
        self.decimals = decimals

    def score(
        self, y_pred, y_true, *, frame_dur, background=0, reference=None, frame_times=None, **context
    ) -> tuple[dict[str, float], dict[str, tuple[int, int, int]]]:
        """Scores of one file (fractions; per-file F1@k under ``f1_k_macro``) and its F1@k counts.

        Examples
        --------
        >>> import numpy as np
        >>> scores, counts = SegmentationMetrics().score(np.array([0, 1, 1, 0]), np.array([0, 1, 1, 1]), frame_dur=0.01)
        >>> scores["f1_50_macro"], scores["edit"], counts["f1_50"]
        (1.0, 1.0, (1, 0, 0))
        """
        ref = {}
        if reference is not None:
            ref = {
                "ref_onsets": reference["onsets_s"],
                "ref_offsets": reference["offsets_s"],
                "ref_labels": reference["labels"],
            }
        scores, counts = segment_scores_and_counts(
            y_pred,
            y_true,
            frame_dur=frame_dur,
            background=background,
            tolerance=self.tolerance,
            decimals=self.decimals,
            frame_times=frame_times,
            **ref,
        )
        scores = {key: val / 100.0 if key in PERCENT_KEYS else val for key, val in scores.items()}
        scores = {f"{key}{MACRO_SUFFIX}" if key in counts else key: val for key, val in scores.items()}
        return scores, counts

    def __call__(self, y_pred, y_true, **context) -> dict[str, float]:
        """The scores of one file (see :meth:`score`)."""
        return self.score(y_pred, y_true, **context)[0]

    @staticmethod
    def pool(counts: Mapping[str, tuple[int, int, int]]) -> dict[str, float]:
        """MS-TCN's F1@k (a fraction) from ``(tp, fp, fn)`` summed over files.

        Examples
        --------
        >>> SegmentationMetrics.pool({"f1_50": (1, 0, 9)})  # 1 segment found + 9 missed: not 0.5
        {'f1_50': 0.18181818181818182}
        """
        return {key: f1_from_counts(*(float(c) for c in tp_fp_fn)) / 100.0 for key, tp_fp_fn in counts.items()}
