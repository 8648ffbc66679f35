"""Functions and constants the tests share, by purpose (``tests/`` is on ``sys.path`` through
pytest's ``pythonpath`` setting in pyproject.toml; the fixtures stay in ``tests/conftest.py``):

* :mod:`helpers.cli`: the vak and vak-tcn command lines, in process and as subprocesses;
* :mod:`helpers.data`: the real bout, the synthetic corpus's configs, the models trained on them;
* :mod:`helpers.inference`: an untrained model with its artifacts and a predict config, reference segments;
* :mod:`helpers.report`: inputs of the report tests.
"""
