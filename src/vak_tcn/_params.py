"""Checking the keys of a config table: one mechanism for networks, losses and metrics.

A misspelt key in a vak config's ``network``, ``loss`` or ``metrics`` table must fail with
an error that names it, suggests the closest valid key, and lists the valid ones.  Pure
Python (no torch, NumPy or vak), so every stack can use it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Sequence


def suggest(key: str, valid: Iterable[str]) -> str:
    """``'key'`` or ``'key' (did you mean 'close'?)``."""
    close = difflib.get_close_matches(str(key), list(valid), n=1)
    return f"'{key}' (did you mean '{close[0]}'?)" if close else f"'{key}'"


def reject_unknown(keys: Iterable[str], valid: Sequence[str], what: str, valid_what: str = "parameters") -> None:
    """Raise ValueError if ``keys`` has any key not in ``valid``.

    ``what`` names the table in the message, e.g. ``"network parameter(s) for TCN"``;
    ``valid_what`` the valid keys (``"Valid parameters: ..."``).
    """
    unknown = [k for k in keys if k not in valid]
    if unknown:
        raise ValueError(
            f"unknown {what}: {', '.join(suggest(k, valid) for k in unknown)}. Valid {valid_what}: {', '.join(valid)}"
        )


def parameters(func: Callable) -> list[str]:
    """Names of ``func``'s named parameters (``self`` and ``*args``/``**kwargs`` left out)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [name for name, p in inspect.signature(func).parameters.items() if p.kind in kinds and name != "self"]
