"""The ``segmentation`` metric vak-tcn registers with vak: the adapter between vak's
validation loop (frame labels of one file) and :func:`vak_tcn.metrics.segment_scores`.

NumPy only.
"""

from __future__ import annotations

from .scores import segment_scores

__all__ = ["SegmentationMetrics"]


class SegmentationMetrics:
    """The ``segmentation`` metric vak-tcn registers with vak.

    Configure it in a vak config's metrics table::

        [vak.learncurve.model.TCN.metrics.segmentation]
        tolerance = 0.004   # seconds, +/-

    vak-tcn's model family calls it once per validation file (see
    docs/plugins.md); it logs ``val_precision``, ``val_recall``, ... (and
    ``_tfm`` variants), i.e. ``avg_val_precision_epoch`` ... in eval CSVs.
    """

    def __init__(self, tolerance: float = 0.004, decimals: int | None = 3):
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ValueError(
                f"metrics.segmentation parameter 'tolerance' must be a number >= 0 (seconds), got {tolerance!r}"
            )
        self.tolerance = float(tolerance)
        self.decimals = decimals

    def __call__(self, y_pred, y_true, *, frame_dur, background=0, reference=None, frame_times=None, **context) -> dict:
        ref = {}
        if reference is not None:
            ref = {
                "ref_onsets": reference["onsets_s"],
                "ref_offsets": reference["offsets_s"],
                "ref_labels": reference["labels"],
            }
        return segment_scores(
            y_pred,
            y_true,
            frame_dur=frame_dur,
            background=background,
            tolerance=self.tolerance,
            decimals=self.decimals,
            frame_times=frame_times,
            **ref,
        )
