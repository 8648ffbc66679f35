"""Chunked inference equals whole-sequence inference at every seam and at both file ends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vak_tcn.inference.chunked import ChunkedInference, chunked_logits, context_of
from vak_tcn.nn.convtcn import ConvTCN
from vak_tcn.nn.tcn import TCN, inference_copy

N_FRAMES = 800


def padding(causal: bool | int) -> dict:
    """The network table's keys for ``causal``: True, False, or an int: causal with that ``lookahead``."""
    return {"causal": causal} if isinstance(causal, bool) else {"causal": True, "lookahead": causal}


#: causal, centred, and causal read 7 frames late (the network table's lookahead)
KINDS = pytest.mark.parametrize("causal", [True, False, 7], ids=["causal", "centred", "lookahead7"])


def network(cls, causal: bool | int, seed: int = 0):
    torch.manual_seed(seed)
    net = cls(num_classes=5, num_freqbins=64, out_channels=16, num_layers=5, kernel_size=3, **padding(causal))
    return inference_copy(net)


def staged_network(cls, causal: bool | int):
    """Three stages that carry most of the receptive field (2 x 62 of TCN's 129 frames): a 1-block first
    stage, 5-layer refinement stages. Untrained logits are near uniform, and a softmax of near-uniform
    logits hardly changes: the logits are scaled up, so that what a stage sees shows in its output."""
    torch.manual_seed(0)
    net = cls(num_classes=5, num_freqbins=64, out_channels=16, num_layers=1, kernel_size=3, **padding(causal),
              stages=3, stage_layers=5, stage_channels=8)  # fmt: skip
    with torch.no_grad():
        for conv in (net.fc, *(stage.conv_out for stage in net.refinement)):
            conv.weight.mul_(5)
    return inference_copy(net)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 64, N_FRAMES)).astype(np.float32)


def whole(net, frames: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(frames)[None])[0].numpy()


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@KINDS
@pytest.mark.parametrize("chunk", [37, 300, N_FRAMES - 1, 4 * N_FRAMES])
def test_logits_equal_whole_sequence(frames, cls, causal, chunk):
    net = network(cls, causal)
    reference = whole(net, frames)
    out = chunked_logits(net, frames, chunk)
    assert out.shape == reference.shape
    np.testing.assert_allclose(out, reference, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(out.argmax(0), reference.argmax(0))
    # both ends and both sides of every seam, explicitly
    seams = {0, N_FRAMES - 1, *range(chunk, N_FRAMES, chunk), *range(chunk - 1, N_FRAMES, chunk)}
    for j in sorted(seams):
        np.testing.assert_allclose(out[:, j], reference[:, j], atol=1e-4, rtol=0, err_msg=f"frame {j}")


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@KINDS
def test_frames_fed_in_random_blocks(frames, cls, causal):
    net = network(cls, causal, seed=1)
    reference = whole(net, frames)
    rng = np.random.default_rng(2)
    cuts = np.sort(rng.choice(np.arange(1, N_FRAMES), 12, replace=False))
    blocks = np.split(frames, cuts, axis=-1)
    np.testing.assert_allclose(chunked_logits(net, blocks, 151, n_frames=N_FRAMES), reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@KINDS
@pytest.mark.parametrize("chunk", [37, 300])
def test_multi_stage_logits_equal_whole_sequence(frames, cls, causal, chunk):
    """Refinement stages widen the receptive field (and, centred, the lookahead): still exact at the seams,
    and the stages' share of the context is needed (half the context changes seam logits)."""
    net = staged_network(cls, causal)
    left, right, exact = context_of(net)
    first_stage = net.receptive_field - sum(stage.receptive_field - 1 for stage in net.refinement)
    assert exact and left + right + 1 == net.receptive_field > 2 * first_stage and right == net.lookahead
    reference = whole(net, frames)
    out = chunked_logits(net, frames, chunk)
    np.testing.assert_allclose(out, reference, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(out.argmax(0), reference.argmax(0))
    if chunk == 300:  # one chunk size suffices to show it
        assert np.abs(chunked_logits(net, frames, chunk, context=(left // 2, right)) - reference).max() > 1e-3
        if right:
            assert np.abs(chunked_logits(net, frames, chunk, context=(left, right // 2)) - reference).max() > 1e-3


@pytest.mark.parametrize("cls", [TCN, ConvTCN])
@KINDS
def test_context_is_the_receptive_field_and_needed(frames, cls, causal):
    """The context comes from receptive_field/lookahead, and it is needed: half of it changes seam logits."""
    net = network(cls, causal)
    left, right, exact = context_of(net)
    assert exact and left + right + 1 == net.receptive_field and right == net.lookahead
    assert (right == 0) == (causal is True and cls is TCN)  # ConvTCN's front end looks ahead even when causal
    assert right == net.delay + (4 if cls is ConvTCN else 0) or causal is False
    reference = whole(net, frames)
    short_left = chunked_logits(net, frames, 300, context=(left // 2, right))
    assert np.abs(short_left - reference).max() > 1e-4
    if right:
        short_right = chunked_logits(net, frames, 300, context=(left, right // 2))
        assert np.abs(short_right - reference).max() > 1e-4


def test_outputs_come_in_order_and_cover_every_frame_once(frames):
    net = network(TCN, False)
    left, right, _ = context_of(net)
    runner = ChunkedInference(net, N_FRAMES, 400, left, right)
    starts, total = [], 0
    for block in np.split(frames, [10, 500, 501, 700], axis=-1):
        for start, logits in runner.feed(block):
            starts.append(start)
            total += logits.shape[-1]
    for start, logits in runner.finish():
        starts.append(start)
        total += logits.shape[-1]
    assert starts == [0, 400] and total == N_FRAMES


def test_feeding_too_few_frames_is_an_error(frames):
    net = network(TCN, True)
    runner = ChunkedInference(net, N_FRAMES, 100, *context_of(net)[:2])
    list(runner.feed(frames[..., :10]))
    with pytest.raises(ValueError, match="fed 10 frames"):
        list(runner.finish())


def test_tweetynet_overlapped_chunks_agree_with_whole_sequence(tmp_path):
    """TweetyNet's BiLSTM has no receptive field: overlapped chunks (default context) on the real
    bout, 2-s chunks.  Measured for docs/annotate.md: seeded untrained weights, frame agreement 1.0
    and logits within 1e-6 with the default 2048-frame context (0.12 without context)."""
    import soundfile

    from vak_tcn.inference.annotate import Annotator
    from vak_tcn.plugins import vak_compat

    from helpers.data import REAL_BOUT
    from helpers.inference import make_predict_config

    annotator = Annotator(make_predict_config(tmp_path, model="TweetyNetPlugin"))
    left, right, exact = context_of(annotator.net)
    assert not exact and left == right == 2048
    samples, rate = soundfile.read(REAL_BOUT / "bout_1.wav")
    frames = annotator.standardizer(vak_compat.spectrogram(samples, rate, annotator.spect_params)[0])
    frames = frames[np.newaxis, :, :3000].astype(np.float32)  # 6 s of the bout
    reference = whole(annotator.net, frames)
    out = chunked_logits(annotator.net, frames, 1000)
    assert (out.argmax(0) == reference.argmax(0)).mean() == 1.0
    np.testing.assert_allclose(out, reference, atol=1e-6, rtol=0)
    no_context = chunked_logits(annotator.net, frames, 1000, context=(0, 0))
    assert np.abs(no_context - reference).max() > 1e-3  # context matters
