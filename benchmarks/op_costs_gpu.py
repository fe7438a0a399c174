"""Host cost of one CuPy operation, the way nnback's step issues it (through array-api-compat).

A small-batch GPU step is bound by how fast the host can launch its ~60 kernels, so the price of
each launch decides the step time. Each figure is microseconds per call without a sync (the host
side), over many calls, after a warm-up.

    python benchmarks/op_costs_gpu.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
import time

import array_api_compat
import array_api_compat.cupy as xp
import cupy


def cost(f, calls: int = 2000) -> float:
    f()
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        f()
    host = time.perf_counter() - start
    cupy.cuda.Device().synchronize()
    return 1e6 * host / calls


def main() -> None:
    x = xp.ones((128, 1024), dtype=xp.float32)
    w = xp.ones((1024, 1024), dtype=xp.float32)
    b = xp.ones((1024,), dtype=xp.float32)
    ones = xp.ones((1, 128), dtype=xp.float32)
    dev = array_api_compat.device(x)
    ops = {
        "x @ w": lambda: x @ w,
        "xp.matmul(x, w)": lambda: xp.matmul(x, w),
        "xp.tensordot(x, w, axes=1)": lambda: xp.tensordot(x, w, axes=1),
        "x.T @ x (transposed operand)": lambda: x.T @ x,
        "ones(1,n) @ x": lambda: ones @ x,
        "xp.sum(x, axis=0)": lambda: xp.sum(x, axis=0),
        "x + b": lambda: x + b,
        "x * 0.5 (python scalar)": lambda: x * 0.5,
        "x *= 0.5 (in place)": lambda: x.__imul__(1.0),
        "xp.maximum(x, 0.0)": lambda: xp.maximum(x, 0.0),
        "x > 0.0": lambda: x > 0.0,
        "xp.where(x > 0.0, x, 0.0)": lambda: xp.where(x > 0.0, x, 0.0),
        "xp.exp(x)": lambda: xp.exp(x),
        "xp.ones((1,128), device)": lambda: xp.ones((1, 128), dtype=xp.float32, device=dev),
        "xp.arange(10, device)": lambda: xp.arange(10, device=dev),
        "array_namespace(x)": lambda: array_api_compat.array_namespace(x),
        "array_api_compat.device(x)": lambda: array_api_compat.device(x),
        "raw cupy.multiply(x, 0.5)": lambda: cupy.multiply(x, 0.5),
    }
    result = {name: round(cost(f), 2) for name, f in ops.items()}
    for name, us in result.items():
        print(f"{us:8.2f} us  {name}")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
