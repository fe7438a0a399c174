"""Training steps captured as CUDA graphs on CuPy and replayed: one graph launch instead of ~60
kernel launches a step, whose host time bounds small-batch training on a GPU.

The training loop (``training.train_epoch``) already feeds every step through device buffers refilled
in place (batch indices, noise key, learning rate, running loss), so the device part of a step
reads the same addresses every time. :class:`StepGraphs` runs that part, per batch shape: the first
time eagerly under a private memory pool (compiling the kernels, filling the pool), the second time
captured on a stream of its own and then launched, every later time launched. Each shape has a
pool of its own that lives as long as its graph and serves nothing else, so the memory a graph's
kernels use is never handed to anything else.

CuPy (11 to at least 14.2) refuses cuBLAS calls while a stream is capturing: its handle is bound to
the current stream on every call, and that binding raises during capture. The products of the step
therefore go through a cuBLAS handle of our own (:class:`CublasHandle`, through ctypes), bound to
the capture stream and given a fixed workspace before any capture; ``products.using`` installs it
for the step. Whatever fails in a capture, or a product on our handle in a warm-up step, the step
runs eagerly instead (on CuPy's own products), from then on, and ``note`` says why once.

Experimental and not yet run on a GPU: enabled only with ``NNBACK_CUDA_GRAPH=1`` (see
``Backend.step_graphs``) until ``tests/test_gpu_graphs.py`` and ``benchmarks/graph_probe.py`` have
passed on one. Only the CuPy backend uses this module, and it imports CuPy only when built.
"""

from __future__ import annotations

import ctypes
import operator
import os
from contextlib import contextmanager
from typing import Callable, Iterator

from .products import using

OP_N, OP_T = 0, 1  # cublasOperation_t
WORKSPACE_BYTES = 32 << 20  # cuBLAS may not allocate during capture; 32 MiB covers Hopper's needs


def gemm_arguments(a_shape, b_shape, trans_a: bool, trans_b: bool) -> dict:
    """cuBLAS arguments for the row-major C = op(A) @ op(B) of C-contiguous A and B.

    cuBLAS is column-major, and a row-major matrix read column-major is its transpose, so it
    computes Cᵀ = op(B)ᵀ·op(A)ᵀ: B is passed first, A second, each with its row length as the
    leading dimension, and each transposed exactly when it is transposed in the row-major product.
    """
    m, k = (a_shape[1], a_shape[0]) if trans_a else (a_shape[0], a_shape[1])
    k_b, n = (b_shape[1], b_shape[0]) if trans_b else (b_shape[0], b_shape[1])
    if k != k_b:
        raise ValueError(f"matmul: inner sizes differ in {tuple(a_shape)} and {tuple(b_shape)}")
    return {"transa": OP_T if trans_b else OP_N, "transb": OP_T if trans_a else OP_N, "m": n, "n": m, "k": k,
            "lda": b_shape[1], "ldb": a_shape[1], "ldc": n, "shape": (m, n)}


