"""Same seed, same numbers, every backend.

Every random number is drawn on the host and cast there, so initial weights and batch order are
bit-identical everywhere. array-api-strict wraps NumPy and runs the same kernels, so it must agree
with NumPy *bit for bit* after training too. CuPy runs other kernels (cuBLAS, its own reductions),
so it agrees within tolerances derived below; set ``NNBACK_PARITY_OUT=file.json`` to record the
measured differences (the GPU check does).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import nnback
from conftest import make_backend, mnist_trainer
from nnback.runner import TrainConfig
from nnback.training import Batches, Evaluation, fit

MEASURED: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def record_measurements():
    yield
    path = os.environ.get("NNBACK_PARITY_OUT")
    if path and MEASURED:
        with open(path, "w") as handle:
            json.dump(MEASURED, handle, indent=2)


def run(backend, data, config: TrainConfig):
    """Train ``config`` on ``data`` and return host weights and the final test accuracy."""
    trainer = mnist_trainer(config, backend)
    model, loss, optimizer, shuffle_rng = trainer.model, trainer.loss, trainer.optimizer, trainer.shuffle_rng
    upload = lambda split: (backend.asarray(split.images), backend.asarray(split.labels, backend.xp.int64))  # noqa: E731
    x, y = upload(data.train)
    history = fit(model, loss, optimizer, Batches(x, y, config.batch_size, shuffle_rng), config.epochs,
                  evaluation=Evaluation({"test": upload(data.test)}), report_every=config.epochs)
    return [nnback.to_numpy(p) for p in model.parameters()], history[-1]["test_accuracy"]


def initial_weights(backend, sizes=(784, 32, 10)):
    init_rng, _, _ = nnback.backend.seeded_generators(7)
    return [nnback.to_numpy(p) for p in nnback.MLP.create(list(sizes), backend, init_rng, init="normal").parameters()]


def batch_order(backend, n=100):
    x = backend.asarray(np.zeros((n, 1)))
    y = backend.asarray(np.arange(n), backend.xp.int64)
    batches = Batches(x, y, 32, np.random.default_rng(3))
    return [nnback.to_numpy(yb) for _ in range(2) for _, yb in batches.epoch()]


def test_same_seed_gives_identical_initial_weights_and_batch_order(backend_name):
    other, numpy = make_backend(backend_name, "float32"), make_backend("numpy", "float32")
    for a, b in zip(initial_weights(other), initial_weights(numpy)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(batch_order(other), batch_order(numpy)):
        np.testing.assert_array_equal(a, b)


SMALL = TrainConfig(layers=[784, 32, 10], batch_size=50, epochs=2, lr=0.05, schedule="cosine")


@pytest.mark.parametrize("config", [SMALL, SMALL.replace(batch_size=None, epochs=10, lr=0.5, optimizer="sgd"),
                                    SMALL.replace(optimizer="adam", lr=1e-3, activation="tanh")])
def test_strict_matches_numpy_bit_for_bit(mnist_small, config):
    strict = make_backend("array_api_strict", "float32")
    expected, expected_accuracy = run(make_backend("numpy", "float32"), mnist_small, config)
    actual, accuracy = run(strict, mnist_small, config)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)
    assert accuracy == expected_accuracy


# --- CuPy against NumPy (GPU only) -------------------------------------------------------------
# float32: each matmul differs by reduction order, a few ulps (eps = 1.2e-7) relative to the
# magnitudes summed. Over an epoch of SGD these differences random-walk and are amplified where a
# ReLU flips, so weights drift by ~1e-5..1e-4 of their scale; we allow 1e-3 · max|w| and check the
# test accuracy within 0.2 points. float64: the same drift from eps = 2.2e-16 stays ~1e-12, so
# 1e-9 relative (of the largest weight) has three orders of headroom.
GPU_CASES = {
    "minibatch-1-epoch": TrainConfig(layers=[784, 256, 10], batch_size=128, epochs=1, lr=0.05, dropout=0.0),
    "fullbatch-50-iterations": TrainConfig(layers=[784, 64, 10], batch_size=None, epochs=50, lr=0.5, dropout=0.0,
                                           optimizer="sgd", schedule="constant"),
}


@pytest.fixture(scope="module")
def mnist_full():
    return nnback.load_mnist()


@pytest.mark.cuda
@pytest.mark.parametrize("dtype, scale", [("float32", 1e-3), ("float64", 1e-9)])
@pytest.mark.parametrize("case", sorted(GPU_CASES))
def test_cupy_matches_numpy(mnist_full, case, dtype, scale):
    cupy_backend = make_backend("cupy", dtype)
    config = GPU_CASES[case].replace(dtype=dtype)
    expected, expected_accuracy = run(make_backend("numpy", dtype), mnist_full, config)
    actual, accuracy = run(cupy_backend, mnist_full, config)
    largest = max(float(np.max(np.abs(w))) for w in expected)
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(actual, expected))
    MEASURED.append({"case": case, "dtype": dtype, "max_abs_diff": worst, "max_abs_weight": largest,
                     "relative": worst / largest, "accuracy_numpy": expected_accuracy, "accuracy_cupy": accuracy})
    assert worst <= scale * largest
    assert abs(accuracy - expected_accuracy) <= 0.002


@pytest.mark.cuda
def test_cupy_logits_match_numpy_in_float32(mnist_full):
    cupy_backend, numpy = make_backend("cupy", "float32"), make_backend("numpy", "float32")
    logits = []
    for backend in (numpy, cupy_backend):
        init_rng, _, _ = nnback.backend.seeded_generators(0)
        model = nnback.MLP.create([784, 1024, 1024, 10], backend, init_rng)
        logits.append(nnback.to_numpy(model.forward(backend.asarray(mnist_full.test.images))))
    # Sums of ~800 products of O(1) terms: a few float32 ulps of the accumulated magnitude.
    scale = float(np.max(np.abs(logits[0])))
    worst = float(np.max(np.abs(logits[0] - logits[1])))
    MEASURED.append({"case": "logits-784-1024-1024-10", "dtype": "float32", "max_abs_diff": worst,
                     "max_abs_logit": scale, "relative": worst / scale})
    assert worst <= 1e-5 * scale
