"""What the optimizer update costs inside real training epochs, against the whole step, for one
bench_cpu configuration, with its thread pool on or off and several block sizes.

    python benchmarks/update_in_epoch.py [--config big] [--rounds 2]

profile_cpu.py times the update alone, with its arrays warm in cache; inside an epoch the matrix
products between two updates push the parameters, velocities and gradients out of cache, so the
update costs what memory bandwidth allows. The variants take turns epoch by epoch (on the 10,000-
image quick set), so a noisy host slows them alike. Prints milliseconds per step and the load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nnback.optimizers as optimizers  # noqa: E402
from bench_cpu import CONFIGS, NnbackRunner, load_data  # noqa: E402

VARIANTS = {"pool, default blocks": (True, None), "one thread, default blocks": (False, None),
            "pool, 32k blocks": (True, 32_768), "pool, 64k blocks": (True, 65_536),
            "pool, 256k blocks": (True, 262_144), "pool, whole arrays": (True, 2**40)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="big", choices=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=2, help="timed epochs per variant")
    args = parser.parse_args(argv)
    runner = NnbackRunner(CONFIGS[args.config], load_data(quick=True), 0)
    update, spent = optimizers._Optimizer.update, []

    def timed_update(self, parameters, gradients):
        started = time.perf_counter()
        update(self, parameters, gradients)
        spent.append(time.perf_counter() - started)

    optimizers._Optimizer.update = timed_update  # type: ignore[method-assign]
    runner.epoch()  # warm-up
    parallel_min = optimizers.PARALLEL_MIN
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, (pool, block) in VARIANTS.items():
            optimizers.PARALLEL_MIN = parallel_min if pool else 2**62
            runner.optimizer.block = block
            spent.clear()
            seconds = runner.epoch()
            results[name].append((1e3 * sum(spent) / len(spent), 1e3 * seconds / len(spent)))
    print(f"{args.config}: load {os.getloadavg()[0]:.2f}; ms per step (update / whole step), {args.rounds} epochs each")
    for name, rows in results.items():
        print(f"  {name:28s} " + "  ".join(f"{u:.2f} / {s:.2f}" for u, s in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
