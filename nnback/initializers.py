"""Initial weights and biases, drawn on the host from a seeded NumPy Generator.

Drawing on the host (float64, then cast once) is what gives every backend bit-identical starting
weights for the same seed. The draw order is fixed: layer by layer, weights then biases.
"""

from __future__ import annotations

import math


def _normal(rng, n_in, n_out):
    # Nielsen's network.py: weights and biases from N(0, 1).
    return rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)


def _uniform(rng, n_in, n_out):
    # The from-scratch notebooks: np.random.rand(...) - 0.5, i.e. U[-0.5, 0.5).
    return rng.random((n_in, n_out)) - 0.5, rng.random(n_out) - 0.5


def _xavier(rng, n_in, n_out):
    # Glorot & Bengio (2010) uniform, Keras' default for Dense: keeps activation variance ~constant.
    limit = math.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)), [0.0] * n_out


def _he(rng, n_in, n_out):
    # He et al. (2015): N(0, 2 / n_in) keeps ReLU activations from shrinking layer by layer.
    return rng.standard_normal((n_in, n_out)) * math.sqrt(2.0 / n_in), [0.0] * n_out


INITIALIZERS = {"normal": _normal, "uniform": _uniform, "xavier": _xavier, "he": _he}


def initial_parameters(sizes, scheme: str, rng) -> list[tuple]:
    """Host (w, b) pairs for layer sizes like [784, 30, 10]: w (n_in, n_out), b (n_out,), as
    NumPy arrays from ``rng`` (zero biases as plain lists: this module needs no NumPy import)."""
    try:
        draw = INITIALIZERS[scheme]
    except KeyError:
        raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(INITIALIZERS)}") from None
    return [draw(rng, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
