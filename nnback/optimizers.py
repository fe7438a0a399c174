"""Optimizers: SGD (with momentum or Nesterov momentum) and Adam, updating parameters in place.

L2 weight decay adds ``weight_decay * w`` to the gradient of each weight matrix (biases are not
decayed, as in Nielsen's network2). Hyperparameters are Python floats, so a float32 network stays
float32.

A step has three parts, so that a CUDA graph could capture the last one: :meth:`prepare` creates
the state (velocities, moments) with ``zeros_like`` (same device, same dtype) the first time;
the per-step scalars (the learning rate, which a schedule sets as ``optimizer.lr``; Adam's bias
corrections) are computed on the host in float64 and written into 0-d device arrays of the
parameters' dtype; then :meth:`update` changes parameters and state in place, reading only arrays
that stay the same from step to step.

On the CPU an update runs in row blocks of about ``BLOCK`` elements: each of its elementwise passes
then works on data already in cache instead of streaming the whole parameter from memory again
(Adam makes about ten such passes). The blocks are independent, and NumPy releases the GIL inside
each pass, so an update of at least ``PARALLEL_MIN`` elements splits its blocks into contiguous
runs of equal size, one per thread (see :func:`run_blocks`). On other devices a block is the whole
array, one kernel per pass, run in order. State and parameters are changed in place, through
their rows (a view of a NumPy block, the array itself elsewhere), never by writing a changed copy
back: a copy back is one more pass over memory per array and step.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from array_api_compat import is_cupy_array, is_numpy_namespace
from array_api_compat import device as device_of

from .arrays import array_namespace

# Elements per block. Smaller blocks keep a block's passes in L1/L2, but each costs a few µs of
# Python that holds the GIL; inside real epochs 128k beat 32k-64k and matched 256k-512k
# (benchmarks/update_in_epoch.py).
BLOCK = 131_072
# Below this many elements a thread handoff (~30 µs) costs about what the second core would save.
PARALLEL_MIN = 131_072


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


def update_threads() -> int:
    """Threads for a large CPU update: as many as the BLAS uses (threadpoolctl, if installed,
    sees limits set by the user or OPENBLAS_NUM_THREADS), else one per CPU."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1
    counts = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
    return max(1, min(counts)) if counts else os.cpu_count() or 1


