"""Would storing weights transposed pay on the CPU? Two measurements behind the README's round 5.

    python benchmarks/layout_probe.py

1. The optimizer's update with each weight gradient in C order (as nnback's ``x.T @ dz`` gives it)
   against Fortran order (``(dz.T @ x).T``, the faster product at small batches), parameters and
   state in C order: the mixed layouts' cost. Milliseconds per update, median of 100.
2. The whole step with each layer's update done right after its gradient (still in cache) against
   the usual order (all gradients, then all updates), on the same batches, taking turns; the final
   weights must be equal (the arithmetic is the same).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

import nnback.optimizers as optimizers  # noqa: E402
from bench_cpu import CONFIGS  # noqa: E402
from profile_cpu import median_ms  # noqa: E402
from nnback.backend import get_backend  # noqa: E402
from nnback.losses import get_loss  # noqa: E402
from nnback.model import MLP  # noqa: E402
from nnback.products import current  # noqa: E402


def mixed_layouts(name: str) -> dict:
    spec, rng = CONFIGS[name], np.random.default_rng(0)
    params = []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        params += [rng.standard_normal((n_in, n_out), dtype=np.float32), rng.standard_normal(n_out, dtype=np.float32)]
    grads = [rng.standard_normal(p.shape, dtype=np.float32) * 1e-3 for p in params]
    result = {}
    for layout, gs in (("C", grads), ("F", [np.asfortranarray(g) for g in grads])):
        optimizer, ps = optimizers.make_optimizer(spec.optimizer, 0.01, 0.9), [p.copy() for p in params]
        optimizer.begin_step(ps)
        result[layout] = median_ms(lambda: (optimizer.begin_step(ps), optimizer.update(ps, gs)), 100)
    return result


def step_orders(name: str, rounds: int = 5) -> list[tuple[float, float, bool]]:
    spec = CONFIGS[name]
    backend, rng = get_backend("cpu", "float32"), np.random.default_rng(0)
    models = [MLP.create(spec.sizes, backend, np.random.default_rng(0), spec.hidden, spec.output, spec.init) for _ in range(2)]
    opts = [optimizers.make_optimizer(spec.optimizer, spec.lr, spec.momentum) for _ in range(2)]
    loss, b = get_loss(spec.loss), spec.batch_size
    data, labels = rng.random((59_000, spec.sizes[0]), dtype=np.float32), rng.integers(0, spec.sizes[-1], 59_000)
    order = rng.permutation(59_000)

    def usual(model, optimizer, x, y):
        model.backward(loss.value_and_grad(model.forward(x, train=True), y, model.output)[1])
        optimizer.step(model)

    def in_cache(model, optimizer, x, y):
        dz = loss.value_and_grad(model.forward(x, train=True), y, model.output)[1]
        params = model.parameters()
        optimizer.begin_step(params)
        jobs, sizes, parallel = optimizer._plan(params)
        inputs, outputs, product = model._inputs, model._outputs, current()
        for i in range(len(model.layers) - 1, -1, -1):
            dx = model.layers[i].backward(inputs[i], dz, need_dx=i > 0, matmul=product)  # before w changes
            grads = model.gradients()
            mine = [(job, size) for job, size in zip(jobs, sizes) if job[0] in (2 * i, 2 * i + 1)]
            optimizers.run_blocks(lambda k, rows: optimizer._update_block(params, grads, k, rows),
                                  [job for job, _ in mine], [size for _, size in mine], parallel)
            if i > 0:
                dz = model.hidden[i - 1].backward(outputs[i], dx)

    results = []
    for _ in range(rounds):
        seconds = []
        for step, model, optimizer in ((usual, models[0], opts[0]), (in_cache, models[1], opts[1])):
            started = time.perf_counter()
            for start in range(0, 25_000, b):
                index = order[start:start + b]
                step(model, optimizer, np.take(data, index, axis=0), np.take(labels, index))
            seconds.append(time.perf_counter() - started)
        same = all(np.array_equal(p, q) for p, q in zip(models[0].parameters(), models[1].parameters()))
        results.append((seconds[0], seconds[1], same))
    return results


def main() -> int:
    for name in ("keras", "big", "relu100"):
        costs = mixed_layouts(name)
        print(f"{name}: update with C-order gradients {costs['C']:.3f} ms, Fortran-order {costs['F']:.3f} ms "
              f"({costs['F'] / costs['C']:.2f}x)")
    for name in ("big", "keras"):
        for usual, in_cache, same in step_orders(name):
            print(f"{name}: 25,000 samples, usual order {usual:.3f} s, update in cache {in_cache:.3f} s "
                  f"({in_cache / usual:.3f}x), same weights {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
