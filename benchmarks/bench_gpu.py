"""GPU benchmark: nnback on CuPy vs PyTorch CUDA vs nnback on NumPy, same network, same run.

Network [784, 1024, 1024, 10] ReLU, softmax cross-entropy, SGD momentum 0.9, lr 0.05, on the 50,000
MNIST training images: an epoch at batch 128, an epoch at batch 1024, and one full-batch iteration.
Times are seconds per epoch (median and min of the timed repeats after a warm-up), with the device
synchronised before every clock read. PyTorch is a comparison only, never a dependency.

    python benchmarks/bench_gpu.py --json results.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nnback  # noqa: E402
from nnback.runner import DataInfo, TrainConfig, Trainer  # noqa: E402
from nnback.training import Batches, Position, StepInputs, train_epoch, train_step  # noqa: E402

SIZES = [784, 1024, 1024, 10]
CASES = {"batch128": 128, "batch1024": 1024, "fullbatch": None}


def dense_flops_per_sample(sizes) -> int:
    """Forward 2·n_in·n_out per layer, weight gradient the same, input gradient except layer 1."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(2 * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(pairs))


class NnbackRunner:
    def __init__(self, backend, data, batch_size):
        config = TrainConfig(layers=SIZES, lr=0.05, batch_size=batch_size, dtype="float32", dropout=0.0, augment="none")
        trainer = Trainer(config, DataInfo(SIZES[0], tuple(str(k) for k in range(SIZES[-1]))), backend=backend)
        self.model, self.loss, self.optimizer = trainer.model, trainer.loss, trainer.optimizer
        self.shuffle_rng = trainer.shuffle_rng
        self.backend = backend
        x, y = backend.asarray(data.train.images), backend.asarray(data.train.labels, backend.xp.int64)
        self.batches = Batches(x, y, batch_size, self.shuffle_rng)
        self.test = (backend.asarray(data.test.images), backend.asarray(data.test.labels, backend.xp.int64))

    def epoch(self) -> float:
        total = 0.0
        for xb, yb in self.batches.epoch():
            total = total + train_step(self.model, self.loss, self.optimizer, xb, yb)
        return float(total)  # one sync per epoch, as in nnback.fit

    def accuracy(self) -> float:
        return nnback.evaluate(self.model, self.loss, *self.test)["accuracy"]


class NnbackGraphRunner(NnbackRunner):
    """The same network through the training loop, its steps captured as CUDA graphs and replayed
    (``cuda_graphs.py``, experimental)."""

    def __init__(self, backend, data, batch_size):
        super().__init__(backend, data, batch_size)
        from nnback.cuda_graphs import StepGraphs

        self.graphs = StepGraphs()
        self.inputs = StepInputs.like(self.model.parameters()[0], self.graphs)
        self.position = Position()

    def epoch(self) -> float:
        with self.graphs.context():
            train_epoch(self.model, self.loss, self.optimizer, self.batches, self.position, inputs=self.inputs)
            total = float(self.position.loss_sum)
        self.position.loss_sum = 0.0
        return total


class TorchRunner:
    def __init__(self, torch, data, batch_size):
        self.torch = torch
        torch.manual_seed(0)
        layers = []
        for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(SIZES) - 2 else [])
        self.model = torch.nn.Sequential(*layers).cuda()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.loss = torch.nn.CrossEntropyLoss()
        self.x = torch.as_tensor(data.train.images).cuda()
        self.y = torch.as_tensor(data.train.labels).cuda()
        self.test = (torch.as_tensor(data.test.images).cuda(), torch.as_tensor(data.test.labels).cuda())
        self.batch_size = batch_size or len(data.train)

    def epoch(self) -> float:
        torch, n = self.torch, self.x.shape[0]
        order = torch.randperm(n, device="cuda")
        total = torch.zeros((), device="cuda")
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            x, y = (self.x, self.y) if self.batch_size >= n else (self.x[index], self.y[index])
            self.optimizer.zero_grad(set_to_none=True)
            value = self.loss(self.model(x), y)
            value.backward()
            self.optimizer.step()
            total += value.detach()
        return float(total)

    def accuracy(self) -> float:
        with self.torch.no_grad():
            return float((self.model(self.test[0]).argmax(1) == self.test[1]).float().mean())


EXPERIMENTAL = ("nnback_cupy_graph",)  # a failure of these is a result: the others keep running


def timed(runners: dict, syncs: dict, repeats: int) -> dict:
    """Seconds per epoch of each runner, their epochs interleaved so that a noisy host slows
    every system alike; one warm-up epoch each (allocations, cuBLAS heuristics, compilation).
    An experimental runner that raises is dropped, its error recorded instead of its times."""
    runners, failed = dict(runners), {}

    def epoch_seconds(name: str) -> float | None:
        """One synchronised epoch of runner ``name``; None if an experimental runner failed."""
        try:
            syncs[name]()
            start = time.perf_counter()
            runners[name].epoch()
            syncs[name]()
            return time.perf_counter() - start
        except Exception as error:
            if name not in EXPERIMENTAL:
                raise
            failed[name] = {"error": f"{type(error).__name__}: {error}"}
            del runners[name]
            return None

    for name in list(runners):
        epoch_seconds(name)
    seconds: dict = {name: [] for name in runners}
    for _ in range(repeats):
        for name in list(runners):
            elapsed = epoch_seconds(name)
            if elapsed is not None:
                seconds[name].append(elapsed)
    return {**failed, **{name: {"median_s": statistics.median(values), "min_s": min(values), "all_s": values,
                                "accuracy": runners[name].accuracy()} for name, values in seconds.items() if name in runners}}


