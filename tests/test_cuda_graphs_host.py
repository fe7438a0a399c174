"""The CUDA-graph module's host-side logic, without a GPU: the row-major to column-major GEMM
arguments and the ctypes call of ``CublasHandle.matmul`` (operands, transposed views, pointers,
scalars), against a stand-in libcublas that computes a column-major GEMM on the raw memory the
call points at, as cuBLAS would."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from nnback import cuda_graphs


class HostArray(np.ndarray):
    """A NumPy array that shows its address as CuPy does (``x.data.ptr``)."""

    @property
    def data(self):  # type: ignore[override]
        return type("Memory", (), {"ptr": self.ctypes.data})()


def host(x) -> HostArray:
    return np.asarray(x).view(HostArray)


class StandInCuPy:
    """The few CuPy names ``CublasHandle`` uses, on host arrays."""

    float32, float64, uint8 = np.float32, np.float64, np.uint8

    @staticmethod
    def empty(shape, dtype):
        return host(np.empty(shape, dtype=dtype))

    @staticmethod
    def ones(shape, dtype):
        return host(np.ones(shape, dtype=dtype))

    @staticmethod
    def ascontiguousarray(x):
        return host(np.ascontiguousarray(x))


def column_major(address: int, ctype, rows: int, cols: int, ld: int) -> np.ndarray:
    """The (rows, cols) column-major matrix with leading dimension ``ld`` at ``address``."""
    flat = np.ctypeslib.as_array((ctype * (ld * cols)).from_address(address))
    return flat.reshape(cols, ld).T[:rows, :]


class StandInCublas:
    """cublasCreate/SetStream/SetWorkspace succeed; cublas[SD]gemm_v2 compute on the pointers."""

    def __init__(self):
        self.calls = []
        self.cublasCreate_v2 = self.cublasSetStream_v2 = self.cublasSetWorkspace_v2 = lambda *args: 0
        self.cublasDestroy_v2 = lambda *args: 0
        self.cublasSgemm_v2 = lambda *args: self._gemm(ctypes.c_float, *args)
        self.cublasDgemm_v2 = lambda *args: self._gemm(ctypes.c_double, *args)
        self.cublasSgemmStridedBatched = lambda *args: self._batched(ctypes.c_float, *args)
        self.cublasDgemmStridedBatched = lambda *args: self._batched(ctypes.c_double, *args)

    def _gemm(self, ctype, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        self.calls.append((transa, transb, m, n, k))
        op = lambda x, t: x.T if t == cuda_graphs.OP_T else x  # noqa: E731
        first = column_major(a.value, ctype, *((k, m) if transa else (m, k)), lda)
        second = column_major(b.value, ctype, *((n, k) if transb else (k, n)), ldb)
        out = column_major(c.value, ctype, m, n, ldc)
        product = alpha._obj.value * (op(first, transa) @ op(second, transb))
        out[...] = product if beta._obj.value == 0 else product + beta._obj.value * out  # β = 0: C is not read
        return 0

    def _batched(self, ctype, handle, transa, transb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta,
                 c, ldc, stride_c, count):
        size = ctypes.sizeof(ctype)
        for i in range(count):  # the strides are long long: passed as ctypes.c_longlong
            self._gemm(ctype, handle, transa, transb, m, n, k, alpha,
                       ctypes.c_void_p(a.value + i * stride_a.value * size), lda,
                       ctypes.c_void_p(b.value + i * stride_b.value * size), ldb, beta,
                       ctypes.c_void_p(c.value + i * stride_c.value * size), ldc)
        return 0


@pytest.fixture
def handle(monkeypatch):
    library = StandInCublas()
    monkeypatch.setattr(cuda_graphs, "_loaded_library", lambda stem: library)
    stream = type("Stream", (), {"ptr": 0})()
    return cuda_graphs.CublasHandle(StandInCuPy(), stream), library


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_through_the_handle_is_a_at_b(handle, dtype, trans_a, trans_b):
    """Plain operands and transposed views (the layers' x.T @ dz and dz @ w.T) give a @ b, the
    views passed as their C-contiguous base with the transpose flag, not copied."""
    handle, library = handle
    r = np.random.default_rng(0)
    a = host(r.standard_normal((7, 5) if trans_a else (5, 7)).astype(dtype))
    b = host(r.standard_normal((3, 7) if trans_b else (7, 3)).astype(dtype))
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    np.testing.assert_allclose(handle.matmul(a, b), np.asarray(a) @ np.asarray(b), rtol=1e-6)
    assert library.calls[-1][:2] == (int(trans_b), int(trans_a))


@pytest.mark.parametrize("trans_a", [False, True])
def test_a_matrix_times_a_stack_and_a_stack_times_a_matrix(handle, trans_a):
    """The elastic augmentation's smoothing, G_rows @ field @ G_cols with field (2, n, h, w), here
    with a non-square G_rows so that every stride is told apart."""
    handle, _ = handle
    r = np.random.default_rng(1)
    rows = host(r.standard_normal((5, 6) if trans_a else (6, 5)).astype(np.float32))  # not square: m ≠ k
    rows = rows.T if trans_a else rows
    field = host(r.standard_normal((2, 3, 5, 4)).astype(np.float32))
    cols = host(r.standard_normal((4, 4)).astype(np.float32))
    ours = handle.matmul(handle.matmul(rows, field), cols)
    np.testing.assert_allclose(ours, np.asarray(rows) @ np.asarray(field) @ np.asarray(cols), rtol=1e-5, atol=1e-5)
    assert ours.shape == (2, 3, 6, 4)


def test_an_operand_neither_c_nor_f_contiguous_is_copied_first(handle):
    handle, _ = handle
    a = host(np.arange(40.0).reshape(5, 8))[:, ::2]
    b = host(np.ones((4, 2)))
    np.testing.assert_allclose(handle.matmul(a, b), np.asarray(a) @ np.asarray(b))


def test_what_the_captured_step_cannot_multiply_is_refused(handle):
    handle, _ = handle
    with pytest.raises(TypeError, match="float32/float64, 2-D with 2-D or N-D"):
        handle.matmul(host(np.ones((2, 3, 4))), host(np.ones((2, 4, 2))))
    with pytest.raises(TypeError, match="float32/float64"):
        handle.matmul(host(np.ones((2, 3), np.int64)), host(np.ones((3, 2), np.int64)))
    with pytest.raises(ValueError, match="inner sizes differ"):
        handle.matmul(host(np.ones((2, 3))), host(np.ones((4, 2))))


def test_graphs_are_made_only_on_cupy_and_only_when_asked_for(monkeypatch):
    import dataclasses

    import nnback

    made = []
    monkeypatch.setattr(cuda_graphs, "StepGraphs", lambda: made.append(1) or "graphs")
    numpy = nnback.get_backend("cpu")
    named_cupy = dataclasses.replace(numpy, name="cupy")
    monkeypatch.delenv("NNBACK_CUDA_GRAPH", raising=False)
    assert named_cupy.step_graphs() is None and numpy.step_graphs() is None
    monkeypatch.setenv("NNBACK_CUDA_GRAPH", "true")  # only "1" switches it on
    assert named_cupy.step_graphs() is None
    monkeypatch.setenv("NNBACK_CUDA_GRAPH", "1")
    assert numpy.step_graphs() is None and made == []
    assert named_cupy.step_graphs() == "graphs" and made == [1]


def test_without_a_cublas_handle_of_its_own_the_run_is_eager_and_says_so(monkeypatch):
    import dataclasses

    import nnback

    def no_library(*args, **kwargs):
        raise OSError("libcublas.so: cannot open shared object file")

    monkeypatch.setenv("NNBACK_CUDA_GRAPH", "1")
    monkeypatch.setattr(cuda_graphs, "StepGraphs", no_library)
    named_cupy = dataclasses.replace(nnback.get_backend("cpu"), name="cupy")
    with pytest.warns(RuntimeWarning, match="training steps run eagerly: no CUDA graphs .OSError: libcublas"):
        assert named_cupy.step_graphs() is None


class StandInCuPyModule(StandInCuPy):
    """Enough of the ``cupy`` module for ``StepGraphs`` to be built and run on the host."""

    class cuda:  # noqa: N801 - the module's own name
        class Stream:
            ptr = 0

            def __init__(self, non_blocking=False):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def begin_capture(self):
                raise AssertionError("no capture may start after the warm-up failed")

        class MemoryPool:
            def malloc(self, size):
                raise AssertionError("host arrays need no device memory")

        @staticmethod
        def using_allocator(allocator):
            import contextlib

            return contextlib.nullcontext()


def test_a_failing_product_on_the_own_handle_in_a_warm_up_runs_the_step_eagerly(monkeypatch):
    """cuBLAS refusing a product on our handle (status 13, an execution failure) must not end the
    run: the step, which has changed nothing yet, runs again on CuPy's own products, and so do the
    later ones, with one note saying why. Any other error of the step is the step's own."""
    import sys

    from nnback import products

    failing = StandInCublas()
    failing.cublasSgemm_v2 = lambda *args: 13
    monkeypatch.setattr(cuda_graphs, "_loaded_library", lambda stem: failing)
    monkeypatch.setitem(sys.modules, "cupy", StandInCuPyModule())
    graphs = cuda_graphs.StepGraphs()
    rng = np.random.default_rng(0)
    a, b = host(rng.random((4, 3), dtype=np.float32)), host(rng.random((3, 2), dtype=np.float32))
    results = []

    def step():
        results.append(products.matmul(a, b))

    graphs.run(("batch", 4), step)
    assert graphs.note == ("training steps run eagerly: our own cuBLAS handle failed "
                           "(cublasGemm returned cuBLAS status 13)")
    assert len(results) == 1 and np.array_equal(results[0], np.asarray(a) @ np.asarray(b))
    graphs.run(("batch", 4), step)  # later steps: eager, no capture
    assert len(results) == 2

    graphs.reset()

    def broken():
        raise ValueError("a bug in the step")

    with pytest.raises(ValueError, match="a bug in the step"):
        graphs.run(("batch", 4), broken)
