"""Run named presets over several seeds and report what each reached, for the README's table.

    python benchmarks/run_presets.py --presets nielsen,fullbatch --seeds 0,1,2 --json results.json

For each preset and seed: the test accuracy, the validation (the notebooks' "dev") accuracy and the
seconds of training, as ``nnback train --preset NAME --seed S`` would report them. Appends one JSON
line per run as it finishes, so a long sweep can be stopped and resumed by preset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nnback  # noqa: E402
from nnback.presets import PRESETS  # noqa: E402


def run(name: str, seed: int, device: str) -> dict:
    config = nnback.TrainConfig.from_preset(name, seed=seed, device=device)
    result = nnback.train(config)
    final = result.history[-1]
    return {"preset": name, "seed": seed, "device": device, "test_accuracy": result.metrics["test_accuracy"],
            "val_accuracy": final.get("val_accuracy"), "val_size": result.metrics["val_size"],
            "train_seconds": result.metrics["train_seconds"], "epochs": final["epoch"],
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "nnback": nnback.__version__,
            "load_average": os.getloadavg()[0]}


def table(rows: list[dict]) -> str:
    lines = ["| preset | original reported | test accuracy, mean [min–max] | val/dev accuracy, mean [min–max] "
             "| seconds (seed 0) |", "|---|---|---|---|---|"]
    for name in dict.fromkeys(row["preset"] for row in rows):
        runs = [row for row in rows if row["preset"] == name]
        test = [100 * row["test_accuracy"] for row in runs]
        val = [100 * row["val_accuracy"] for row in runs if row["val_accuracy"] is not None]
        seconds = next((row["train_seconds"] for row in runs if row["seed"] == 0), runs[0]["train_seconds"])
        spread = lambda v: f"{statistics.mean(v):.2f}% [{min(v):.2f}–{max(v):.2f}]" if v else "–"  # noqa: E731
        lines.append(f"| `{name}` | {PRESETS[name].reported} | {spread(test)} | {spread(val)} | {seconds:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(name for name in PRESETS if name != "max"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="append one JSON line per run to this file")
    args = parser.parse_args()
    rows = []
    for name in args.presets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            row = run(name, seed, args.device)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
