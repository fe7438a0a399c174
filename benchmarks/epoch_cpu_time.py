"""CPU time of one epoch of the default recipe's training steps (no evaluation), for comparing two
versions of nnback on a busy machine: process CPU time counts only the time this process ran,
so it moves far less with other jobs' load than wall time. Run it with one BLAS thread:

    OPENBLAS_NUM_THREADS=1 python benchmarks/epoch_cpu_time.py --repeats 3
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=/path/to/other/checkout python benchmarks/epoch_cpu_time.py

It also runs against nnback 0.1 (whose ``prepare`` returned the model, loss, optimizer and batches).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import nnback  # noqa: E402
from nnback.runner import TrainConfig, learning_rate_schedule, prepare  # noqa: E402
from nnback.training import Batches, Position, fit  # noqa: E402


def parts(run):
    """(model, loss, optimizer, batches, augment) of a prepared default run, in either version."""
    trainer = getattr(run, "trainer", None)
    if trainer is None:  # nnback 0.1
        from nnback.augment import get_augmentation

        return run.model, run.loss, run.optimizer, run.batches, get_augmentation(run.config.augment)
    batches = Batches(run.x, run.y, trainer.batch_size, trainer.shuffle_rng)
    return trainer.model, trainer.loss, trainer.optimizer, batches, trainer.augment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="epochs to time, one after another")
    args = parser.parse_args()
    run = prepare(TrainConfig(epochs=args.repeats))
    model, loss, optimizer, batches, augment = parts(run)
    schedule = learning_rate_schedule(run.config)
    print(f"nnback {nnback.__version__} from {os.path.dirname(nnback.__file__)}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, load {os.getloadavg()[0]:.1f}")
    position = Position()
    for epoch in range(args.repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        fit(model, loss, optimizer, batches, epoch + 1, schedule=schedule, position=position, noise_seed=0,
            augment=augment)
        print(f"epoch {epoch + 1}: {time.process_time() - cpu:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall")


if __name__ == "__main__":
    main()
