"""Recordings and annotation files, below the models: what every command that reads audio or writes
annotations shares.

* :mod:`.read`: audio files (which are read, their header checks, one block reader);
* :mod:`.annotations`: crowsetta annotation files and per-frame probabilities, written atomically;
* :mod:`.spect_params`: the ``[vak.prep.spect_params]`` that shape a spectrogram.

Imports nothing heavy at import time (NumPy); soundfile and crowsetta when a file is read or written.
"""
