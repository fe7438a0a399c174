"""The multilayer perceptron: dense layers, hand-written forward and backward passes.

Batch-major throughout: a layer maps x (batch, n_in) to x @ w + b (batch, n_out), with
w (n_in, n_out) and b (n_out,). Backward *assigns* fresh gradients every step (``dw``, ``db``),
so there is nothing to zero and nothing to forget.
"""

from __future__ import annotations

import operator

from array_api_compat import device as device_of

from .arrays import array_namespace
from .activations import Activation, get_activation
from .initializers import initial_parameters
from .products import current
from .rng import keep_mask, stream_key


class Dense:
    """An affine layer: parameters ``w`` (n_in, n_out) and ``b`` (n_out,), gradients ``dw``, ``db``."""

    def __init__(self, w, b):
        self.w, self.b = w, b
        self.dw = self.db = None

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.w.shape[0]), int(self.w.shape[1]))

    def forward(self, x, matmul=operator.matmul):
        """x (batch, n_in) → (batch, n_out); ``matmul`` computes the product (``products.py``)."""
        z = matmul(x, self.w)
        z += self.b
        return z

    def backward(self, x, dz, need_dx: bool = True, matmul=operator.matmul):
        """Set ``dw``, ``db`` from the layer input x and dL/dz (batch, n_out); return dL/dx
        (skipped for the first layer, whose input is the data)."""
        xp = array_namespace(dz)
        # When the batch is longer than the layer is wide (full batch), OpenBLAS sums over it
        # 1.4-2.8x faster as the contiguous inner axis of both operands (benchmarks/); for
        # mini-batches the transposed dw this gives would slow the optimizer down instead.
        self.dw = matmul(dz.T, x).T if x.shape[0] > x.shape[1] else matmul(x.T, dz)
        # The bias gradient sums dz over the batch. As a (1, batch) @ (batch, n_out) product it
        # runs in BLAS: faster than xp.sum(dz, axis=0) on NumPy (2-D GEMM), and ~10x faster
        # on CuPy, whose axis-0 reduction reads memory with a stride (measured: benchmarks/).
        ones = xp.ones((1, dz.shape[0]), dtype=dz.dtype, device=device_of(dz))
        self.db = xp.reshape(matmul(ones, dz), (dz.shape[1],))
        return matmul(dz, self.w.T) if need_dx else None


