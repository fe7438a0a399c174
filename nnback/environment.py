"""What a run ran on: versions, BLAS and platform, as a JSON-ready dict for metrics and checkpoints.

A result is only comparable with another when both say what computed them: float32 sums differ
between OpenBLAS kernels (``OPENBLAS_CORETYPE`` picks one), thread counts and CUDA versions.
Nothing here imports a library just to report on it (importing CuPy initialises CUDA, which takes
seconds and may fail); a library not imported is reported from its installed metadata, or not at all.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any


def environment() -> dict[str, Any]:
    """Python, nnback, NumPy, array-api-compat, CuPy and CUDA (when CuPy is in use), BLAS, platform."""
    from . import __version__

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "nnback": __version__,
        "numpy": _version("numpy"),
        "array_api_compat": _version("array_api_compat", "array-api-compat"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if "cupy" in sys.modules:
        info.update(_cuda(sys.modules["cupy"]))
    info["blas"] = _blas()
    if "OPENBLAS_CORETYPE" in os.environ:
        info["openblas_coretype"] = os.environ["OPENBLAS_CORETYPE"]
    return info


def _version(module: str, distribution: str | None = None) -> str | None:
    """The imported module's ``__version__``, else the installed distribution's, else None."""
    loaded = sys.modules.get(module)
    if loaded is not None and isinstance(getattr(loaded, "__version__", None), str):
        return loaded.__version__
    try:
        return metadata.version(distribution or module)
    except metadata.PackageNotFoundError:
        return None


def _cuda(cupy) -> dict[str, Any]:
    """CuPy's version, the CUDA runtime and driver versions and the GPU's name; never raises."""
    info: dict[str, Any] = {"cupy": getattr(cupy, "__version__", None)}
    try:
        runtime = cupy.cuda.runtime
        info["cuda_runtime"] = _cuda_version(runtime.runtimeGetVersion())
        info["cuda_driver"] = _cuda_version(runtime.driverGetVersion())
        name = runtime.getDeviceProperties(0)["name"]
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
    except Exception as error:  # no GPU, no driver, a broken toolkit: say so, never fail a run over it
        info["cuda_error"] = f"{type(error).__name__}: {error}".splitlines()[0]
    return info


def _cuda_version(number: int) -> str:
    """CUDA's integer version, 12040 → '12.4'."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _blas() -> list[dict[str, Any]] | None:
    """The BLAS/OpenMP libraries loaded in this process (threadpoolctl), or None without it.

    Each entry: library (``internal_api``, e.g. openblas or mkl), version, kernel architecture
    (``architecture``), threading layer and the number of threads.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keys = {"internal_api": "library", "version": "version", "architecture": "architecture",
            "threading_layer": "threading_layer", "num_threads": "threads", "user_api": "api"}
    return [{name: pool[key] for key, name in keys.items() if key in pool} for pool in threadpool_info()]