def kernels_per_step(runner, torch) -> dict:
    """Count CUDA kernel launches of nnback-CuPy steps with CUPTI (through torch.profiler)."""
    steps = 20
    batches = runner.batches.epoch()
    chunk = [next(batches) for _ in range(steps)]
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
        for xb, yb in chunk:
            train_step(runner.model, runner.loss, runner.optimizer, xb, yb)
        import cupy

        cupy.cuda.Device().synchronize()
    kernels = [e for e in prof.events() if e.device_type.name == "CUDA"]
    gpu_us = sum(e.device_time for e in kernels) if kernels else 0.0
    return {"kernels_per_step": len(kernels) / steps, "gpu_busy_us_per_step": gpu_us / steps}


def timed_steps(runner, chunk, sync) -> tuple[float, float]:
    """Seconds to issue the steps of ``chunk`` (host dispatch) and until the device has run them."""
    sync()
    start = time.perf_counter()
    for xb, yb in chunk:
        train_step(runner.model, runner.loss, runner.optimizer, xb, yb)
    issued = time.perf_counter() - start
    sync()
    return issued, time.perf_counter() - start


def host_enqueue_per_step(runner, cupy, steps: int = 200) -> dict:
    """Wall time of steps without a sync (host dispatch) vs with a sync after the last step."""
    chunk = [batch for _, batch in zip(range(steps), runner.batches.epoch())]
    issued, total = timed_steps(runner, chunk, cupy.cuda.Device().synchronize)
    return {"host_dispatch_us_per_step": 1e6 * issued / len(chunk), "wall_us_per_step": 1e6 * total / len(chunk)}


def machine(cupy, torch) -> dict:
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "numpy": np.__version__, "nnback": nnback.__version__,
            "cpu_count": os.cpu_count(), "OPENBLAS": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
            "CUPY_TF32": os.environ.get("CUPY_TF32", "unset (off)")}
    if cupy is not None:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        info.update(gpu=props["name"].decode(), cupy=cupy.__version__,
                    cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(), driver=cupy.cuda.runtime.driverGetVersion())
    if torch is not None:
        info.update(torch=torch.__version__, torch_tf32=torch.backends.cuda.matmul.allow_tf32)
    try:
        import threadpoolctl

        info["blas"] = threadpoolctl.threadpool_info()
    except ImportError:
        pass
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-repeats", type=int, default=2, help="timed NumPy epochs (slow; 0: none)")
    args = parser.parse_args()
    import cupy

    try:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False  # same arithmetic as CuPy's default (no TF32)
        torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        torch = None
    data = nnback.load_mnist()
    gpu, cpu = nnback.get_backend("cuda"), nnback.get_backend("cpu")
    sync = cupy.cuda.Device().synchronize
    flops = dense_flops_per_sample(SIZES) * len(data.train)
    results = {"machine": machine(cupy, torch), "network": SIZES, "train_size": len(data.train), "cases": {},
               "fused_updates": os.environ.get("NNBACK_CUDA_FUSED") == "1"}
    for case, batch_size in CASES.items():
        row = {"batch_size": batch_size or len(data.train)}
        runner = NnbackRunner(gpu, data, batch_size)
        runners, syncs = {"nnback_cupy": runner}, {"nnback_cupy": sync}
        try:
            runners["nnback_cupy_graph"], syncs["nnback_cupy_graph"] = NnbackGraphRunner(gpu, data, batch_size), sync
        except Exception as error:  # experimental: its failure is a result, not the end of the benchmark
            row["nnback_cupy_graph"] = {"error": f"{type(error).__name__}: {error}"}
        if torch is not None:
            runners["torch_cuda"], syncs["torch_cuda"] = TorchRunner(torch, data, batch_size), torch.cuda.synchronize
        row.update(timed(runners, syncs, args.repeats))
        if torch is not None:
            row["ratio_cupy_over_torch"] = row["nnback_cupy"]["median_s"] / row["torch_cuda"]["median_s"]
        if "median_s" in row.get("nnback_cupy_graph", {}):
            row["nnback_cupy_graph"]["note"] = runners["nnback_cupy_graph"].graphs.note
            row["ratio_graph_over_eager"] = row["nnback_cupy_graph"]["median_s"] / row["nnback_cupy"]["median_s"]
            if torch is not None:
                row["ratio_graph_over_torch"] = row["nnback_cupy_graph"]["median_s"] / row["torch_cuda"]["median_s"]
        if batch_size is not None:
            row["nnback_cupy"].update(host_enqueue_per_step(runner, cupy, steps=min(200, 50_000 // batch_size)))
        if batch_size == 128:
            if torch is not None:
                try:
                    row["nnback_cupy"].update(kernels_per_step(runner, torch))
                except Exception as error:  # profiling is evidence, not the benchmark itself
                    row["nnback_cupy"]["kernel_count_error"] = repr(error)
        if args.cpu_repeats > 0:
            numpy_runner = NnbackRunner(cpu, data, batch_size)
            row.update(timed({"nnback_numpy": numpy_runner}, {"nnback_numpy": lambda: None}, args.cpu_repeats))
            row["speedup_cupy_over_numpy"] = row["nnback_numpy"]["median_s"] / row["nnback_cupy"]["median_s"]
        for system in ("nnback_cupy", "nnback_cupy_graph", "torch_cuda", "nnback_numpy"):
            if "median_s" in row.get(system, {}):
                row[system]["samples_per_s"] = len(data.train) / row[system]["median_s"]
                row[system]["tflops"] = flops / row[system]["median_s"] / 1e12
        results["cases"][case] = row
        print(json.dumps({case: {k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if kk != "all_s"})
                                 for k, v in row.items()}}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