_pool: ThreadPoolExecutor | None = None
_pool_threads = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: make a new pool there if needed."""
    global _pool, _pool_threads, _pool_lock
    _pool, _pool_threads, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> tuple[ThreadPoolExecutor | None, int]:
    """The shared pool (made on first use, sized once by :func:`update_threads`) and its size."""
    global _pool, _pool_threads
    with _pool_lock:
        if _pool_threads == 0:
            _pool_threads = update_threads()
            if _pool_threads > 1:
                _pool = ThreadPoolExecutor(_pool_threads - 1, thread_name_prefix="nnback-update")
        return _pool, _pool_threads


def run_blocks(work, jobs: list, sizes: list[int], parallel: bool) -> None:
    """Call ``work(*job)`` for every job; with ``parallel`` and at least ``PARALLEL_MIN`` elements
    in all, as contiguous runs of about equal size, one per thread (this thread runs the first).

    The jobs must touch disjoint data: each writes its own rows, so the order does not matter
    and every element gets exactly the arithmetic it would get in one thread.
    """
    total = sum(sizes)
    pool, threads = _executor() if parallel and total >= PARALLEL_MIN else (None, 1)
    if pool is None:
        for job in jobs:
            work(*job)
        return
    runs: list[list] = []
    run: list = []
    filled = 0
    for job, size in zip(jobs, sizes):
        run.append(job)
        filled += size
        if filled * threads >= total * (len(runs) + 1) and len(runs) < threads - 1:
            runs.append(run)
            run = []
    runs.append(run)

    def do(run):
        for job in run:
            work(*job)

    futures = [pool.submit(do, run) for run in runs[1:] if run]
    try:
        do(runs[0])
    finally:
        for future in futures:
            future.result()


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


WHOLE = ...  # the rows of a job that covers its whole array


def _rows(x, rows):
    """The rows of ``x`` to change in place: the array itself for WHOLE, else a basic slice, which
    is a view of the array on every backend nnback runs on (blocks are NumPy's by default)."""
    return x if rows is WHOLE else x[rows]


def device_scalar(value: float, like):
    """A 0-d array holding ``value`` in ``like``'s dtype, on its device."""
    return array_namespace(like).asarray(value, dtype=like.dtype, device=device_of(like))


class _Optimizer:
    """What SGD and Adam share: state made before the first step, per-step scalars in device
    arrays, and an update that runs block by block, on several threads where that pays."""

    weight_decay: float
    block: int | None
    fused = True  # on CuPy with NNBACK_CUDA_FUSED=1: one kernel per parameter (False: the reference)
    _scalars: Any  # the per-step scalars (a dict of 0-d device arrays), made by prepare(); None before
    _plan_for: tuple | None  # what _plan() last planned for

    def step(self, model) -> None:
        parameters = model.parameters()
        self.begin_step(parameters)
        self.update(parameters, model.gradients())

    def begin_step(self, parameters) -> None:
        """The host's part of a step, before :meth:`update`: make the state if missing, count the
        step, write its scalars (learning rate, bias corrections) into their device arrays."""
        self.prepare(parameters)
        self._advance()

    def prepare(self, parameters) -> None:
        """Create the state and the device scalars for ``parameters`` if they are missing."""
        raise NotImplementedError

    def _advance(self) -> None:
        """Count the step, flush subnormals when due, write this step's scalars to the device."""
        raise NotImplementedError

    def _update_block(self, parameters, gradients, i: int, rows) -> None:
        """Update rows ``rows`` of parameter ``i`` (and its state) in place."""
        raise NotImplementedError

    def _write(self, values: dict) -> None:
        for name, value in values.items():
            self._scalars[name][...] = value

    def update(self, parameters, gradients) -> None:
        """Change ``parameters`` and the state in place from ``gradients`` (same order)."""
        if self.fused and is_cupy_array(parameters[0]) and os.environ.get("NNBACK_CUDA_FUSED") == "1":
            self._update_fused(parameters, gradients)  # one kernel per parameter (cuda_kernels.py)
            return
        jobs, sizes, parallel = self._plan(parameters)
        run_blocks(lambda i, rows: self._update_block(parameters, gradients, i, rows), jobs, sizes, parallel)

    def _update_fused(self, parameters, gradients) -> None:
        """:meth:`update` as one CuPy kernel per parameter, bit for bit the same."""
        raise NotImplementedError

    def _decays(self, i: int) -> bool:
        """Whether parameter ``i`` takes weight decay (weights, at even indices; not biases)."""
        return self.weight_decay != 0.0 and i % 2 == 0

    def _plan(self, parameters) -> tuple[list, list[int], bool]:
        """The update's (parameter index, rows) jobs, their sizes, and whether threads may run
        them; made once per parameter shapes and block size (a step's Python work matters for
        small networks)."""
        shapes = (self.block, *(tuple(p.shape) for p in parameters))
        if self._plan_for != shapes:
            jobs, sizes = [], []
            block = self.block
            if block is None and sum(math.prod(int(n) for n in p.shape) for p in parameters) < PARALLEL_MIN:
                block = 2**62  # a small network's update fits in cache whole: one job per array
            for i, p in enumerate(parameters):
                row = math.prod(int(size) for size in p.shape[1:])
                parts = blocks(p, block)
                for rows in parts:
                    jobs.append((i, rows if len(parts) > 1 else WHOLE))
                    sizes.append((rows[0].stop - rows[0].start) * row)
            self._plan_for = shapes
            self._planned = jobs, sizes, is_numpy_namespace(array_namespace(parameters[0]))
        return self._planned

    def _gradient_rows(self, p, g, i: int, rows):
        """g[rows] with L2 decay folded into weights (even i): wd·p + g, as a fresh array."""
        if not self._decays(i):
            return g[rows]
        g_rows = p[rows] * self.weight_decay
        g_rows += g[rows]
        return g_rows


class SGD(_Optimizer):
    """p ← p − lr·g; with momentum μ: v ← μv + g, p ← p − lr·v (Nesterov: p ← p − lr·(g + μv))."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        if nesterov and momentum <= 0.0:
            raise ValueError("Nesterov momentum needs --momentum > 0")
        self.lr, self.momentum, self.nesterov, self.weight_decay = float(lr), float(momentum), nesterov, float(weight_decay)
        self.velocity: list = []
        self.steps = 0
        self.block: int | None = None  # elements per update block; None: see blocks()
        self._scalars = self._plan_for = None

    def prepare(self, parameters) -> None:
        if self.momentum != 0.0 and not self.velocity:
            self.velocity = [array_namespace(p).zeros_like(p) for p in parameters]
        if self._scalars is None:
            self._scalars = {"lr": device_scalar(self.lr, parameters[0])}

    def _advance(self) -> None:
        if self.momentum != 0.0:
            self.steps += 1
            if self.steps % FLUSH_EVERY == 0:
                flush_subnormals(self.velocity)
        self._write({"lr": self.lr})

    def _update_block(self, parameters, gradients, i: int, rows) -> None:
        p, lr = parameters[i], self._scalars["lr"]
        g_rows = self._gradient_rows(p, gradients[i], i, rows)
        p_rows = _rows(p, rows)
        if self.momentum == 0.0:
            p_rows -= lr * g_rows
            return
        v_rows = _rows(self.velocity[i], rows)
        v_rows *= self.momentum
        v_rows += g_rows
        if self.nesterov:
            step = v_rows * self.momentum
            step += g_rows
            step *= lr
        else:
            step = lr * v_rows
        p_rows -= step

    def _update_fused(self, parameters, gradients) -> None:
        from .cuda_kernels import sgd

        for i, (p, g) in enumerate(zip(parameters, gradients)):
            sgd(p, g, self.velocity[i] if self.momentum != 0.0 else None, self._scalars["lr"], self.momentum,
                self.nesterov, self.weight_decay, self._decays(i))

    def state(self) -> dict:
        return {"velocity": self.velocity}

    def load_state(self, state: dict) -> None:
        self.velocity = list(state.get("velocity", []))
        self._scalars = self._plan_for = None  # made again for the parameters, wherever they now live

    def __repr__(self) -> str:
        kind = "nesterov" if self.nesterov else "momentum"
        extra = f", {kind}={self.momentum}" if self.momentum else ""
        return f"SGD(lr={self.lr}{extra}, weight_decay={self.weight_decay})"


class Adam(_Optimizer):
    """Kingma & Ba (2015): m ← β1·m + (1−β1)g, v ← β2·v + (1−β2)g², p ← p − lr·m̂ / (√v̂ + ε).

    ``m`` and ``v`` are stored without their (1 − β) factors (m ← β1·m + g, v ← β2·v + g²); those
    factors and the bias corrections are folded into two scalars, saving two passes.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0):
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m: list = []
        self.v: list = []
        self.block: int | None = None  # elements per update block; None: see blocks()
        self._scalars = self._plan_for = None

    def prepare(self, parameters) -> None:
        if not self.m:
            self.m = [array_namespace(p).zeros_like(p) for p in parameters]
            self.v = [array_namespace(p).zeros_like(p) for p in parameters]
        if self._scalars is None:
            self._scalars = {name: device_scalar(0.0, parameters[0]) for name in ("step_size", "eps")}

    def _advance(self) -> None:
        self.t += 1
        if self.t % FLUSH_EVERY == 0:
            flush_subnormals(self.m + self.v)
        # lr·m̂/(√v̂ + ε) for the stored m, v is step_size·m/(√v + eps) with k = √((1−β2)/c2).
        k = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        step_size = self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1**self.t) * k)
        self._write({"step_size": step_size, "eps": self.eps / k})

    def _update_block(self, parameters, gradients, i: int, rows) -> None:
        p = parameters[i]
        xp = array_namespace(p)
        g_rows = self._gradient_rows(p, gradients[i], i, rows)
        m_rows, v_rows = _rows(self.m[i], rows), _rows(self.v[i], rows)
        m_rows *= self.beta1
        m_rows += g_rows
        v_rows *= self.beta2
        v_rows += g_rows * g_rows
        step = xp.sqrt(v_rows)
        step += self._scalars["eps"]
        step = m_rows / step
        step *= self._scalars["step_size"]
        p_rows = _rows(p, rows)
        p_rows -= step

    def _update_fused(self, parameters, gradients) -> None:
        from .cuda_kernels import adam

        for i, (p, g) in enumerate(zip(parameters, gradients)):
            adam(p, g, self.m[i], self.v[i], self._scalars["step_size"], self._scalars["eps"], self.beta1, self.beta2,
                 self.weight_decay, self._decays(i))

    def state(self) -> dict:
        return {"m": self.m, "v": self.v, "t": self.t}

    def load_state(self, state: dict) -> None:
        self.m, self.v, self.t = list(state.get("m", [])), list(state.get("v", [])), int(state.get("t", 0))
        self._scalars = self._plan_for = None  # made again for the parameters, wherever they now live

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
