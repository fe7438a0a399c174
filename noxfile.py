"""nox sessions: the test suite on each array backend, backend parity, and the benchmarks.

    nox                          # tests on numpy, array-api-strict, torch (+ cupy if a GPU), parity, typecheck
    nox -s "tests(backend='numpy')"
    nox -s typecheck             # mypy over the package (configured in pyproject.toml)
    nox -s distributed           # mpiexec -n 2 against one process, a failing rank, a Dask grid search
    nox -s bench                 # CPU benchmark against PyTorch and scikit-learn (slow, optional)

A session whose backend cannot run here (CuPy without an NVIDIA GPU) is skipped with a reason and
exits 0; set NNBACK_REQUIRE_GPU=1 to make that a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "parity", "typecheck", "distributed"]
nox.options.reuse_existing_virtualenvs = True


def gpu_present() -> bool:
    """An NVIDIA GPU answers `nvidia-smi -L` (checked before anything is installed)."""
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def skip_without_gpu(session: nox.Session) -> None:
    if not gpu_present():
        if os.environ.get("NNBACK_REQUIRE_GPU") == "1":
            session.error("NNBACK_REQUIRE_GPU=1 but no NVIDIA GPU answers `nvidia-smi -L`")
        session.skip("no NVIDIA GPU here (nvidia-smi -L fails); the cupy backend needs one")


# PyTorch's CPU build, as the third Array API library under test and the benchmarks' reference. A
# pinned release: an open range can pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"


def install(session: nox.Session, extras: str, *more: str) -> None:
    if session.venv_backend != "none":
        session.install(f".[{extras}]", *more)


@nox.session
@nox.parametrize("backend", ["numpy", "array_api_strict", "torch", "cupy"])
def tests(session: nox.Session, backend: str) -> None:
    """The whole test suite with one array backend."""
    if backend == "cupy":
        skip_without_gpu(session)
    install(session, "test,cuda" if backend == "cupy" else "test", *([TORCH] if backend == "torch" else []))
    session.run("pytest", "-q", "-m", "not slow", *session.posargs, env={"NNBACK_TEST_BACKENDS": backend})


@nox.session
def parity(session: nox.Session) -> None:
    """Same seed, same numbers: every backend present against NumPy (torch on the CPU; CuPy only
    with a GPU)."""
    extras = "test,cuda" if gpu_present() else "test"
    install(session, extras, TORCH)
    session.run("pytest", "-q", "-rs", "tests/test_parity.py", "tests/test_noise.py", *session.posargs)


@nox.session
def distributed(session: nox.Session) -> None:
    """Data-parallel training on real MPI processes (the mpich wheel brings mpiexec) and sweeps on a
    Dask LocalCluster; the other sessions skip the MPI tests, which need the mpi extra."""
    install(session, "test,mpi,dask")
    session.run("pytest", "-q", "-rs", "tests/test_distributed.py", "tests/test_distributed_mpi.py", *session.posargs,
                env={"NNBACK_TEST_BACKENDS": "numpy"})


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over nnback, with the optional libraries installed so that their types are checked too."""
    install(session, "test,typecheck")
    session.run("mypy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """CPU benchmark: nnback vs PyTorch CPU and scikit-learn on the same networks (optional peers)."""
    install(session, "bench", TORCH, "scikit-learn")
    session.run("python", "benchmarks/bench_cpu.py", *session.posargs)
