"""A float32 network stays float32 through a whole training step: no silent float64 promotion."""

from __future__ import annotations

import pytest

from nnback.losses import get_loss
from nnback.model import MLP
from nnback.optimizers import make_optimizer
from nnback.training import Batches, train_step


@pytest.mark.parametrize(
    "hidden, output, loss_name, optimizer",
    [("sigmoid", "sigmoid", "quadratic", "sgd"), ("relu", "softmax", "cross-entropy", "momentum"),
     ("tanh", "softmax", "cross-entropy", "adam"), ("relu", "sigmoid", "cross-entropy", "nesterov")],
)
def test_a_training_step_keeps_every_array_float32(backend32, rng, hidden, output, loss_name, optimizer):
    model = MLP.create([6, 5, 4, 3], backend32, rng, hidden, output, "xavier")
    x = backend32.asarray(rng.standard_normal((8, 6)))
    y = backend32.asarray(rng.integers(0, 3, 8), backend32.xp.int64)
    opt = make_optimizer(optimizer, 0.1, weight_decay=0.01)
    xb, yb = next(Batches(x, y, 4, rng).epoch())
    for _ in range(2):
        loss = train_step(model, get_loss(loss_name), opt, xb, yb)
    state = [a for values in opt.state().values() if isinstance(values, list) for a in values]
    arrays = [loss, *model.parameters(), *(g for layer in model.layers for g in (layer.dw, layer.db)), *state]
    assert [a.dtype for a in arrays] == [backend32.dtype] * len(arrays)