class MLP:
    """A fully connected network: ``sizes`` like [784, 30, 10], one activation per hidden layer
    and one output activation (applied by the loss, fused where that is exact and stable).

    ``dropout`` holds one rate per layer *input* (index 0: the pixels); dropout acts only in
    training steps that pass a ``noise_key``, so evaluation needs no switch.
    """

    def __init__(self, layers: list[Dense], hidden: list[Activation], output: Activation, dropout=None):
        if len(hidden) != len(layers) - 1:
            raise ValueError(f"{len(layers)} layers need {len(layers) - 1} hidden activations, got {len(hidden)}")
        self.layers, self.hidden, self.output = layers, hidden, output
        self.set_dropout(dropout)
        self._inputs: list = []
        self._outputs: list = []
        self._masks: list = []

    def set_dropout(self, rates=None) -> None:
        """One rate in [0, 1) per layer input (None: no dropout)."""
        rates = [0.0] * len(self.layers) if rates is None else [float(rate) for rate in rates]
        if len(rates) != len(self.layers) or not all(0.0 <= rate < 1.0 for rate in rates):
            raise ValueError(f"dropout needs {len(self.layers)} rates in [0, 1), one per layer input, got {rates}")
        self.dropout = rates

    @classmethod
    def create(cls, sizes, backend, rng, activation="relu", output="softmax", init="he", dropout=None):
        """Build a network on ``backend`` with weights drawn from the host generator ``rng``.

        ``activation`` is one name for every hidden layer or a list of names, one per hidden layer.
        """
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes must be at least two positive numbers, got {sizes}")
        names = [activation] * (len(sizes) - 2) if isinstance(activation, str) else list(activation)
        if len(names) != len(sizes) - 2:
            raise ValueError(f"{len(sizes) - 2} hidden layers need as many activations, got {names}")
        layers = [Dense(backend.asarray(w), backend.asarray(b)) for w, b in initial_parameters(sizes, init, rng)]
        return cls(layers, [get_activation(name) for name in names], get_activation(output), dropout)

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].shape[0]] + [layer.shape[1] for layer in self.layers]

    def forward(self, x, train: bool = False, noise_key=None):
        """x (batch, n_in) → the last layer's pre-activation z (batch, n_out).

        With ``train``, keeps what :meth:`backward` needs; with a ``noise_key`` too, applies
        dropout with masks drawn from that key (the same masks on every backend).
        """
        inputs, outputs, masks = [], [], []
        z, matmul = x, current()
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.hidden[i - 1].forward(z)
            outputs.append(x)
            mask = None
            if noise_key is not None and self.dropout[i] > 0.0:
                mask = keep_mask(x, self.dropout[i], stream_key(noise_key, i))
                x = x * mask
            masks.append(mask)
            inputs.append(x)
            z = layer.forward(x, matmul)
        if train:
            self._inputs, self._outputs, self._masks = inputs, outputs, masks
        return z

    def backward(self, dz) -> None:
        """Backpropagate dL/dz of the output layer, setting every layer's ``dw`` and ``db``."""
        inputs, outputs, masks = self._inputs, self._outputs, self._masks
        self._inputs, self._outputs, self._masks = [], [], []
        assert len(inputs) == len(self.layers), "backward() needs a forward(train=True) first"
        matmul = current()
        for i in range(len(self.layers) - 1, -1, -1):
            dx = self.layers[i].backward(inputs[i], dz, need_dx=i > 0, matmul=matmul)
            if i > 0:
                if masks[i] is not None:
                    dx *= masks[i]  # dx is this step's own fresh array
                # outputs[i] is the previous layer's activation a = f(z); f' is taken from a.
                dz = self.hidden[i - 1].backward(outputs[i], dx)

    def predict_proba(self, x):
        """x (batch, n_in) → output activations (batch, n_out), e.g. class probabilities."""
        return self.output.forward(self.forward(x))

    def predict(self, x):
        """x (batch, n_in) → predicted class indices (batch,)."""
        return array_namespace(x).argmax(self.predict_proba(x), axis=1)

    def parameters(self) -> list:
        """All parameters in a fixed order: w0, b0, w1, b1, …"""
        return [p for layer in self.layers for p in (layer.w, layer.b)]

    def gradients(self) -> list:
        """The gradients of the last :meth:`backward`, in the order of :meth:`parameters`."""
        return [g for layer in self.layers for g in (layer.dw, layer.db)]

    def copy_parameters(self) -> list:
        """Device copies of every parameter (a snapshot, e.g. the best weights so far)."""
        return [array_namespace(p).asarray(p, copy=True) for p in self.parameters()]

    def load_parameters(self, values) -> None:
        """Copy ``values`` (in the order of :meth:`parameters`) into the parameters in place, so
        that anything holding the arrays (an optimizer, a captured step) sees the new values."""
        parameters = self.parameters()
        if len(values) != len(parameters):
            raise ValueError(f"{len(values)} arrays given for {len(parameters)} parameters")
        for p, value in zip(parameters, values):
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"a parameter of shape {tuple(p.shape)} cannot take shape {tuple(value.shape)}")
            p[...] = value

    def __repr__(self) -> str:
        acts = ", ".join(a.name for a in self.hidden)
        drop = f", dropout={self.dropout}" if any(self.dropout) else ""
        return f"MLP({self.sizes}, hidden=[{acts}], output={self.output.name}{drop})"
