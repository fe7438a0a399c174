"""nnback with the BLAS's threads, nnback with one thread, and PyTorch, taking turns epoch by epoch.

    python benchmarks/threads_alternating.py [--config relu100] [--rounds 25]

A shared VM can slow one of its CPUs for minutes at a time; a product split over two threads
then waits for its slower half, while a one-thread run barely notices. Many short rounds of all
three, side by side, show such phases as rows where the two-thread times jump and the one-thread
times do not. It first says which of a step's products give other bits on one thread.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from bench_cpu import CONFIGS, NnbackRunner, TorchRunner, load_data
import machine


def same_bits_with_one_thread(sizes, batch: int) -> dict:
    """Per product of a training step (forward, weight gradient, input gradient of each layer):
    whether the BLAS gives the same bits with one thread as with its own count. Where it does not,
    choosing the thread count by timing would make a seeded run's numbers depend on the machine."""
    rng = np.random.default_rng(0)
    same = {}
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        x, w, dz = (rng.standard_normal(shape, dtype=np.float32) for shape in ((batch, n_in), (n_in, n_out),
                                                                              (batch, n_out)))
        products = {"x@w": lambda: x @ w, "x.T@dz": lambda: x.T @ dz, "dz@w.T": lambda: dz @ w.T}
        many = {name: product() for name, product in products.items()}
        with machine.blas_limit(1):
            for name, product in products.items():
                same[f"{n_in}->{n_out} {name}"] = bool(np.array_equal(product(), many[name]))
    return same


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="relu100", choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)
    spec, data = CONFIGS[args.config], load_data(quick=False)
    threads = machine.numpy_blas_threads()
    nnback, one = NnbackRunner(spec, data, 0), NnbackRunner(spec, data, 0, blas_threads=1)
    torch = TorchRunner(spec, data, 0, nnback.initial, threads)
    for runner in (nnback, one, torch):
        runner.epoch()
    same = same_bits_with_one_thread(spec.sizes, spec.batch_size or 59_000)
    print(f"{args.config}: products with the same bits on 1 and {threads} threads: "
          + ", ".join(f"{name} {'yes' if equal else 'NO'}" for name, equal in same.items()))
    print(f"{args.config}: seconds per epoch; nnback and PyTorch with {threads} threads, nnback with 1")
    for round_ in range(args.rounds):
        many, single, peer = nnback.epoch(), one.epoch(), torch.epoch()
        print(f"{round_ + 1:3d}  nnback {many:.3f}  nnback 1 thread {single:.3f}  torch {peer:.3f}  "
              f"÷ torch {many / peer:.2f} / {single / peer:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
