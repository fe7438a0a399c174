"""Hand-written backprop against central finite differences, in float64, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import conftest
import nnback
from nnback.activations import ACTIVATIONS, get_activation
from nnback.losses import get_loss
from nnback.model import MLP

# Central differences have error O(h²) ≈ 1e-10 for h = 1e-5 on these smooth, O(1) functions; the
# analytic and numeric gradients therefore agree to ~1e-8 relative, far below any real mistake.
H, RTOL, ATOL = 1e-5, 1e-6, 1e-8


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    return conftest.numeric_gradient(f, x, H)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_finite_differences(backend, rng, name):
    activation = get_activation(name)
    z = rng.standard_normal((4, 5))
    weights = rng.standard_normal((4, 5))  # a random linear read-out makes the check non-trivial

    def f(z_host):
        return float(np.sum(nnback.to_numpy(activation.forward(backend.asarray(z_host))) * weights))

    a = activation.forward(backend.asarray(z))
    analytic = nnback.to_numpy(activation.backward(a, backend.asarray(weights)))
    np.testing.assert_allclose(analytic, numeric_gradient(f, z.copy()), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "loss_name, output",
    [("quadratic", "sigmoid"), ("quadratic", "softmax"), ("quadratic", "identity"),
     ("cross-entropy", "softmax"), ("cross-entropy", "sigmoid")],
)
def test_loss_gradient_matches_finite_differences(backend, rng, loss_name, output):
    loss, activation = get_loss(loss_name), get_activation(output)
    z = rng.standard_normal((6, 10)) * 3.0
    labels = backend.asarray(rng.integers(0, 10, 6), backend.xp.int64)

    def f(z_host):
        return float(loss.value_and_grad(backend.asarray(z_host), labels, activation)[0])

    _, dz = loss.value_and_grad(backend.asarray(z), labels, activation)
    np.testing.assert_allclose(nnback.to_numpy(dz), numeric_gradient(f, z.copy()), rtol=RTOL, atol=ATOL)


def test_cross_entropy_is_stable_for_huge_logits(backend):
    z = backend.asarray(np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]]))
    labels = backend.asarray(np.array([0, 2]), backend.xp.int64)
    value, dz = get_loss("cross-entropy").value_and_grad(z, labels, get_activation("softmax"))
    assert np.isclose(float(value), np.log(3.0) / 2)
    assert np.all(np.isfinite(nnback.to_numpy(dz)))


@pytest.mark.parametrize(
    "sizes, hidden, output, loss_name",
    [([5, 4, 3], "sigmoid", "sigmoid", "quadratic"),
     ([5, 6, 4, 3], "relu", "softmax", "cross-entropy"),
     ([5, 4, 4, 3], ["tanh", "relu"], "softmax", "quadratic"),
     ([5, 3], [], "softmax", "cross-entropy")],
)
def test_network_backprop_matches_finite_differences(backend, rng, sizes, hidden, output, loss_name):
    model = MLP.create(sizes, backend, rng, hidden, output, "xavier")
    loss = get_loss(loss_name)
    x = backend.asarray(rng.standard_normal((7, sizes[0])))
    labels = backend.asarray(rng.integers(0, sizes[-1], 7), backend.xp.int64)
    model.backward(loss.value_and_grad(model.forward(x, train=True), labels, model.output)[1])
    for layer in model.layers:
        for name in ("w", "b"):
            host = nnback.to_numpy(getattr(layer, name)).copy()

            def f(values, name=name, layer=layer):
                setattr(layer, name, backend.asarray(values))
                return float(loss.value_and_grad(model.forward(x), labels, model.output)[0])

            numeric = numeric_gradient(f, host)
            setattr(layer, name, backend.asarray(host))
            analytic = nnback.to_numpy(getattr(layer, "d" + name))
            np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL)


def test_integer_labels_never_broadcast_against_outputs(backend):
    z = backend.asarray(np.zeros((4, 10)))
    wrong = backend.asarray(np.zeros((4, 1)), backend.xp.int64)
    with pytest.raises(ValueError, match="integer class indices of shape"):
        get_loss("quadratic").value_and_grad(z, wrong, get_activation("sigmoid"))
