"""Training steps captured as CUDA graphs on CuPy (``cuda_graphs.py``, experimental): the products
through nnback's own cuBLAS handle, replay against eager steps bit for bit, and the loop around
them without a host sync. Skipped cleanly without CuPy and a GPU."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnback
from conftest import make_backend
from nnback import training
from nnback.augment import get_augmentation
from nnback.losses import get_loss
from nnback.model import MLP
from nnback.optimizers import make_optimizer
from nnback.training import Batches, Position, StepInputs, train_epoch

pytestmark = pytest.mark.cuda


def setup(backend, optimizer_name="adam", shuffle=True):
    data = np.random.default_rng(0)
    x = backend.asarray(data.random((1000, 784), dtype=np.float32))
    y = backend.xp.asarray(data.integers(0, 10, 1000), device=backend.device)
    model = MLP.create([784, 128, 64, 10], backend, np.random.default_rng(1), dropout=[0.1, 0.2, 0.2])
    optimizer = make_optimizer(optimizer_name, 1e-3 if optimizer_name == "adam" else 0.05, momentum=0.9)
    batches = Batches(x, y, 96, np.random.default_rng(2), shuffle=shuffle)  # 11 steps, the last of 40 rows
    return model, get_loss("cross-entropy"), optimizer, batches, get_augmentation("translate", (28, 28))


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_the_own_cublas_handle_multiplies_like_cupy(trans_a, trans_b):
    make_backend("cupy")  # first: with NNBACK_REQUIRE_GPU=1 a missing or broken CuPy fails here, not skips
    import cupy
    from nnback.cuda_graphs import CublasHandle

    stream = cupy.cuda.Stream(non_blocking=True)
    handle = CublasHandle(cupy, stream)
    r = np.random.default_rng(3)
    with stream:  # the handle computes on its stream: everything else there too, in order
        for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12)):
            a = cupy.asarray(r.standard_normal((70, 50) if trans_a else (50, 70)).astype(dtype))
            b = cupy.asarray(r.standard_normal((30, 70) if trans_b else (70, 30)).astype(dtype))
            a, b = (a.T if trans_a else a), (b.T if trans_b else b)
            ours, theirs = handle.matmul(a, b), a @ b
            stream.synchronize()
            np.testing.assert_allclose(ours.get(), theirs.get(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("optimizer_name", ["nesterov", "adam"])
def test_replayed_graphs_train_the_weights_of_eager_steps(optimizer_name):
    """Three epochs with dropout, shifts, a schedule and a short last batch: captured and replayed
    per batch shape, against the same steps run eagerly through the same cuBLAS handle."""
    make_backend("cupy", "float32")
    from nnback.cuda_graphs import StepGraphs

    runs = []
    for graphs in (StepGraphs(capture=False), StepGraphs()):
        model, loss, optimizer, batches, augment = setup(make_backend("cupy", "float32"), optimizer_name)
        history = training.fit(model, loss, optimizer, batches, 3, schedule=lambda t: 1e-3 * (1 - t / 4),
                               augment=augment, graphs=graphs, noise_seed=5)
        runs.append(([nnback.to_numpy(p) for p in model.parameters()], [h["train_loss"] for h in history]))
    assert graphs.note is None and len(graphs.graphs) == 2  # both batch shapes were captured
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]


def test_the_training_loop_never_synchronises_with_the_host():
    """The loop around the step — refilling the index buffer and the key, the schedule, the running
    loss — reads nothing back to the host (``allow_synchronize`` catches ``.get()`` and device
    synchronisation; tests/test_gpu.py checks the step)."""
    # Unshuffled: the one upload of an epoch's permutation is not a step's business.
    model, loss, optimizer, batches, augment = setup(make_backend("cupy", "float32"), shuffle=False)
    import cupyx  # after make_backend: with NNBACK_REQUIRE_GPU=1 a missing CuPy fails, not skips
    position = Position()
    train_epoch(model, loss, optimizer, batches, position, augment=augment)  # warm-up: kernels, state
    inputs = StepInputs.like(model.parameters()[0])
    with cupyx.allow_synchronize(False):  # raises DeviceSynchronized on any implicit sync
        train_epoch(model, loss, optimizer, batches, position, schedule=lambda t: 1e-3, augment=augment,
                    inputs=inputs)
    assert float(position.loss_sum) > 0


def test_nnback_train_with_graphs_reaches_the_eager_accuracy(monkeypatch, mnist_small):
    """The whole front door with NNBACK_CUDA_GRAPH=1: it captures, and the run is as good."""
    from nnback.runner import TrainConfig, prepare

    results = []
    for enabled in ("0", "1"):
        monkeypatch.setenv("NNBACK_CUDA_GRAPH", enabled)
        config = TrainConfig(hidden=[256], epochs=2, batch_size=64, device="cuda")
        run = prepare(config, mnist_small, backend=make_backend("cupy", "float32"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager steps fails here
            results.append(run.fit().metrics["test_accuracy"])
    assert results[1] == pytest.approx(results[0], abs=0.01)
