"""The family's loss with refinement stages (MS-TCN): summed over stages in training, the last stage's in
validation; one stage is exactly the loss without stages."""

from __future__ import annotations

import numpy as np
import torch
import vak  # noqa: F401  (loads the plugins through the start-up hook, or below)

from vak_tcn import plugins
from vak_tcn.nn import SmoothedCrossEntropy

plugins.load_plugins()

LABELMAP = {"background": 0, "a": 1, "b": 2}
INPUT_SHAPE = (1, 64, 32)  # channels, freqbins, window
LOSS = {"tmse_weight": 0.15, "similarity": "gaussian"}  # a smoothing loss that needs the inputs
SMALL = {
    "out_channels": 8,
    "num_layers": 2,
    "dropout": 0.0,
    "stage_layers": 3,
    "stage_channels": 8,
    "stage_dropout": 0.0,
}


def get_model(name="TCN", post_tfm=None, **network):
    import vak.models

    config = {"network": network, "optimizer": {"lr": 0.001}, "loss": dict(LOSS), "metrics": {}}
    torch.manual_seed(0)
    return vak.models.get(
        name, config, input_shape=INPUT_SHAPE, num_classes=len(LABELMAP), labelmap=LABELMAP, post_tfm=post_tfm
    )


def batch(seed=0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {
        "frames": torch.randn(4, *INPUT_SHAPE, generator=gen),
        "multi_frame_labels": torch.randint(0, 3, (4, INPUT_SHAPE[-1]), generator=gen),
    }


def logged(model) -> dict:
    values = {}
    model.log = lambda name, value, **kw: values.__setitem__(name, torch.as_tensor(value).detach().clone())
    return values


def test_training_loss_is_the_sum_over_stages_of_the_configured_loss():
    model = get_model(stages=3, **SMALL)
    values = logged(model)
    data = batch()
    loss = model.training_step(data, 0)
    by_hand = SmoothedCrossEntropy(**LOSS)  # the loss module the config names, built here
    with torch.no_grad():
        stages = model.network.forward_stages(data["frames"])
        per_stage = [by_hand(logits, data["multi_frame_labels"], inputs=data["frames"]) for logits in stages]
    assert len(per_stage) == 3
    torch.testing.assert_close(loss.detach(), sum(per_stage), rtol=1e-6, atol=0)
    torch.testing.assert_close(values["train_loss"], loss.detach())
    assert abs(float(loss.detach()) - float(per_stage[-1])) > 0.5  # not the last stage's alone
    loss.backward()  # every stage is trained
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.network.refinement.parameters())


def test_one_stage_gives_exactly_the_loss_of_the_network_output():
    model = get_model(**SMALL)
    logged(model)
    assert model.network.num_stages == 1
    data = batch(1)
    loss = model.training_step(data, 0)
    with torch.no_grad():
        expected = model.loss(model.network(data["frames"]), data["multi_frame_labels"], inputs=data["frames"])
    assert torch.equal(loss.detach(), expected)


def test_a_network_without_stages_still_trains():
    model = get_model("TweetyNetPlugin")
    assert not hasattr(model.network, "forward_stages")
    logged(model)
    data = batch(2)
    loss = model.training_step(data, 0)
    with torch.no_grad():
        expected = model.loss(model.network(data["frames"]), data["multi_frame_labels"], inputs=data["frames"])
    torch.testing.assert_close(loss.detach(), expected)


def test_validation_loss_is_the_last_stages():
    """val_loss: the configured loss of the logits every validation metric scores (the last stage's)."""
    from vak.transforms.frame_labels import PostProcess

    model = get_model(stages=3, post_tfm=PostProcess(timebin_dur=0.002), **SMALL).eval()
    values = logged(model)
    window = INPUT_SHAPE[-1]
    labels = np.zeros(2 * window, dtype=np.int64)
    labels[5:20], labels[40:60] = 1, 2
    frames = torch.randn(1, 2, *INPUT_SHAPE, generator=torch.Generator().manual_seed(3))
    model.validation_step({"frames": frames, "multi_frame_labels": torch.from_numpy(labels)[None]}, 0)
    with torch.no_grad():
        stages = model.network.forward_stages(frames[0])  # (windows, classes, window)
        as_sequence = [s.permute(1, 0, 2).reshape(1, len(LABELMAP), -1) for s in stages]
        inputs = frames[0].permute(1, 2, 0, 3).reshape(1, *INPUT_SHAPE[:2], -1)
        target = torch.from_numpy(labels)[None]
        per_stage = [model.loss(s, target, inputs=inputs) for s in as_sequence]
    torch.testing.assert_close(values["val_loss"], per_stage[-1])
    assert abs(float(values["val_loss"]) - float(sum(per_stage))) > 0.5
