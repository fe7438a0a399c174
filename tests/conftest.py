"""Shared fixtures: every backend test is written once and runs on numpy, array-api-strict and
(where a GPU is present) cupy; torch (CPU) runs where it is installed. ``NNBACK_TEST_BACKENDS`` (comma-separated) narrows the set, which is
how the nox ``tests`` session runs one backend per session."""

from __future__ import annotations

import os

import numpy as np
import pytest

import nnback
from nnback.backend import BackendUnavailable, get_backend

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "cupy")


def _selected() -> tuple[str, ...]:
    chosen = os.environ.get("NNBACK_TEST_BACKENDS")
    return tuple(name.strip() for name in chosen.split(",")) if chosen else ALL_BACKENDS


def make_backend(name: str, dtype: str = "float64"):
    """A Backend for a test, or a pytest skip naming what is missing."""
    if name == "numpy":
        return get_backend("cpu", dtype)
    if name == "array_api_strict":
        strict = pytest.importorskip("array_api_strict")
        # Strict with the features an MLP must not rely on switched off, on its fake non-CPU
        # device, so a forgotten device= or a host round trip fails here instead of on a GPU.
        strict.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)
        return get_backend(strict, dtype, array_device=strict.Device("device1"))
    if name == "torch":
        # A third real array library through array-api-compat, on the CPU: proves "any Array
        # API namespace" without a GPU (skipped where torch is not installed).
        pytest.importorskip("torch")
        import array_api_compat.torch as xp

        return get_backend(xp, dtype)
    if name == "cupy":
        try:
            return get_backend("cuda", dtype)
        except BackendUnavailable as error:
            if os.environ.get("NNBACK_REQUIRE_GPU") == "1":
                raise
            pytest.skip(str(error))
    raise ValueError(name)


def _params():
    marks = {"cupy": [pytest.mark.cuda]}
    return [pytest.param(name, marks=marks.get(name, [])) for name in _selected()]


@pytest.fixture(params=_params())
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def backend(backend_name):
    """A float64 backend (gradient checks and exact comparisons want float64)."""
    return make_backend(backend_name, "float64")


@pytest.fixture
def backend32(backend_name):
    """A float32 backend, nnback's default dtype."""
    return make_backend(backend_name, "float32")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def assert_close(actual, expected, rtol: float = 1e-7, atol: float = 0.0) -> None:
    """Compare any backend's array with a host array, through the one door to NumPy."""
    np.testing.assert_allclose(nnback.to_numpy(actual), np.asarray(expected), rtol=rtol, atol=atol)


@pytest.fixture(scope="session")
def mnist_small():
    """A small real-MNIST dataset (2,000 train / 500 val / 1,000 test) for quick end-to-end tests."""
    data = nnback.load_mnist(val_size=10_000)
    cut = lambda split, n: nnback.data.Split(split.images[:n], split.labels[:n])  # noqa: E731
    return nnback.Dataset(cut(data.train, 2000), cut(data.val, 500), cut(data.test, 1000), data.source)


def write_idx(path, array: np.ndarray, magic: int) -> None:
    """Write a raw (uncompressed) IDX file: big-endian magic, dimensions, then uint8 data."""
    import struct

    header = struct.pack(f">i{array.ndim}i", magic, *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def idx_subset(directory, n_train: int, n_test: int):
    """Write the first ``n_train`` training and ``n_test`` test images of the bundled MNIST as an
    IDX directory, for CLI runs through ``--data``."""
    from nnback.data import IMAGE_MAGIC, LABEL_MAGIC, read_idx_dir

    arrays = read_idx_dir(nnback.data.bundled_dir())
    for part, n in (("train", n_train), ("t10k", n_test)):
        key = "train" if part == "train" else "test"
        write_idx(directory / f"{part}-images-idx3-ubyte", arrays[f"{key}_images"][:n].reshape(n, 28, 28), IMAGE_MAGIC)
        write_idx(directory / f"{part}-labels-idx1-ubyte", arrays[f"{key}_labels"][:n], LABEL_MAGIC)
    return directory


@pytest.fixture(scope="session")
def small_mnist_dir(tmp_path_factory):
    """1,200 training and 300 test images (use ``--val-size 200`` or so with it)."""
    return idx_subset(tmp_path_factory.mktemp("small-mnist"), 1200, 300)


def draw_mutation(data, raw: bytes, max_flips: int, max_random: int) -> tuple[str, bytes]:
    """A hypothesis-drawn damage to ``raw``: a few bytes flipped, a truncation, or random bytes.
    Returns the kind of damage (for ``hypothesis.event``) and the damaged bytes."""
    from hypothesis import strategies as st

    kind = data.draw(st.sampled_from(["flip", "truncate", "random"]))
    damaged = bytearray(raw)
    if kind == "flip":
        for position in data.draw(st.lists(st.integers(0, len(damaged) - 1), min_size=1, max_size=max_flips)):
            damaged[position] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        damaged = damaged[: data.draw(st.integers(0, len(damaged) - 1))]
    else:
        damaged = bytearray(data.draw(st.binary(max_size=max_random)))
    return kind, bytes(damaged)


def mnist_trainer(config, backend, n_train=None):
    """The front door's Trainer for ``config`` on MNIST-shaped data (784 pixels, 10 digits)."""
    from nnback.runner import DataInfo, Trainer

    return Trainer(config, DataInfo(784, tuple("0123456789"), (28, 28), n_train=n_train), backend=backend)


def numeric_gradient(f, x: np.ndarray, h: float) -> np.ndarray:
    """Central differences of the scalar ``f`` at host ``x`` (changed in place, then restored)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        plus = f(x)
        x[index] = saved - h
        minus = f(x)
        x[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


@pytest.fixture
def alarm():
    """Fail with TimeoutError instead of hanging when something blocks on a read (a FIFO with no
    writer, a character device that never ends)."""
    import signal

    def hung(*_):
        raise TimeoutError("blocked on a special file")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def start_sklearn_like(monkeypatch, sklearn_class, untrained, n_features: int) -> None:
    """Give scikit-learn's ``sklearn_class`` the initial weights nnback's ``untrained`` estimator
    (classes_ or n_outputs_ set) would start ``fit`` from, through scikit-learn's private
    ``_init_coef`` hook (the test is skipped if that hook is gone)."""
    if not hasattr(sklearn_class, "_init_coef"):
        pytest.skip("scikit-learn's private _init_coef hook is gone; cannot give it nnback's initial weights")
    untrained._start(nnback.get_backend("cpu", "float64"), n_features, untrained._settings())
    initial = iter([(w.copy(), b.copy()) for w, b in zip(untrained.coefs_, untrained.intercepts_)])
    monkeypatch.setattr(sklearn_class, "_init_coef", lambda self, n_in, n_out, dtype: next(initial))
