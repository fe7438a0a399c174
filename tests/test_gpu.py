"""CuPy-only properties of the training loop: no host synchronisation inside the step loop, and no
memory growth in steady state. Skipped cleanly without CuPy and a GPU."""

from __future__ import annotations

import gc

import pytest

from conftest import make_backend, mnist_trainer
from nnback.augment import elastic, translate
from nnback.runner import TrainConfig
from nnback.training import Batches, train_step

pytestmark = pytest.mark.cuda


@pytest.fixture
def gpu_run(mnist_small):
    backend = make_backend("cupy", "float32")
    config = TrainConfig(layers=[784, 256, 256, 10], dropout=0.2, optimizer="adam", lr=1e-3)
    trainer = mnist_trainer(config, backend)
    model, loss, optimizer, shuffle_rng = trainer.model, trainer.loss, trainer.optimizer, trainer.shuffle_rng
    x = backend.asarray(mnist_small.train.images)
    y = backend.asarray(mnist_small.train.labels, backend.xp.int64)
    return model, loss, optimizer, list(Batches(x, y, 64, shuffle_rng).epoch())


def test_step_loop_never_synchronises_with_the_host(gpu_run):
    cupyx = pytest.importorskip("cupyx")
    model, loss, optimizer, batches = gpu_run
    total = 0.0
    with cupyx.allow_synchronize(False):  # raises DeviceSynchronized on any implicit sync
        for step, (xb, yb) in enumerate(batches):
            xb = elastic(translate(xb, step), step)
            total = total + train_step(model, loss, optimizer, xb, yb, noise_key=step)
    assert float(total) > 0  # read once, after the loop


def test_steady_state_steps_do_not_grow_memory(gpu_run):
    cupy = pytest.importorskip("cupy")
    model, loss, optimizer, batches = gpu_run
    pool = cupy.get_default_memory_pool()

    def run_steps():
        for step, (xb, yb) in enumerate(batches[:10]):
            train_step(model, loss, optimizer, xb, yb, noise_key=step)
        cupy.cuda.Device().synchronize()
        gc.collect()  # arrays caught in reference cycles elsewhere in the process are not ours
        return pool.used_bytes(), pool.total_bytes()

    run_steps()  # warm-up: optimizer state and the pool's blocks are allocated here
    first = run_steps()
    assert run_steps() == first
