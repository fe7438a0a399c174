"""Strong scaling of one epoch on this machine: 1 process with 1 and with 2 BLAS threads against
`mpiexec -n 2` ranks with 1 BLAS thread each, on the default network [784, 800, 800, 10] in float32,
batch 128, full MNIST. Records the load average, and how much of each step the all-reduce took.

    python benchmarks/bench_distributed.py            # writes benchmarks/results/<date>-distributed.json
    python benchmarks/bench_distributed.py --epochs 2 --repeats 1

Each run trains ``--epochs`` epochs and keeps the last one's time (the first warms the caches);
evaluation is not counted. Two cores shared with other work are not a cluster: read the numbers as
"what the all-reduce costs next to the compute", not as a promise of speed-up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def worker(epochs: int, engine: str | None) -> None:
    """One run (a rank of it under mpiexec): print rank 0's timings as one JSON line."""
    import nnback
    from nnback.distributed import connect

    comm = connect(engine) if engine else None
    spent = {"seconds": 0.0, "calls": 0}
    if comm is not None:
        allreduce = comm.allreduce

        def timed(arrays):
            started = time.perf_counter()
            try:
                return allreduce(arrays)
            finally:
                spent["seconds"] += time.perf_counter() - started
                spent["calls"] += 1

        comm.allreduce = timed
    config = nnback.TrainConfig(epochs=epochs, val_size=10_000, seed=0)
    result = nnback.train(config, comm=comm)
    if comm is None or comm.rank == 0:
        last = result.history[-1]
        steps = spent["calls"] or None
        print(json.dumps({"epoch_seconds": last["seconds"], "train_loss": last["train_loss"],
                          "val_accuracy": last.get("val_accuracy"),
                          "allreduce_seconds_per_call": spent["seconds"] / steps if steps else None,
                          "allreduce_calls": spent["calls"]}))


def launch(ranks: int, blas_threads: int, epochs: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(blas_threads), "OMP_NUM_THREADS": str(blas_threads),
           "MKL_NUM_THREADS": str(blas_threads)}
    me = [sys.executable, str(Path(__file__).resolve()), "--worker", "--epochs", str(epochs)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        command = [mpiexec, "-n", str(ranks), *me, "--engine", "mpi"]
    else:
        command = me
    load_before = os.getloadavg()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"ranks": ranks, "blas_threads": blas_threads, **result,
            "loadavg_before": load_before, "loadavg_after": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results" / f"{datetime.date.today()}-distributed.json")
    args = parser.parse_args()
    if args.worker:
        worker(args.epochs, args.engine)
        return
    from machine import cpu_model, versions

    runs = []
    for _ in range(args.repeats):  # interleaved, so a burst of load hits every setting alike
        for ranks, threads in ((1, 1), (1, 2), (2, 1)):
            runs.append(launch(ranks, threads, args.epochs))
            print(json.dumps(runs[-1]), flush=True)
    sizes = [784, 800, 800, 10]
    parameters = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    record = {"what": "one MNIST epoch (50,000 samples), [784, 800, 800, 10] float32, batch 128, dropout and shifts",
              "cpu": cpu_model(), "cpus": os.cpu_count(), "versions": versions(),
              "allreduce_bytes_per_step": 4 * (parameters + 2), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    for ranks, threads in ((1, 1), (1, 2), (2, 1)):
        best = min(r["epoch_seconds"] for r in runs if (r["ranks"], r["blas_threads"]) == (ranks, threads))
        print(f"{ranks} rank(s) x {threads} BLAS thread(s): best epoch {best:.2f} s")


if __name__ == "__main__":
    main()
