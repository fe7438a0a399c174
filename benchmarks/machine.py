"""What a benchmark number depends on: CPU, BLAS, threads, library versions, load, and the
machine's own float32 matmul rate (the ceiling any dense-layer code can reach)."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import time

import numpy as np


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else whatever platform knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """Every BLAS/OpenMP pool loaded in this process (library, version, kernel, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keys = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads", "filepath")
    return [{key: pool.get(key) for key in keys if key in pool} for pool in threadpool_info()]


def numpy_blas_threads() -> int:
    """Threads of the BLAS that NumPy's matmul uses (the first BLAS pool), else the CPU count."""
    for pool in blas_info():
        if pool.get("user_api") == "blas" and "numpy" in str(pool.get("filepath", "")):
            return int(pool["num_threads"])
    return os.cpu_count() or 1


def blas_limit(threads: int | None):
    """A context that limits every BLAS pool to ``threads`` (None: change nothing)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads, user_api="blas")


def thread_env() -> dict:
    """OPENBLAS_* and the other thread-count variables that change BLAS behaviour."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("OPENBLAS") or k in names}


def versions() -> dict:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "sklearn", "array_api_compat", "threadpoolctl"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            found[name] = None
    return found


def matmul_gflops(n: int = 3072, repeats: int = 3) -> dict:
    """Best-of-``repeats`` float32 GFLOP/s of an n×n @ n×n product, in NumPy and (if present) torch."""
    rates = {}
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    rates["numpy"] = _best_rate(lambda: a @ a, n, repeats)
    try:
        import torch

        t = torch.from_numpy(a)
        rates["torch"] = _best_rate(lambda: t @ t, n, repeats)
    except ImportError:
        pass
    return rates


def _best_rate(product, n: int, repeats: int) -> float:
    product()  # warm-up: thread start, page faults
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - started)
    return 2.0 * n**3 / best / 1e9


def describe() -> dict:
    """One JSON-ready record of the machine and software (no timing)."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "versions": versions(),
        "blas": blas_info(),
        "thread_env": thread_env(),
    }
