"""Seeded training for vak-tcn's models in stock vak runs: ``VAK_TCN_SEED``, ``VAK_TCN_DETERMINISTIC``.

vak has no seed setting, and its model factory builds the network (random initial weights)
*before* the model family's ``__init__`` runs.  So the seed is applied where the network is
built: every network of vak-tcn's catalogue is registered as a :func:`seeded_network`
subclass whose ``__init__`` calls :func:`lightning.seed_everything` (Python, NumPy, torch, and
dataloader workers through Lightning's worker init function) and then the network's own
``__init__``.  Everything random after that in the same run — the training sampler's shuffle,
dropout — draws from the seeded generators.

The seed, by precedence (the setting ``seed`` of :mod:`vak_tcn.settings`, resolved here, where vak
calls into vak-tcn):

1. ``VAK_TCN_SEED`` (what ``vak-tcn train|learncurve|demo|grid --seed N`` sets: the CLI writes it
   with :func:`vak_tcn.settings.export`, and vak, run in the same process or a child, builds the
   network, whose ``__init__`` is the wrapper below);
2. the key ``seed`` of the config's network table (``[vak.train.model.TCN.network] seed = 1``;
   vak's schema has no other place for it, and passes that table to the network verbatim);
3. none: not seeded, as stock vak.

The network table's other vak-tcn key, ``post_processing``, is taken out of the table here too
(:func:`vak_tcn.settings.pop_config`) and recorded on the built network (:data:`CONFIG_ATTR`), where
the model family resolves it.

Replicates: one process may build several networks (``vak learncurve`` trains every replicate,
and builds a model again to evaluate each).  The ``n``-th network built in a process
(``n = 0, 1, ...``) is seeded with :func:`derive_seed` ``(seed, n)``, so replicates differ
from each other and a rerun repeats them all.

``VAK_TCN_DETERMINISTIC=1`` also turns on torch's deterministic algorithms (with
``warn_only``: an operation with no deterministic implementation warns instead of failing)
and turns off cuDNN's autotuner; see docs/reproducibility.md for what that buys.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import logging

from .. import settings

#: attribute of a built network holding what :func:`seeded_network` recorded
BUILD_ATTR = "vak_tcn_build"
#: attribute of a built network holding its network table's vak-tcn settings, checked:
#: ``{setting name: value}`` (:func:`vak_tcn.settings.pop_config`), e.g. ``{"post_processing": "tuned"}``
CONFIG_ATTR = "vak_tcn_config"

#: vak's own logger, so the seed of each network lands in vak's log file too
vak_logger = logging.getLogger("vak").getChild("vak_tcn")

_builds = itertools.count()  # networks built in this process


def derive_seed(seed: int, *keys: int | str) -> int:
    """A seed in [0, 2**32) for ``keys`` (a build index, a run name) under ``seed``.

    ``numpy.random.SeedSequence`` mixes the entropy: nearby inputs give unrelated seeds.
    Strings are hashed with SHA-256 (stable across processes, unlike ``hash``).
    """
    import hashlib

    import numpy as np

    entropy = [seed]
    for key in keys:
        if isinstance(key, str):
            key = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        entropy.append(int(key))
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def apply_seed(seed: int | None, deterministic: bool = False) -> None:
    """Seed Python, NumPy, torch and dataloader workers (``seed`` None: not seeded); with
    ``deterministic``, torch's deterministic algorithms too."""
    if seed is not None:
        from lightning.pytorch import seed_everything

        seed_everything(seed, workers=True, verbose=False)
    if deterministic:
        import torch

        # cuBLAS needs this before its first use to be deterministic (CUDA >= 10.2)
        settings.export("cublas_workspace_config", ":4096:8", overwrite=False)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _resolved_kwargs(init, args: tuple, kwargs: dict) -> dict:
    """The network's arguments with defaults filled in (``self`` left out), JSON-friendly."""
    try:
        bound = inspect.signature(init).bind(None, *args, **kwargs)
    except TypeError:  # the network itself will say what is wrong
        return dict(kwargs)
    bound.apply_defaults()
    out = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


@contextlib.contextmanager
def side_effect_free_builds():
    """Networks built inside (a config check that builds the model once) neither advance the
    build count nor change Python's, NumPy's or torch's random state, so the run that follows
    gets the same seeds as one without the check."""
    global _builds
    import random

    import numpy as np
    import torch

    index = next(_builds)
    states = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    try:
        yield
    finally:
        _builds = itertools.count(index)
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])


def seeded_network(network: type) -> type:
    """A subclass of ``network`` whose ``__init__`` seeds first (see the module docstring).

    Same ``__name__``/``__qualname__``/``__module__`` (checkpoints, reprs and error messages
    unchanged) and, through :func:`functools.wraps`, the same ``inspect.signature`` for its
    ``__init__`` (vak reads it).  The built network gets an attribute :data:`BUILD_ATTR`:
    ``{"seed", "seed_source", "build_index", "effective_seed", "deterministic", "network", "network_kwargs"}``,
    and :data:`CONFIG_ATTR`: the table's vak-tcn settings (``seed``, ``post_processing``), checked.
    """
    original = network.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        # every VAK_TCN_* variable checked here, where stock vak builds the model, before any training
        # step (a bad VAK_TCN_TUNE would otherwise fail when training ends)
        settings.check_variables()
        # vak-tcn's keys of the network table, the one model table vak passes on verbatim: the seed,
        # and the clean-up mode (docs/postprocessing.md), which the family resolves from the network
        table = settings.pop_config(kwargs)
        found = settings.lookup("seed", config=table.get("seed"))
        seed, source = found.value, "config" if found.source == "config" else found.where
        deterministic = settings.resolve("deterministic")
        index = next(_builds)
        effective = None if seed is None else derive_seed(seed, index)
        apply_seed(effective, deterministic)
        if effective is not None:
            vak_logger.info(
                f"{network.__name__}: network {index} of this process seeded with {effective} ({source}={seed})"
            )
        original(self, *args, **kwargs)
        setattr(self, CONFIG_ATTR, table)
        setattr(
            self,
            BUILD_ATTR,
            {
                "seed": seed,
                "seed_source": source if seed is not None else None,
                "build_index": index,
                "effective_seed": effective,
                "deterministic": deterministic,
                "network": f"{network.__module__}.{network.__qualname__}",
                "network_kwargs": _resolved_kwargs(original, args, kwargs),
            },
        )

    return type(
        network.__name__,
        (network,),
        {"__init__": __init__, "__module__": network.__module__, "__qualname__": network.__qualname__},
    )
