"""The fused CuPy optimizer kernels' sources (``cuda_kernels.SOURCES``) run on NumPy: each source
statement is one operation, so it translates line for line into NumPy operations with the same
roundings (NumPy never contracts a multiply and an add). Dispatched through the optimizers' fused
path, they must give the reference update bit for bit — the same check a GPU runs on the compiled
kernels (``tests/test_gpu_fused.py``), here for the arithmetic and the plumbing without one."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnback import cuda_kernels, optimizers
from test_speed_optimizer_bits import CASES, trajectory

from conftest import make_backend


def python_of(body: str) -> str:
    """The kernel body as Python: `T x = e;` and `x = e;` become `x = e`, and
    `if (c) { s; s; }` becomes `if c: s; s`."""
    def statements(text: str) -> str:
        return "; ".join(re.sub(r"^T ", "", s.strip()) for s in text.split(";") if s.strip())

    lines = []
    for line in body.strip().splitlines():
        block = re.fullmatch(r"if \((\w+)\) \{ (.*) \}", line.strip())
        lines.append(f"if {block[1]}: {statements(block[2])}" if block else statements(line))
    return "\n".join(lines)


def host_kernel(name: str):
    """A stand-in for the ElementwiseKernel ``name``: the same arguments, run by its source."""
    inputs, outputs, body = cuda_kernels.SOURCES[name]
    params = [p.split() for p in (inputs + ", " + outputs).split(", ")]
    code = compile(python_of(body), f"<{name}>", "exec")

    def kernel(*args):
        dtype = next(a.dtype for a in args if isinstance(a, np.ndarray))
        scope = {"sqrt": np.sqrt}
        for (kind, name_), value in zip(params, args):
            scope[name_] = dtype.type(value) if kind == "T" and not isinstance(value, np.ndarray) else \
                int(value) if kind == "int32" else value
        exec(code, scope)
        for kind, name_ in params[-len(outputs.split(", ")):]:
            args[[p[1] for p in params].index(name_)][...] = scope[name_]
    return kernel


def test_each_source_statement_is_one_operation():
    for name, (_, _, body) in cuda_kernels.SOURCES.items():
        for statement in re.split(r"[;{}]", body):
            assert len(re.findall(r"[-+*/]|sqrt", statement)) <= 1, (name, statement)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, weight_decay", CASES)
def test_the_fused_sources_update_as_the_reference_does(monkeypatch, name, weight_decay, dtype):
    backend = make_backend("numpy", dtype)
    reference = trajectory(backend, name, weight_decay)
    monkeypatch.setenv("NNBACK_CUDA_FUSED", "1")
    monkeypatch.setattr(optimizers, "is_cupy_array", lambda x: True)  # NumPy arrays take the fused path
    monkeypatch.setattr(cuda_kernels, "_kernel", host_kernel)
    fused = trajectory(backend, name, weight_decay)
    for a, b in zip(fused, reference):
        np.testing.assert_array_equal(a, b)


def test_the_fused_path_is_off_without_the_switch_or_for_host_arrays(monkeypatch):
    calls = []
    monkeypatch.setattr(cuda_kernels, "_kernel", lambda name: calls.append(name))
    backend = make_backend("numpy", "float32")
    trajectory(backend, "momentum", 0.0)  # no switch
    monkeypatch.setenv("NNBACK_CUDA_FUSED", "1")
    trajectory(backend, "adam", 0.0)  # switch on, NumPy arrays
    assert calls == []
