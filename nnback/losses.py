"""Losses on integer class labels, each returning the batch-mean loss and its gradient.

Labels are always integer class indices of shape (batch,): one-hot targets are built inside the
loss that needs them, so there is one label format everywhere and no way for integer labels to
broadcast silently against (batch, classes) outputs (the bug that keeps notebooks at 11%).

A loss receives the network's last pre-activation ``z`` and its output activation, and returns
``(loss, dz)`` with ``loss`` a 0-d device array (no host sync) and ``dz`` the gradient w.r.t. ``z``.
An optional per-sample ``weights`` vector (batch,) multiplies each sample's loss in the batch mean,
Σ wᵢ·lossᵢ / n. Weights scaled to mean 1 over the training set (as the estimators scale them) make
integer weights act as repeated rows in full-batch training, Σw playing the role of n. Dividing by
the batch's own Σw instead (scikit-learn's choice) would let a batch of only down-weighted samples
count as much as any other, which undoes extreme class weights in mini-batch training.
The quadratic loss also takes real targets of shape (batch, n_out) instead of labels (regression).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from array_api_compat import device as device_of

from .arrays import array_namespace
from .activations import ACTIVATIONS, Activation


@dataclass(frozen=True)
class Loss:
    """``value_and_grad(z, labels, output, weights=None) -> (loss, dz)``; ``outputs`` lists the output
    activations it works with (``None``: any)."""

    name: str
    value_and_grad: Callable
    outputs: tuple[str, ...] | None = None

    def check_output(self, output: Activation) -> None:
        if self.outputs is not None and output.name not in self.outputs:
            raise ValueError(
                f"loss {self.name!r} needs a {' or '.join(self.outputs)} output activation, "
                f"not {output.name!r}"
            )

    def __repr__(self) -> str:
        return self.name


def one_hot(labels, n_classes: int, dtype):
    """(batch,) integer labels → (batch, n_classes) one-hot rows in ``dtype``."""
    xp = array_namespace(labels)
    classes = xp.arange(n_classes, dtype=labels.dtype, device=device_of(labels))
    return xp.astype(xp.expand_dims(labels, axis=1) == classes, dtype)


def check_labels(z, labels) -> None:
    """Refuse labels that would broadcast against the outputs instead of indexing them."""
    xp = array_namespace(z, labels)
    if labels.ndim != 1 or labels.shape[0] != z.shape[0] or not xp.isdtype(labels.dtype, "integral"):
        raise ValueError(
            f"labels must be integer class indices of shape ({z.shape[0]},), "
            f"got {labels.dtype} of shape {tuple(labels.shape)}"
        )


def targets(z, labels):
    """Rows to compare the outputs with: real targets (batch, n_out) as they are (regression), or
    one-hot rows of integer class labels (batch,)."""
    xp = array_namespace(z, labels)
    if labels.ndim == 2 and tuple(labels.shape) == tuple(z.shape) and xp.isdtype(labels.dtype, "real floating"):
        return labels if labels.dtype == z.dtype else xp.astype(labels, z.dtype)
    check_labels(z, labels)
    return one_hot(labels, z.shape[1], z.dtype)


def sample_scale(z, weights):
    """Each sample's factor in the batch mean: 1/n (a Python float) without weights, else
    wᵢ / n as a (batch, 1) column."""
    scale = 1.0 / z.shape[0]
    if weights is None:
        return scale
    xp = array_namespace(z, weights)
    if weights.ndim != 1 or weights.shape[0] != z.shape[0]:
        raise ValueError(f"weights must have shape ({z.shape[0]},), got {tuple(weights.shape)}")
    weights = weights if weights.dtype == z.dtype else xp.astype(weights, z.dtype)
    return xp.expand_dims(weights * scale, axis=1)


def _mean(xp, terms, scale):
    """Σ scaleᵢ·termsᵢⱼ: the (weighted) batch mean of per-element terms (batch, k)."""
    return scale * xp.sum(terms) if isinstance(scale, float) else xp.sum(scale * terms)


def _quadratic(z, labels, output: Activation, weights=None):
    # ½‖a − y‖² per sample, averaged over the batch (Nielsen's QuadraticCost); with identity
    # outputs and real targets it is the squared error of regression.
    xp = array_namespace(z)
    a = output.forward(z)
    diff = a - targets(z, labels)
    scale = sample_scale(z, weights)
    loss = 0.5 * _mean(xp, diff * diff, scale)
    return loss, output.backward(a, diff * scale)


def _cross_entropy(z, labels, output: Activation, weights=None):
    check_labels(z, labels)
    if output.name == "sigmoid":
        return _binary_cross_entropy(z, labels, weights)
    # Softmax fused with its cross-entropy: (softmax(z) − y) / n is exact and stable, whereas
    # backpropagating through a separate softmax is neither.
    xp = array_namespace(z)
    shifted = z - xp.max(z, axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=1, keepdims=True)
    target = one_hot(labels, z.shape[1], z.dtype)
    scale = sample_scale(z, weights)
    loss = _mean(xp, target * (xp.log(total) - shifted), scale)
    return loss, (e / total - target) * scale


def _binary_cross_entropy(z, labels, weights=None):
    # Per-output sigmoid cross-entropy (Nielsen's network2 CrossEntropyCost), from logits:
    # max(z, 0) − z·y + log(1 + exp(−|z|)) never overflows; its gradient is σ(z) − y.
    xp = array_namespace(z)
    target = one_hot(labels, z.shape[1], z.dtype)
    scale = sample_scale(z, weights)
    loss = _mean(xp, xp.maximum(z, 0.0) - z * target + xp.log1p(xp.exp(-xp.abs(z))), scale)
    return loss, (ACTIVATIONS["sigmoid"].forward(z) - target) * scale


LOSSES = {
    loss.name: loss
    for loss in (
        Loss("quadratic", _quadratic),
        Loss("cross-entropy", _cross_entropy, outputs=("softmax", "sigmoid")),
    )
}


def get_loss(name: str) -> Loss:
    """Look a loss up by name, with the valid names in the error."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
