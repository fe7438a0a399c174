"""nnback with the BLAS's threads, nnback with one thread, and PyTorch, taking turns epoch by epoch.

    python benchmarks/threads_alternating.py [--config relu100] [--rounds 25]

A shared VM can slow one of its CPUs for minutes at a time; a product split over two threads
then waits for its slower half, while a one-thread run barely notices. Many short rounds of all
three, side by side, show such phases as rows where the two-thread times jump and the one-thread
times do not.
"""

from __future__ import annotations

import argparse
import sys

from bench_cpu import CONFIGS, NnbackRunner, TorchRunner, load_data
import machine


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
    print(f"{args.config}: seconds per epoch; nnback and PyTorch with {threads} threads, nnback with 1")
    for round_ in range(args.rounds):
        many, single, peer = nnback.epoch(), one.epoch(), torch.epoch()
        print(f"{round_ + 1:3d}  nnback {many:.3f}  nnback 1 thread {single:.3f}  torch {peer:.3f}  "
              f"÷ torch {many / peer:.2f} / {single / peer:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
