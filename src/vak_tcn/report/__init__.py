"""``vak-tcn report``: an annotation review report in the browser (docs/report.md).

The layer above :mod:`vak_tcn.inference` and :mod:`vak_tcn.live`, below the command line: it may
import :mod:`vak_tcn.metrics`, :mod:`vak_tcn.models` and :mod:`vak_tcn.inference`; only
:mod:`vak_tcn.cli` imports it.

Modules: :mod:`.data` (annotations, probabilities, audio, references read from disk),
:mod:`.compare` (scores with :mod:`vak_tcn.metrics`, differences, confusion), :mod:`.queue` (the
review queue's ordering rule), :mod:`.render` (the images), :mod:`.pages` (the HTML),
:mod:`.model` (a trained model's predictions on its test split), :mod:`.outputs` (the report's own
files in ``--out``, listed in ``report-files.json``: only those are ever removed) and :mod:`.build`
(the command).
"""
