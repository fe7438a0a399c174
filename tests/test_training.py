"""The training loop: one step shared by full-batch and mini-batch training, and learning."""

from __future__ import annotations

import numpy as np
import pytest

import nnback
from nnback.losses import get_loss
from nnback.model import MLP
from nnback.optimizers import make_optimizer
from nnback.training import Batches, Evaluation, fit


def toy_problem(backend, rng, n=64):
    """Two Gaussian blobs per class, 3 classes, 8 features: learnable in a few steps."""
    centres = rng.standard_normal((3, 8)) * 2.0
    labels = rng.integers(0, 3, n)
    x = centres[labels] + rng.standard_normal((n, 8)) * 0.5
    return backend.asarray(x), backend.asarray(labels, backend.xp.int64)


def trained_weights(backend, x, y, batch_size, epochs, seed=0):
    init_rng, shuffle_rng, _ = nnback.backend.seeded_generators(seed)
    model = MLP.create([8, 6, 3], backend, init_rng, "tanh", "softmax", "xavier")
    fit(model, get_loss("cross-entropy"), make_optimizer("momentum", 0.1), Batches(x, y, batch_size, shuffle_rng), epochs)
    return [nnback.to_numpy(p) for p in model.parameters()]


def test_full_batch_equals_mini_batch_of_the_whole_set(backend, rng):
    x, y = toy_problem(backend, rng)
    full = trained_weights(backend, x, y, None, 5)
    # A single mini-batch of all n samples is the whole set in shuffled order; the gradient is a
    # mean over the same samples, so only the summation order differs (float64: ~1e-15).
    mini = trained_weights(backend, x, y, 64, 5)
    for a, b in zip(full, mini):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_training_learns_the_toy_problem(backend, rng):
    x, y = toy_problem(backend, rng)
    init_rng, shuffle_rng, _ = nnback.backend.seeded_generators(0)
    model = MLP.create([8, 16, 3], backend, init_rng, "relu", "softmax", "he")
    history = fit(model, get_loss("cross-entropy"), make_optimizer("adam", 0.01), Batches(x, y, 16, shuffle_rng),
                  20, evaluation=Evaluation({"train": (x, y)}), report_every=5)
    assert [entry["epoch"] for entry in history] == [5, 10, 15, 20]
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 2
    assert history[-1]["train_accuracy"] > 0.95


def test_history_reports_every_k_full_batch_iterations(backend, rng):
    x, y = toy_problem(backend, rng)
    init_rng, _, _ = nnback.backend.seeded_generators(0)
    model = MLP.create([8, 3], backend, init_rng, [], "softmax", "uniform")
    history = fit(model, get_loss("cross-entropy"), make_optimizer("sgd", 0.5), Batches(x, y), 7,
                  evaluation=Evaluation({"test": (x, y)}), report_every=3)
    assert [entry["epoch"] for entry in history] == [3, 6, 7]


def test_batches_cover_every_sample_once_per_epoch(backend, rng):
    x = backend.asarray(np.arange(10.0).reshape(10, 1))
    y = backend.asarray(np.arange(10), backend.xp.int64)
    batches = Batches(x, y, 4, np.random.default_rng(0))
    seen = np.concatenate([nnback.to_numpy(yb) for _, yb in batches.epoch()])
    assert sorted(seen.tolist()) == list(range(10))
    assert [int(xb.shape[0]) for xb, _ in batches.epoch()] == [4, 4, 2]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow is the point of this test
def test_diverging_training_names_the_epoch(backend, rng):
    x, y = toy_problem(backend, rng)
    init_rng, shuffle_rng, _ = nnback.backend.seeded_generators(0)
    model = MLP.create([8, 16, 3], backend, init_rng, "relu", "identity", "normal")
    with pytest.raises(nnback.training.TrainingDiverged, match="epoch 1.*smaller learning rate"):
        fit(model, get_loss("quadratic"), make_optimizer("sgd", 1e6), Batches(x, y, 8, shuffle_rng), 3)


def test_early_stopping_restores_the_best_weights(backend, rng):
    x, y = toy_problem(backend, rng)
    init_rng, shuffle_rng, _ = nnback.backend.seeded_generators(0)
    model = MLP.create([8, 16, 3], backend, init_rng, "relu", "softmax", "he")
    stopper = nnback.training.EarlyStopping(patience=2)
    # Whether it stops early or runs out of epochs, the weights left are the best report's.
    history = fit(model, get_loss("cross-entropy"), make_optimizer("sgd", 0.05), Batches(x, y, 8, shuffle_rng), 40,
                  evaluation=Evaluation({"val": (x, y)}), early_stopping=stopper)
    best = max(entry["val_accuracy"] for entry in history)
    assert stopper.best == best
    restored = nnback.evaluate(model, get_loss("cross-entropy"), x, y)["accuracy"]
    assert restored == best


def test_a_constant_schedule_without_warmup_leaves_the_lr_alone():
    assert nnback.runner.learning_rate_schedule(nnback.TrainConfig(schedule="constant", warmup_epochs=0)) is None


@pytest.mark.parametrize("schedule, expected", [
    ("cosine", [1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4))]),
    ("step", [1.0, 1.0, 0.1, 0.01]),
])
def test_learning_rate_schedules(schedule, expected):
    lr_at = nnback.runner.learning_rate_schedule(nnback.TrainConfig(lr=1.0, epochs=4, schedule=schedule, warmup_epochs=0))
    np.testing.assert_allclose([lr_at(epoch) for epoch in range(4)], expected)


def test_warmup_rises_linearly_then_follows_the_schedule():
    lr_at = nnback.runner.learning_rate_schedule(nnback.TrainConfig(lr=1.0, epochs=10, schedule="cosine",
                                                                    warmup_epochs=2))
    np.testing.assert_allclose([lr_at(0.5), lr_at(1.0), lr_at(2.0), lr_at(10.0)], [0.25, 0.5, 1.0, 0.0], atol=1e-12)
    constant = nnback.runner.learning_rate_schedule(nnback.TrainConfig(lr=1.0, schedule="constant", warmup_epochs=1))
    np.testing.assert_allclose([constant(0.5), constant(1.0), constant(7.0)], [0.5, 1.0, 1.0])
