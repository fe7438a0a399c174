"""Would fusing the momentum into the weight-gradient product pay? A probe, not part of nnback.

    python benchmarks/gemm_beta_probe.py [--repeats 100]

SGD with momentum computes g = xᵀ·dz, then v ← μ·v + g. BLAS can do both in one call
(sgemm with β = μ and C = v), which NumPy's matmul does not expose. This calls the sgemm of NumPy's
own OpenBLAS through ctypes (found with threadpoolctl) for the weight gradients of the bench_cpu
networks, and prints the best time of each way, with warm caches: the upper bound of the saving.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time

import numpy as np

import machine

SHAPES = {"big 784→1024": (128, 784, 1024), "big 1024→1024": (128, 1024, 1024), "relu100 784→100": (64, 784, 100)}
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def numpy_sgemm():
    """cblas_sgemm of the OpenBLAS NumPy loaded, with 64-bit integers where its names say so."""
    path = next(pool["filepath"] for pool in machine.blas_info()
                if pool.get("internal_api") == "openblas" and "numpy" in str(pool.get("filepath", "")))
    library = ctypes.CDLL(path)
    for name, integer in (("scipy_cblas_sgemm64_", ctypes.c_int64), ("cblas_sgemm64_", ctypes.c_int64),
                          ("cblas_sgemm", ctypes.c_int)):
        if hasattr(library, name):
            function = getattr(library, name)
            i, p, f = integer, ctypes.c_void_p, ctypes.c_float
            function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i, i, i, f, p, i, p, i, f, p, i]
            return function
    raise SystemExit(f"no cblas_sgemm in {path}")


def best_ms(work, repeats: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, (time.perf_counter() - started) / repeats)
    return 1e3 * best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args(argv)
    sgemm, rng = numpy_sgemm(), np.random.default_rng(0)
    for name, (batch, n_in, n_out) in SHAPES.items():
        x = rng.random((batch, n_in), dtype=np.float32)
        dz = rng.random((batch, n_out), dtype=np.float32)
        v = np.zeros((n_in, n_out), np.float32)

        def fused(beta=0.9):  # v ← β·v + xᵀ·dz, row-major
            sgemm(ROW_MAJOR, TRANS, NO_TRANS, n_in, n_out, batch, 1.0, x.ctypes.data, n_in, dz.ctypes.data, n_out,
                  beta, v.ctypes.data, n_out)

        def separate():
            v.__imul__(0.9)
            v.__iadd__(x.T @ dz)

        fused(0.0)
        if not np.allclose(v, x.T @ dz, rtol=1e-4):
            raise SystemExit("the ctypes sgemm does not compute xᵀ·dz: wrong arguments for this BLAS")
        plain, apart, one = (best_ms(work, args.repeats) for work in (lambda: x.T @ dz, separate, fused))
        print(f"{name:16s} product alone {plain:.3f} ms  product + update {apart:.3f} ms  fused {one:.3f} ms  "
              f"saving {apart - one:+.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
