"""Fused optimizer updates on CuPy: one kernel per parameter where the Array API update launches
five (SGD with momentum) to ten (Adam) elementwise passes, each reading and writing the whole array.

Each kernel performs the reference update's operations (``optimizers.py``) in the same order, on
the same float type, and is compiled with ``--fmad=false`` so that no multiply and add are
contracted into one rounding: the result is the reference's bit for bit. The kernels' sources are
written one operation a statement, so that a test can also run them on NumPy arrays
(``tests/test_fused_sources.py``); on a GPU ``tests/test_gpu_fused.py`` compares the compiled
kernels with the reference. Scalars that change per step (the learning rate, Adam's factors) are
read from the optimizer's 0-d device arrays, so a captured step (``cuda_graphs.py``) replays them.

Experimental and not yet run on a GPU: used only with ``NNBACK_CUDA_FUSED=1``. CuPy is imported
when a kernel is first built, which happens only for CuPy arrays.
"""

from __future__ import annotations

# grad = p·wd + g for decayed weights (the reference's _gradient_rows), else g.
_GRADIENT = """
T grad = g;
if (decay) { grad = p * wd; grad = grad + g; }
"""

# name: (inputs, outputs, body)
SOURCES = {
    "sgd": ("T g, T lr, T wd, int32 decay", "T p", _GRADIENT + """
T step = lr * grad;
p = p - step;
"""),
    "momentum": ("T g, T lr, T mu, T wd, int32 decay, int32 nesterov", "T p, T v", _GRADIENT + """
T velocity = v * mu;
velocity = velocity + grad;
v = velocity;
T step = velocity;
if (nesterov) { step = velocity * mu; step = step + grad; }
step = step * lr;
p = p - step;
"""),
    "adam": ("T g, T step_size, T eps, T beta1, T beta2, T wd, int32 decay", "T p, T m, T v", _GRADIENT + """
T first = m * beta1;
first = first + grad;
T square = grad * grad;
T decayed = v * beta2;
T second = square + decayed;
m = first;
v = second;
T denominator = sqrt(second);
denominator = denominator + eps;
T step = first / denominator;
step = step * step_size;
p = p - step;
"""),
}

_kernels: dict = {}


def _kernel(name: str):
    kernel = _kernels.get(name)
    if kernel is None:
        import cupy

        inputs, outputs, body = SOURCES[name]
        kernel = _kernels[name] = cupy.ElementwiseKernel(inputs, outputs, body, f"nnback_{name}",
                                                         options=("--fmad=false",))
    return kernel


def sgd(p, g, v, lr, momentum: float, nesterov: bool, weight_decay: float, decay: bool) -> None:
    """One SGD update of ``p`` (and its velocity ``v``, None without momentum) in place."""
    if v is None:
        _kernel("sgd")(g, lr, weight_decay, int(decay), p)
    else:
        _kernel("momentum")(g, lr, momentum, weight_decay, int(decay), int(nesterov), p, v)


def adam(p, g, m, v, step_size, eps, beta1: float, beta2: float, weight_decay: float, decay: bool) -> None:
    """One Adam update of ``p`` and its moments ``m``, ``v`` in place (m, v stored without their
    (1 − β) factors, as ``optimizers.Adam`` keeps them)."""
    _kernel("adam")(g, step_size, eps, beta1, beta2, weight_decay, int(decay), p, m, v)
