"""Backends: which array library the arrays live in, on which device, in which dtype.

This is the only door between the host (NumPy) and the device. Everything that creates arrays from
nothing (data upload, initial weights) receives a :class:`Backend`; everything that computes on
arrays asks the arrays for their namespace. CuPy is imported only when ``"cuda"`` is asked for.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import is_cupy_array
from array_api_compat import device as device_of

DTYPES = ("float32", "float64")


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run here (library or device missing)."""


@dataclass(frozen=True)
class Backend:
    """An array namespace, a device in it and the floating dtype the network computes in."""

    name: str
    xp: Any
    device: Any
    dtype: Any

    def asarray(self, host, dtype=None):
        """Upload a host array; floating data is cast on the host first, so every backend gets
        the same bits. ``dtype`` overrides the float dtype (pass ``self.xp.int64`` for labels).

        On NumPy the result may share memory with ``host``: copy arrays you will update in place.
        """
        host = np.asarray(host)
        if dtype is None:
            dtype = self.dtype if host.dtype.kind == "f" else None
        if dtype is not None:
            host = host.astype(host_dtype(dtype), copy=False)
        return self.xp.asarray(np.ascontiguousarray(host), device=self.device)

    def step_graphs(self):
        """What captures training steps as CUDA graphs on this backend (``cuda_graphs.StepGraphs``),
        or None: only CuPy has one, and while it has not run on a GPU it is experimental, used
        only with ``NNBACK_CUDA_GRAPH=1``."""
        if self.name != "cupy" or os.environ.get("NNBACK_CUDA_GRAPH") != "1":
            return None
        from .cuda_graphs import StepGraphs

        try:
            return StepGraphs()
        except Exception as error:  # no cuBLAS handle of our own: the steps run eagerly, said once
            warnings.warn(f"training steps run eagerly: no CUDA graphs ({type(error).__name__}: {error})",
                          RuntimeWarning, stacklevel=2)
            return None

    @property
    def dtype_name(self) -> str:
        return host_dtype(self.dtype).name

    def __repr__(self) -> str:
        return f"Backend({self.name}, device={self.device}, dtype={self.dtype_name})"


def host_dtype(dtype) -> np.dtype:
    """The NumPy dtype with the same name as an array-namespace dtype."""
    return np.dtype(str(dtype).split(".")[-1].strip("'>"))


def get_backend(device="cpu", dtype="float32", array_device=None) -> Backend:
    """``"cpu"`` → NumPy, ``"cuda"`` → CuPy on GPU 0, or any Array API namespace object
    (e.g. ``array_api_strict``) with an optional ``array_device`` inside it."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if isinstance(device, str):
        if device == "cpu":
            import array_api_compat.numpy as xp

            return Backend("numpy", xp, "cpu", getattr(xp, dtype))
        if device == "cuda":
            return _cupy_backend(dtype)
        raise ValueError(f"unknown device {device!r}; choose cpu or cuda")
    xp = device
    if not hasattr(xp, "__array_api_version__"):
        raise ValueError(f"{xp!r} is not an Array API namespace")
    if array_device is None:
        array_device = device_of(device.empty(0))  # `device`, not `xp`: mypy types xp as the numpy import above
    return Backend(xp.__name__.split(".")[-1], xp, array_device, getattr(xp, dtype))


def _cupy_backend(dtype: str) -> Backend:
    hint = 'install it with: pip install "nnback[cuda]"'
    try:
        import cupy
    except ImportError:
        raise BackendUnavailable(f"the cuda device needs CuPy, which is not installed; {hint}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            raise BackendUnavailable("the cuda device needs an NVIDIA GPU, and CUDA sees none")
        # A tiny kernel proves that the driver, NVRTC and cuBLAS actually load.
        probe = cupy.ones((2, 2), dtype=cupy.float32)
        float((probe @ probe).sum())
    except BackendUnavailable:
        raise
    except Exception as error:  # CuPy raises many kinds here: runtime, NVRTC, driver errors.
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BackendUnavailable(f"the cuda device: CuPy is installed but no usable GPU was found ({first})") from None
    import array_api_compat.cupy as xp

    return Backend("cupy", xp, cupy.cuda.Device(0), getattr(xp, dtype))


def to_numpy(x) -> np.ndarray:
    """Copy any backend's array to a host NumPy array (at the edges only: reports, checkpoints)."""
    if isinstance(x, np.ndarray):
        return x
    if is_cupy_array(x):
        return x.get()
    try:
        return np.from_dlpack(x, device="cpu")
    except (AttributeError, TypeError, ValueError, BufferError, RuntimeError):  # lists, scalars: no DLPack
        return np.asarray(x)



def seeded_generators(seed: int, count: int = 3) -> tuple[np.random.Generator, ...]:
    """Host generators, one per purpose (initial weights, batch order, data split, hold-outs), so
    that changing one use (say, adding a layer) never changes another's numbers. The first ones do
    not depend on ``count``."""
    return tuple(np.random.default_rng(seed).spawn(count))