def _loaded_library(stem: str) -> ctypes.CDLL:
    """The copy of ``stem`` (e.g. libcublas) that this process has loaded already (CuPy's)."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if os.path.basename(path).startswith(stem + ".so"):
                return ctypes.CDLL(path)
    return ctypes.CDLL(stem + ".so")


class CublasError(RuntimeError):
    """A call on our own cuBLAS handle returned an error status."""


class CublasHandle:
    """A cuBLAS handle bound to ``stream`` with a fixed workspace, set up before any capture;
    :meth:`matmul` is ``a @ b`` for 2-D float arrays through it."""

    def __init__(self, cupy, stream):
        self.cupy = cupy
        (cupy.ones((2, 2), dtype=cupy.float32) @ cupy.ones((2, 2), dtype=cupy.float32)).sum()  # loads cuBLAS
        self.lib = _loaded_library("libcublas")
        self.handle = ctypes.c_void_p()
        self._check(self.lib.cublasCreate_v2(ctypes.byref(self.handle)), "cublasCreate")
        self._check(self.lib.cublasSetStream_v2(self.handle, ctypes.c_void_p(stream.ptr)), "cublasSetStream")
        self.workspace = cupy.empty(WORKSPACE_BYTES, dtype=cupy.uint8)
        self._check(self.lib.cublasSetWorkspace_v2(self.handle, ctypes.c_void_p(self.workspace.data.ptr),
                                                   ctypes.c_size_t(WORKSPACE_BYTES)), "cublasSetWorkspace")
        self.gemms = {"float32": (ctypes.c_float, self.lib.cublasSgemm_v2, self.lib.cublasSgemmStridedBatched),
                      "float64": (ctypes.c_double, self.lib.cublasDgemm_v2, self.lib.cublasDgemmStridedBatched)}

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status != 0:
            raise CublasError(f"{what} returned cuBLAS status {status}")

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle is not None and handle.value:
            self.lib.cublasDestroy_v2(handle)

    def matmul(self, a, b):
        """``a @ b`` for float32/float64 arrays: 2-D @ 2-D (a transposed view, F-contiguous, is
        passed as its C-contiguous base with the transpose flag, so the layers' ``x.T @ dz`` and
        ``dz @ w.T`` need no copy); N-D @ 2-D as one product of the stacked rows; 2-D @ N-D as a
        strided batch (the elastic augmentation's smoothing, ``augment.py``)."""
        if a.dtype != b.dtype or a.dtype.name not in self.gemms or a.ndim < 2 or b.ndim < 2 or min(a.ndim, b.ndim) > 2:
            raise TypeError(f"the captured step's products are float32/float64, 2-D with 2-D or N-D; "
                            f"got {a.shape} @ {b.shape}")
        if a.ndim > 2:
            rows = self.cupy.ascontiguousarray(a).reshape(-1, a.shape[-1])
            return self.matmul(rows, b).reshape(*a.shape[:-1], b.shape[-1])
        if b.ndim > 2:
            return self._batched(a, b)
        a, trans_a = self._operand(a)
        b, trans_b = self._operand(b)
        g = gemm_arguments(a.shape, b.shape, trans_a, trans_b)
        out = self.cupy.empty(g["shape"], dtype=a.dtype)
        scalar, gemm, _ = self.gemms[a.dtype.name]
        one, zero = scalar(1.0), scalar(0.0)
        self._check(gemm(self.handle, g["transa"], g["transb"], g["m"], g["n"], g["k"], ctypes.byref(one),
                         ctypes.c_void_p(b.data.ptr), g["lda"], ctypes.c_void_p(a.data.ptr), g["ldb"],
                         ctypes.byref(zero), ctypes.c_void_p(out.data.ptr), g["ldc"]), "cublasGemm")
        return out

    def _batched(self, a, b):
        """``a @ b[i]`` for every matrix ``b[i]`` of a stack: one strided-batched GEMM, ``a``'s
        stride 0."""
        a, trans_a = self._operand(a)
        stack = self.cupy.ascontiguousarray(b)
        k, n = stack.shape[-2:]
        g = gemm_arguments(a.shape, (k, n), trans_a, False)
        count = stack.size // (k * n)
        out = self.cupy.empty((*stack.shape[:-2], g["shape"][0], n), dtype=a.dtype)
        scalar, _, batched = self.gemms[a.dtype.name]
        one, zero = scalar(1.0), scalar(0.0)
        self._check(batched(self.handle, g["transa"], g["transb"], g["m"], g["n"], g["k"], ctypes.byref(one),
                            ctypes.c_void_p(stack.data.ptr), g["lda"], ctypes.c_longlong(k * n),
                            ctypes.c_void_p(a.data.ptr), g["ldb"], ctypes.c_longlong(0), ctypes.byref(zero),
                            ctypes.c_void_p(out.data.ptr), g["ldc"], ctypes.c_longlong(g["shape"][0] * n), count),
                    "cublasGemmStridedBatched")
        return out

    def _operand(self, x):
        """(C-contiguous array, transposed?) for ``x``."""
        if x.flags.c_contiguous:
            return x, False
        if x.flags.f_contiguous:
            return x.T, True
        return self.cupy.ascontiguousarray(x), False


class StepGraphs:
    """Captures and replays the device part of training steps, one graph per batch shape."""

    def __init__(self, capture: bool = True):
        import cupy

        self.cupy, self.capture = cupy, capture
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.cublas = CublasHandle(cupy, self.stream)
        self.reset()

    def reset(self) -> None:
        """Forget every graph (they read the buffers of the steps they were captured from), their
        pools and any earlier failure."""
        self.pools: dict = {}
        self.graphs: dict = {}
        self.warm: set = set()
        self.note: str | None = None

    @contextmanager
    def context(self) -> Iterator[None]:
        """Run the training loop on this stream, so its eager work and the replays stay in order
        (a stream of its own does not wait for the default stream: the device is synchronised
        before and after)."""
        self.cupy.cuda.Device().synchronize()
        try:
            with self.stream:
                yield
        finally:
            self.stream.synchronize()

    def run(self, shape, step: Callable[[], None]) -> None:
        """Run ``step`` (the device part of one step, for batches of ``shape``)."""
        if self.note is not None or not self.capture:
            with using(self.cublas.matmul if self.note is None else operator.matmul):
                step()
            return
        graph = self.graphs.get(shape)
        if graph is not None:
            graph.launch(self.stream)
            return
        # Each shape's graph has a pool of its own, used only by its warm-up and its capture: no
        # later allocation (nor a pool's release of free blocks when memory runs short) can hand
        # out the memory its kernels use at every replay.
        pool = self.pools.setdefault(shape, self.cupy.cuda.MemoryPool())
        with using(self.cublas.matmul), self.cupy.cuda.using_allocator(pool.malloc):
            if shape not in self.warm:
                try:
                    step()
                except CublasError as error:
                    # Every product of a step comes before its update and its loss sum, so a step
                    # stopped by one has changed nothing yet and runs again, eagerly, below.
                    self.note = f"training steps run eagerly: our own cuBLAS handle failed ({error})"
                else:
                    self.warm.add(shape)
                    return
            else:
                try:
                    graph = self._capture(step)
                except Exception as error:  # noqa: BLE001 - any failure means: run eagerly from now on
                    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    self.note = (f"training steps run eagerly: a CUDA graph capture failed "
                                 f"({type(error).__name__}: {first})")
        if graph is None:
            self.run(shape, step)  # the captured step did not run: run it now, eagerly
            return
        self.graphs[shape] = graph
        graph.launch(self.stream)

    def _capture(self, step):
        self.stream.begin_capture()
        try:
            step()
        except BaseException:
            try:
                self.stream.end_capture()
            except Exception:  # noqa: BLE001 - the step's error is the one to report
                pass
            raise
        return self.stream.end_capture()
