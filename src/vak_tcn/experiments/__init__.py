"""The experiments: the poster's study as commands.

* :mod:`.corpus`: synthetic annotated song (the demo's data and the tests');
* :mod:`.configs`: the one template for stock vak configs;
* :mod:`.poster`: the poster's grid of configs and its loss labels;
* :mod:`.runner`: runs many configs, resumably, on a dask cluster;
* :mod:`.demo`: corpus -> grid -> summary -> figures, on a laptop;
* :mod:`.summary`, :mod:`.plots`: the poster's tidy CSV and figures;
* :mod:`.bench`: speed and memory against vak's TweetyNet.
"""
