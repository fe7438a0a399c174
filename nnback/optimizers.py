"""Optimizers: SGD (with momentum or Nesterov momentum) and Adam, updating parameters in place.

L2 weight decay adds ``weight_decay * w`` to the gradient of each weight matrix (biases are not
decayed, as in Nielsen's network2). Hyperparameters are Python floats, so a float32 network stays
float32. State (velocities, moments) is created lazily with ``zeros_like``: same device, same dtype.

On the CPU an update runs in row blocks of about ``BLOCK`` elements: each of its elementwise passes
then works on data already in cache instead of streaming the whole parameter from memory again
(Adam makes about ten such passes). On other devices a block is the whole array, one kernel per pass.
"""

from __future__ import annotations

import math

from array_api_compat import array_namespace, is_numpy_namespace

BLOCK = 32_768  # elements; a block's few float32 temporaries fit a 1-2 MiB L2 cache


def blocks(p, block: int | None = None) -> list:
    """Index tuples covering ``p`` in row blocks of about ``block`` elements.

    ``None`` means ``BLOCK`` on the CPU (NumPy) and the whole array elsewhere: CPU caches reward
    blocking, while on a GPU every block would be another round of kernel launches.
    """
    n = int(p.shape[0])
    row = math.prod(int(size) for size in p.shape[1:])
    if block is None:
        block = BLOCK if is_numpy_namespace(array_namespace(p)) else n * row
    rows = max(1, block // max(row, 1))
    return [(slice(start, min(start + rows, n)), ...) for start in range(0, n, rows)]


FLUSH_EVERY, TINY = 32, 1e-18


def flush_subnormals(arrays) -> None:
    """Round values smaller than ~1e-25 in magnitude to zero, in place (x + TINY − TINY).

    Where a gradient is exactly zero (MNIST's always-blank border pixels), momentum and Adam state
    decays geometrically into float32 subnormals, which then never reach zero (0.9 · 2⁻¹⁴⁹ rounds
    back to 2⁻¹⁴⁹) and make every later pass over them several times slower on x86 CPUs. Called
    every ``FLUSH_EVERY`` steps; it moves any other value by at most half an ulp of TINY (~6e-26 in
    float32), far below anything an update can resolve.
    """
    for x in arrays:
        x += TINY
        x -= TINY


def _gradients(model, weight_decay: float):
    """(parameter, gradient) pairs with L2 decay folded into the weights' gradients."""
    for layer in model.layers:
        dw = layer.dw if weight_decay == 0.0 else layer.dw + weight_decay * layer.w
        yield layer.w, dw
        yield layer.b, layer.db


class SGD:
    """p ← p − lr·g; with momentum μ: v ← μv + g, p ← p − lr·v (Nesterov: p ← p − lr·(g + μv))."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        if nesterov and momentum <= 0.0:
            raise ValueError("Nesterov momentum needs --momentum > 0")
        self.lr, self.momentum, self.nesterov, self.weight_decay = float(lr), float(momentum), nesterov, float(weight_decay)
        self.velocity: list = []
        self.steps = 0
        self.block: int | None = None  # elements per update block; None: see blocks()

    def step(self, model) -> None:
        pairs = list(_gradients(model, self.weight_decay))
        if self.momentum == 0.0:
            for p, g in pairs:
                p -= self.lr * g
            return
        if not self.velocity:
            self.velocity = [array_namespace(p).zeros_like(p) for p, _ in pairs]
        self.steps += 1
        if self.steps % FLUSH_EVERY == 0:
            flush_subnormals(self.velocity)
        for (p, g), v in zip(pairs, self.velocity):
            for rows in blocks(p, self.block):
                v_rows = v[rows] * self.momentum
                v_rows += g[rows]
                v[rows] = v_rows
                if self.nesterov:
                    v_rows *= self.momentum
                    v_rows += g[rows]
                v_rows *= self.lr
                p[rows] -= v_rows

    def state(self) -> dict:
        return {"velocity": self.velocity}

    def load_state(self, state: dict) -> None:
        self.velocity = list(state.get("velocity", []))

    def __repr__(self) -> str:
        kind = "nesterov" if self.nesterov else "momentum"
        extra = f", {kind}={self.momentum}" if self.momentum else ""
        return f"SGD(lr={self.lr}{extra}, weight_decay={self.weight_decay})"


class Adam:
    """Kingma & Ba (2015): m ← β1·m + (1−β1)g, v ← β2·v + (1−β2)g², p ← p − lr·m̂ / (√v̂ + ε).

    ``m`` and ``v`` are stored without their (1 − β) factors (m ← β1·m + g, v ← β2·v + g²); those
    factors and the bias corrections are folded into two Python scalars, saving two passes.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0):
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m: list = []
        self.v: list = []
        self.block: int | None = None  # elements per update block; None: see blocks()

    def step(self, model) -> None:
        pairs = list(_gradients(model, self.weight_decay))
        if not self.m:
            self.m = [array_namespace(p).zeros_like(p) for p, _ in pairs]
            self.v = [array_namespace(p).zeros_like(p) for p, _ in pairs]
        self.t += 1
        if self.t % FLUSH_EVERY == 0:
            flush_subnormals(self.m + self.v)
        # lr·m̂/(√v̂ + ε) for the stored m, v is step_size·m/(√v + eps) with k = √((1−β2)/c2).
        k = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        step_size = self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1**self.t) * k)
        eps = self.eps / k
        for (p, g), m, v in zip(pairs, self.m, self.v):
            xp = array_namespace(p)
            for rows in blocks(p, self.block):
                g_rows = g[rows]
                m_rows = m[rows] * self.beta1
                m_rows += g_rows
                v_rows = g_rows * g_rows
                v_rows += v[rows] * self.beta2
                m[rows], v[rows] = m_rows, v_rows
                denominator = xp.sqrt(v_rows)
                denominator += eps
                m_rows /= denominator
                m_rows *= step_size
                p[rows] -= m_rows

    def state(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state(self, state: dict) -> None:
        self.m, self.v, self.t = list(state.get("m", [])), list(state.get("v", [])), int(state.get("t", 0))

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, betas=({self.beta1}, {self.beta2}), eps={self.eps}, weight_decay={self.weight_decay})"


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, **adam):
    """Build an optimizer by CLI name: sgd, momentum, nesterov or adam."""
    if name == "sgd":
        return SGD(lr, 0.0, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return SGD(lr, momentum, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay, **adam)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
