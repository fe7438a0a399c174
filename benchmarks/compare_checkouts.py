"""Epoch time of two nnback checkouts on one bench_cpu configuration, in processes that take turns.

    python benchmarks/compare_checkouts.py OTHER_CHECKOUT [--configs big,keras] [--rounds 4]

On a machine whose speed drifts (a shared VM's slow phases last minutes), two runs of
bench_cpu.py minutes apart can differ more than the change being measured. Here each round runs
one process per checkout and configuration, back to back, each training on bench_cpu's quick set
(10,000 images) with NumPy float32: a warm-up epoch, then ``--epochs`` timed ones, of which it
keeps the fastest. A change helps where "this" is faster in most rounds, not on average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# Run inside the child, with the checkout's own bench_cpu and nnback first on the path.
CHILD = """
import json, sys
root, config, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path[:0] = [root + "/benchmarks", root]
import bench_cpu
runner = bench_cpu.NnbackRunner(bench_cpu.CONFIGS[config], bench_cpu.load_data(True), 0)
runner.epoch()
print(json.dumps(min(runner.epoch() for _ in range(epochs))))
"""


def epoch_seconds(root: Path, config: str, epochs: int) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), config, str(epochs)],
                          capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (e.g. a git worktree of an older commit)")
    parser.add_argument("--configs", default="big,keras")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process (the fastest counts)")
    args = parser.parse_args(argv)
    sides = {"this": HERE, "other": args.other.resolve()}
    print(f"this: {sides['this']}  other: {sides['other']}  load {os.getloadavg()[0]:.2f}")
    for config in args.configs.split(","):
        wins = 0
        for round_ in range(args.rounds):
            other = epoch_seconds(sides["other"], config, args.epochs)
            this = epoch_seconds(sides["this"], config, args.epochs)
            wins += this < other
            print(f"{config:8s} round {round_ + 1}: other {other:.3f} s  this {this:.3f} s  this/other {this / other:.3f}",
                  flush=True)
        print(f"{config:8s} this faster in {wins} of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
