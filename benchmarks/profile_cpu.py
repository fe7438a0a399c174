"""Where one CPU training step's time goes, per part, for a bench_cpu configuration.

    python benchmarks/profile_cpu.py [--config big] [--steps 200]

Times the parts of nnback's step separately on NumPy float32 (batch gather, forward, loss,
backward, optimizer update), each the median of ``--steps`` runs, next to the step's matrix
products alone in each orientation worth trying. Prints milliseconds and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench_cpu import CONFIGS  # noqa: E402
from nnback.backend import get_backend  # noqa: E402
from nnback.losses import get_loss  # noqa: E402
from nnback.model import MLP  # noqa: E402
from nnback.optimizers import make_optimizer  # noqa: E402


def median_ms(work, steps: int) -> float:
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="big", choices=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    spec = CONFIGS[args.config]
    backend = get_backend("cpu", "float32")
    rng = np.random.default_rng(0)
    model = MLP.create(spec.sizes, backend, rng, spec.hidden, spec.output, spec.init)
    loss = get_loss(spec.loss)
    optimizer = make_optimizer(spec.optimizer, spec.lr, spec.momentum)
    batch = spec.batch_size or 59_000
    data = rng.random((59_000, spec.sizes[0]), dtype=np.float32)
    labels = rng.integers(0, spec.sizes[-1], 59_000)
    index = rng.permutation(59_000)[:batch]
    x, y = np.take(data, index, axis=0), labels[index]
    state = {}

    def forward():
        state["z"] = model.forward(x, train=True)

    def loss_grad():
        state["dz"] = loss.value_and_grad(state["z"], y, model.output)[1]

    def backward():
        model.forward(x, train=True)
        model.backward(state["dz"])

    def whole():
        z = model.forward(x, train=True)
        model.backward(loss.value_and_grad(z, y, model.output)[1])
        optimizer.step(model)

    forward(), loss_grad(), backward()
    parts = {
        "gather": median_ms(lambda: (np.take(data, index, axis=0), np.take(labels, index)), args.steps),
        "forward": median_ms(forward, args.steps),
        "loss": median_ms(loss_grad, args.steps),
        "forward+backward": median_ms(backward, args.steps),
        "update": median_ms(lambda: optimizer.step(model), args.steps),
        "whole step": median_ms(whole, args.steps),
    }
    parts["backward"] = parts.pop("forward+backward") - parts["forward"]
    shapes = list(zip(spec.sizes[:-1], spec.sizes[1:]))
    acts = [rng.random((batch, n_in), dtype=np.float32) for n_in, _ in shapes]
    dzs = [rng.random((batch, n_out), dtype=np.float32) for _, n_out in shapes]
    ws = [layer.w for layer in model.layers]
    wf = [np.asfortranarray(w) for w in ws]
    variants = {
        "x@w": lambda: [a @ w for a, w in zip(acts, ws)],
        "(w.T@x.T).T": lambda: [(w.T @ a.T).T for a, w in zip(acts, ws)],
        "x@w (w Fortran)": lambda: [a @ w for a, w in zip(acts, wf)],
        "x.T@dz": lambda: [a.T @ d for a, d in zip(acts, dzs)],
        "(dz.T@x).T": lambda: [(d.T @ a).T for a, d in zip(acts, dzs)],
        "dz@w.T": lambda: [d @ w.T for d, w in zip(dzs[1:], ws[1:])],
        "dz@w.T (w Fortran)": lambda: [d @ w.T for d, w in zip(dzs[1:], wf[1:])],
        "ones@dz": lambda: [np.ones((1, batch), np.float32) @ d for d in dzs],
    }
    print(f"{args.config}: batch {batch}, load {os.getloadavg()[0]:.2f}")
    for name, ms in {**parts, **{f"mm {k}": median_ms(v, args.steps) for k, v in variants.items()}}.items():
        print(f"  {name:22} {ms:8.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
