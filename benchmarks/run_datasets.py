"""Train nnback's default recipe on the non-MNIST datasets of ``benchmarks/datasets.py`` — exactly
what ``nnback train --data FILE`` does, through the same front door — and record test accuracy
and training time, one JSON line per run:

    python benchmarks/datasets.py /tmp/datasets
    python benchmarks/run_datasets.py /tmp/datasets --seeds 0,1,2 --json benchmarks/results/FILE.jsonl

The tabular sets get ``--epochs 200`` (they have one or two batches an epoch); every other
setting is the default. ``shapes`` also runs with each augmentation, to check the automatic choice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nnback  # noqa: E402
from nnback.config import TrainConfig  # noqa: E402

RUNS = [
    ("iris", "iris.csv", {"epochs": 200}),
    ("wine", "wine.csv", {"epochs": 200}),
    ("breast_cancer", "breast_cancer.csv", {"epochs": 200}),
    ("digits", "digits.npz", {}),
    ("mnist6k", "mnist6k.csv", {}),
    ("mnist20", "mnist20", {}),
    ("shapes", "shapes.npz", {}),
    ("shapes (augment none)", "shapes.npz", {"augment": "none"}),
    ("shapes (augment elastic)", "shapes.npz", {"augment": "elastic"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where benchmarks/datasets.py wrote the files")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--only", help="comma-separated run names (default: all)")
    parser.add_argument("--json", type=Path, help="append one JSON line per run here")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else None
    for name, file, changes in RUNS:
        if chosen and name not in chosen:
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.perf_counter()
            result = nnback.train(TrainConfig(data=str(args.folder / file), seed=seed, **changes))
            metrics = result.metrics
            record = {"dataset": name, "file": file, "seed": seed, "changes": changes,
                      "test_accuracy": metrics["test_accuracy"], "train_seconds": metrics["train_seconds"],
                      "wall_seconds": time.perf_counter() - started, "decided": metrics["decided"],
                      "decisions": metrics["decisions"], "train_size": metrics["train_size"],
                      "test_size": metrics["test_size"], "classes": len(metrics["data"]["classes"]),
                      "load_average": os.getloadavg()[0], "machine": platform.machine(),
                      "environment": metrics.get("environment")}
            print(f"{name:28} seed {seed}: test {100 * record['test_accuracy']:.2f}% in {record['train_seconds']:.1f} s "
                  f"(load {record['load_average']:.1f})", flush=True)
            if args.json:
                with open(args.json, "a") as handle:
                    handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
