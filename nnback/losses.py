"""Losses on integer class labels, each returning the batch-mean loss and its gradient.

Labels are always integer class indices of shape (batch,): one-hot targets are built inside the
loss that needs them, so there is one label format everywhere and no way for integer labels to
broadcast silently against (batch, classes) outputs (the bug that keeps notebooks at 11%).

A loss receives the network's last pre-activation ``z`` and its output activation, and returns
``(loss, dz)`` with ``loss`` a 0-d device array (no host sync) and ``dz`` the gradient w.r.t. ``z``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from array_api_compat import array_namespace
from array_api_compat import device as device_of

from .activations import ACTIVATIONS, Activation


@dataclass(frozen=True)
class Loss:
    """``value_and_grad(z, labels, output) -> (loss, dz)``; ``outputs`` lists the output
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


def _quadratic(z, labels, output: Activation):
    # ½‖a − y‖² per sample, averaged over the batch (Nielsen's QuadraticCost).
    check_labels(z, labels)
    xp = array_namespace(z)
    a = output.forward(z)
    diff = a - one_hot(labels, z.shape[1], z.dtype)
    scale = 1.0 / z.shape[0]
    loss = (0.5 * scale) * xp.sum(diff * diff)
    return loss, output.backward(a, diff * scale)


def _cross_entropy(z, labels, output: Activation):
    check_labels(z, labels)
    if output.name == "sigmoid":
        return _binary_cross_entropy(z, labels)
    # Softmax fused with its cross-entropy: (softmax(z) − y) / n is exact and stable, whereas
    # backpropagating through a separate softmax is neither.
    xp = array_namespace(z)
    shifted = z - xp.max(z, axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=1, keepdims=True)
    target = one_hot(labels, z.shape[1], z.dtype)
    scale = 1.0 / z.shape[0]
    loss = scale * xp.sum(target * (xp.log(total) - shifted))
    return loss, (e / total - target) * scale


def _binary_cross_entropy(z, labels):
    # Per-output sigmoid cross-entropy (Nielsen's network2 CrossEntropyCost), from logits:
    # max(z, 0) − z·y + log(1 + exp(−|z|)) never overflows; its gradient is σ(z) − y.
    xp = array_namespace(z)
    target = one_hot(labels, z.shape[1], z.dtype)
    scale = 1.0 / z.shape[0]
    loss = scale * xp.sum(xp.maximum(z, 0.0) - z * target + xp.log1p(xp.exp(-xp.abs(z))))
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
