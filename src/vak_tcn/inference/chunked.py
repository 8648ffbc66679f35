"""A network over a frame sequence of any length, in chunks, equal to one pass over the whole.

A convolutional network's output frame ``t`` depends on input frames ``t - left .. t + right``
only (``left + right + 1`` is its receptive field, ``right`` its ``lookahead``; every zero-padded
convolution pads only at the sequence's ends).  So each chunk ``[a, b)`` of outputs is computed
from the inputs ``[a - left, b + right)``, clipped to the sequence: at an interior seam the
network sees real context, and a chunk edge that is a true end of the recording is padded
exactly as in whole-sequence inference.  For vak-tcn's TCN and ConvTCN (causal or centred)
the logits equal whole-sequence logits to float rounding (tests/inference/test_chunked.py).

Networks without a finite receptive field (TweetyNet's bidirectional LSTM) get overlapped
chunks with ``context`` frames on each side; their agreement with whole-sequence inference
is measured in docs/annotate.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

__all__ = ["RNN_CONTEXT", "chunked_logits", "context_of", "ChunkedInference"]

#: frames of context on each side of a chunk for networks without a receptive field (BiLSTM)
RNN_CONTEXT = 2048


def context_of(net: torch.nn.Module, default: int = RNN_CONTEXT) -> tuple[int, int, bool]:
    """``(left, right, exact)``: input frames a network needs before and after an output frame.

    From the network's ``receptive_field`` and ``lookahead`` attributes (vak-tcn's networks);
    ``exact`` is False for a network without them, which gets ``default`` on both sides.
    """
    rf, lookahead = getattr(net, "receptive_field", None), getattr(net, "lookahead", None)
    if rf is None or lookahead is None:
        return default, default, False
    return int(rf) - 1 - int(lookahead), int(lookahead), True


class ChunkedInference:
    """Feed frames block by block; get logits chunk by chunk.

    Parameters
    ----------
    net : torch.nn.Module
        Takes ``(1, channels, freqbins, time)``, returns ``(1, classes, time)``; in eval mode.
    n_frames : int
        Length of the whole sequence.
    chunk_frames : int
        Output frames per network call.
    left, right : int
        Context frames (see :func:`context_of`).
    device : str or torch.device
    """

    def __init__(self, net, n_frames: int, chunk_frames: int, left: int, right: int, device="cpu"):
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
        self.net, self.n, self.chunk = net, int(n_frames), int(chunk_frames)
        self.left, self.right, self.device = int(left), int(right), device
        self._buffer: list[np.ndarray] = []  # blocks (channels, freqbins, frames)
        self._buf_start = 0  # absolute index of the buffer's first frame
        self._buf_len = 0
        self._next = 0  # next output frame

    def feed(self, block: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Add ``(channels, freqbins, frames)`` (or ``(freqbins, frames)``); yield ``(start, logits)`` ready."""
        block = np.asarray(block)
        if block.ndim == 2:
            block = block[np.newaxis]
        self._buffer.append(block)
        self._buf_len += block.shape[-1]
        yield from self._run(final=False)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield the chunks left once every frame has been fed."""
        if self._buf_start + self._buf_len != self.n:
            raise ValueError(f"fed {self._buf_start + self._buf_len} frames, expected {self.n}")
        yield from self._run(final=True)

    def _run(self, final: bool) -> Iterator[tuple[int, np.ndarray]]:
        end = self._buf_start + self._buf_len  # frames available
        while self._next < self.n:
            a = self._next
            b = min(a + self.chunk, self.n)
            hi = min(b + self.right, self.n)
            if hi > end:
                return
            lo = max(a - self.left, 0)
            frames = np.concatenate(self._buffer, axis=-1) if len(self._buffer) > 1 else self._buffer[0]
            x = frames[..., lo - self._buf_start : hi - self._buf_start]
            with torch.inference_mode():
                y = self.net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).unsqueeze(0).to(self.device))
            yield a, y[0, :, a - lo : b - lo].float().cpu().numpy()
            self._next = b
            keep_from = max(b - self.left, 0)  # the next chunk's left context
            frames = frames[..., keep_from - self._buf_start :]
            self._buffer, self._buf_start, self._buf_len = [frames], keep_from, frames.shape[-1]


def chunked_logits(
    net, frames: np.ndarray | Iterable[np.ndarray], chunk_frames: int, n_frames: int | None = None, context=None
) -> np.ndarray:
    """Logits ``(classes, frames)`` of ``net`` over a whole sequence, computed in chunks.

    ``frames``: ``(channels, freqbins, frames)`` array, or an iterable of such blocks (then
    ``n_frames`` is required).  ``context``: ``(left, right)``, default :func:`context_of`.
    """
    if isinstance(frames, np.ndarray):
        n_frames = frames.shape[-1]
        frames = [frames]
    left, right = context if context is not None else context_of(net)[:2]
    runner = ChunkedInference(net, n_frames, chunk_frames, left, right)
    out = []
    for block in frames:
        out.extend(y for _, y in runner.feed(block))
    out.extend(y for _, y in runner.finish())
    return np.concatenate(out, axis=-1)
