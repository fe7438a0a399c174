"""Where a GPU step's time goes: per-kernel GPU time (CUPTI via torch.profiler) for nnback-CuPy and
PyTorch on the GPU benchmark's network, and nnback's host dispatch time per step.

    python benchmarks/profile_gpu.py OUTDIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_gpu  # noqa: E402
import nnback  # noqa: E402
from nnback.training import train_step  # noqa: E402


def kernel_table(prof, steps: int) -> dict:
    rows = []
    for event in prof.key_averages():
        device_us = getattr(event, "self_device_time_total", 0.0) or getattr(event, "self_cuda_time_total", 0.0)
        if device_us > 0:
            rows.append({"name": event.key[:90], "calls_per_step": event.count / steps, "us_per_step": device_us / steps})
    rows.sort(key=lambda row: -row["us_per_step"])
    return {"gpu_us_per_step": sum(row["us_per_step"] for row in rows), "kernels": rows[:14]}


def profile_nnback(runner, torch, cupy, steps: int) -> dict:
    from torch.profiler import ProfilerActivity, profile

    chunk = [batch for _, batch in zip(range(steps), runner.batches.epoch())]
    while len(chunk) < steps:
        chunk += chunk
    chunk = chunk[:steps]
    train_step(runner.model, runner.loss, runner.optimizer, *chunk[0])
    host, wall = bench_gpu.timed_steps(runner, chunk, cupy.cuda.Device().synchronize)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for xb, yb in chunk:
            train_step(runner.model, runner.loss, runner.optimizer, xb, yb)
        cupy.cuda.Device().synchronize()
    table = kernel_table(prof, steps)
    table.update(host_us_per_step=1e6 * host / steps, wall_us_per_step=1e6 * wall / steps)
    return table


def profile_torch(runner, torch, steps: int) -> dict:
    from torch.profiler import ProfilerActivity, profile

    n, bs = runner.x.shape[0], runner.batch_size
    order = torch.randperm(n, device="cuda")

    def step(i):
        index = order[(i * bs) % n : (i * bs) % n + bs]
        x, y = (runner.x, runner.y) if bs >= n else (runner.x[index], runner.y[index])
        runner.optimizer.zero_grad(set_to_none=True)
        runner.loss(runner.model(x), y).backward()
        runner.optimizer.step()

    step(0)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    torch.cuda.synchronize()
    wall = time.perf_counter() - start
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(steps):
            step(i)
        torch.cuda.synchronize()
    table = kernel_table(prof, steps)
    table["wall_us_per_step"] = 1e6 * wall / steps
    return table


def host_profile(runner, cupy, out: Path, steps: int = 100) -> None:
    """cProfile of nnback's host side over ``steps`` small-batch steps: where dispatch time goes."""
    import cProfile
    import io
    import pstats

    chunk = [batch for _, batch in zip(range(steps), runner.batches.epoch())]
    profiler = cProfile.Profile()
    profiler.enable()
    for xb, yb in chunk:
        train_step(runner.model, runner.loss, runner.optimizer, xb, yb)
    cupy.cuda.Device().synchronize()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    (out / "host_profile_batch128.txt").write_text(text.getvalue())


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    import cupy
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    data = nnback.load_mnist()
    gpu = nnback.get_backend("cuda")
    report = {}
    host_profile(bench_gpu.NnbackRunner(gpu, data, 128), cupy, out)
    for case, batch_size, steps in (("batch128", 128, 50), ("batch1024", 1024, 30), ("fullbatch", None, 5)):
        report[case] = {
            "nnback_cupy": profile_nnback(bench_gpu.NnbackRunner(gpu, data, batch_size), torch, cupy, steps),
            "torch_cuda": profile_torch(bench_gpu.TorchRunner(torch, data, batch_size), torch, steps),
        }
        print(json.dumps({case: report[case]}, indent=1), flush=True)
    (out / "profile_gpu.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
