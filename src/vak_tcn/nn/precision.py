"""Inference precision: float32 (default) or bfloat16 where the hardware has it.

One concept, used by every inference path that runs a torch network (``vak-tcn annotate``,
``vak predict`` / ``vak eval`` through vak-tcn's family, ``vak-tcn bench``):

* :func:`check_precision` parses a value (``"32"``, the default, or ``"bf16"``) and names the
  option and the valid values when it is wrong (declared with the setting ``precision`` in
  :mod:`vak_tcn.settings`: ``VAK_TCN_PRECISION`` is how stock ``vak predict``/``vak eval`` select
  it, vak's config schema taking no new keys in ``[vak.predict]``/``[vak.eval]``);
* :func:`bf16_supported` says whether the device has native bf16 (CPU: oneDNN's check for
  AVX-512 BF16/AMX; CUDA: ``torch.cuda.is_bf16_supported``);
* :func:`effective_precision` falls back to float32, with one warning per device type and
  process, where bf16 was asked for and is not supported;
* :func:`autocast` and :class:`PrecisionNetwork` run a network under ``torch.autocast`` with
  ``dtype=torch.bfloat16`` (weights stay float32; convolutions, matrix products and LSTMs run in
  bf16) and return float32 logits.

Speed and label agreement are measured by ``vak-tcn bench --precision 32 bf16``
(docs/benchmarks.md).  Whether bf16 is faster depends on the CPU and on torch's kernels: measure.
"""

from __future__ import annotations

import contextlib
import pathlib
import warnings
from collections.abc import Iterator

import torch

from ..settings import PRECISIONS, check_precision

__all__ = [
    "PRECISIONS",
    "PrecisionNetwork",
    "autocast",
    "bf16_supported",
    "check_precision",
    "effective_precision",
    "with_precision",
]


def _cpu_flags() -> set[str]:
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def bf16_supported(device_type: str) -> bool:
    """Whether ``device_type`` (``"cpu"``, ``"cuda"``) computes in bf16 natively."""
    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    try:  # oneDNN's own test: AVX-512 BF16 or AMX (torch's bf16 convolutions and matmuls use oneDNN)
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without this private op: the CPU's flags
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


_WARNED: set[str] = set()


def effective_precision(precision: str, device_type: str) -> str:
    """``precision``, or ``"32"`` (with one warning per device type and process) where bf16 is unsupported."""
    precision = check_precision(precision)
    if precision == "bf16" and not bf16_supported(device_type):
        if device_type not in _WARNED:
            _WARNED.add(device_type)
            warnings.warn(
                f"precision bf16: this {device_type.upper()} has no native bfloat16 support "
                "(CPU: AVX-512 BF16 or AMX; GPU: compute capability 8.0+); running in float32",
                RuntimeWarning,
                stacklevel=2,
            )
        return "32"
    return precision


@contextlib.contextmanager
def autocast(precision: str, device_type: str) -> Iterator[None]:
    """``torch.autocast(device_type, dtype=torch.bfloat16)`` for ``"bf16"``; nothing for ``"32"``.

    ``precision`` is used as given: pass it through :func:`effective_precision` first.
    """
    if check_precision(precision) == "bf16":
        with torch.autocast(device_type, dtype=torch.bfloat16):
            yield
    else:
        yield


class PrecisionNetwork(torch.nn.Module):
    """``network`` run under :func:`autocast`, returning float32.

    Attributes the wrapper does not have (``receptive_field``, ``lookahead``, ...) are the
    network's, so code that reads them (:func:`vak_tcn.inference.chunked.context_of`) sees the same.
    """

    def __init__(self, network: torch.nn.Module, precision: str, device_type: str):
        super().__init__()
        self.network = network
        self.precision = check_precision(precision)
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision, self.device_type):
            y = self.network(x)
        return y.float()

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["network"], name)


def with_precision(network: torch.nn.Module, precision: str, device_type: str) -> torch.nn.Module:
    """``network`` itself in float32; wrapped in :class:`PrecisionNetwork` for a supported bf16.

    Unsupported bf16 falls back to float32 (see :func:`effective_precision`).
    """
    if effective_precision(precision, device_type) == "32":
        return network
    return PrecisionNetwork(network, "bf16", device_type)
