"""environment(): the versions and BLAS a result was computed with, JSON-ready, importing nothing new."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import types

import array_api_compat
import numpy as np
import pytest

import nnback
from nnback import environment as env_module
from nnback.environment import environment


def test_reports_the_versions_in_use_as_json():
    info = environment()
    assert json.loads(json.dumps(info)) == info
    assert info["python"] == platform.python_version()
    assert info["nnback"] == nnback.__version__
    assert info["numpy"] == np.__version__ and info["array_api_compat"] == array_api_compat.__version__
    assert info["platform"] and info["machine"] == platform.machine()


def test_reports_the_blas_numpy_uses():
    pytest.importorskip("threadpoolctl")
    blas = [pool for pool in environment()["blas"] if pool.get("api") == "blas"]
    assert blas, "NumPy's BLAS was not found"
    assert {"library", "version", "threads"} <= set(blas[0]) and blas[0]["threads"] >= 1


def test_without_threadpoolctl_blas_is_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes `import threadpoolctl` fail
    assert environment()["blas"] is None


def test_openblas_coretype_only_when_set(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert "openblas_coretype" not in environment()
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert environment()["openblas_coretype"] == "Haswell"


def test_never_imports_cupy_to_report_on_it():
    code = "import sys, nnback.environment as e; e.environment(); print('cupy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    assert "cupy" not in environment() and "cuda_runtime" not in environment()


def test_reports_cuda_when_cupy_is_in_use(monkeypatch):
    runtime = types.SimpleNamespace(runtimeGetVersion=lambda: 12040, driverGetVersion=lambda: 12080,
                                    getDeviceProperties=lambda i: {"name": b"NVIDIA H200"})
    fake = types.SimpleNamespace(__version__="14.2.0", cuda=types.SimpleNamespace(runtime=runtime))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    info = environment()
    assert (info["cupy"], info["cuda_runtime"], info["cuda_driver"], info["gpu"]) == ("14.2.0", "12.4", "12.8", "NVIDIA H200")


def test_a_broken_cuda_is_reported_not_raised(monkeypatch):
    def fail():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\ndetails")

    runtime = types.SimpleNamespace(runtimeGetVersion=fail)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(__version__="14.2.0",
                                                                   cuda=types.SimpleNamespace(runtime=runtime)))
    info = environment()
    assert info["cupy"] == "14.2.0" and info["cuda_error"] == "RuntimeError: cudaErrorNoDevice: no CUDA-capable device is detected"


def test_metrics_summary_carries_the_environment(mnist_small):
    result = nnback.train(nnback.TrainConfig(layers=[784, 8, 10], epochs=1, augment="none", dropout=0.0,
                                             val_size=0), data=mnist_small)
    assert result.metrics["environment"]["nnback"] == nnback.__version__
    assert env_module.environment()["numpy"] == result.metrics["environment"]["numpy"]
