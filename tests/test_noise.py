"""Per-step randomness computed on the device: the counter-based generator, dropout and
augmentation give bit-identical results on every backend and have the right statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnback
from conftest import make_backend
from nnback import augment, rng
from nnback.model import MLP


def bits_on(backend, shape, key):
    return nnback.to_numpy(rng.random_bits(backend.xp, shape, key, backend.device))


def test_random_bits_are_identical_on_every_backend(backend_name):
    other, numpy = make_backend(backend_name), make_backend("numpy")
    key = rng.stream_key(0, 1, 2, 3)
    if backend_name != "torch":  # torch has no uint64 arithmetic: its stream is int64 (next test)
        np.testing.assert_array_equal(bits_on(other, (64, 33), key), bits_on(numpy, (64, 33), key))
    # The stream is a function of (key, position): any slice can be recomputed on its own.
    np.testing.assert_array_equal(bits_on(numpy, (64, 33), key).ravel()[:100], bits_on(numpy, (100,), key))


@pytest.mark.parametrize("n", [2, 5, 7, 1000])
def test_every_consumer_of_the_stream_is_identical_on_every_backend(backend_name, n):
    """Integers modulo n, uniform floats and dropout masks: the same numbers everywhere, also where
    the stream is computed in int64 (PyTorch)."""
    other, numpy = make_backend(backend_name, "float32"), make_backend("numpy", "float32")
    key = rng.stream_key(5, n)
    draws = [(nnback.to_numpy(rng.random_integers(b.xp, (40, 25), key, n, b.device)),
              nnback.to_numpy(rng.uniform(b.xp, (40, 25), key, b.xp.float32, b.device)),
              nnback.to_numpy(rng.keep_mask(b.asarray(np.ones((40, 25), np.float32)), 0.3, key)))
             for b in (other, numpy)]
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    assert draws[1][0].min() == 0 and draws[1][0].max() == n - 1 or n == 1000


def test_keys_separate_streams():
    keys = {rng.stream_key(seed, epoch, step, layer) for seed in range(3) for epoch in range(3)
            for step in range(50) for layer in range(4)}
    assert len(keys) == 3 * 3 * 50 * 4


def test_uniform_matches_numpy_generator_statistics():
    numpy = make_backend("numpy")
    ours = nnback.to_numpy(rng.uniform(numpy.xp, (200_000,), rng.stream_key(9), numpy.xp.float64, "cpu"))
    reference = np.random.default_rng(9).random(200_000)
    # Mean and variance of U[0, 1) within 5 standard errors, like NumPy's own generator.
    for sample in (ours, reference):
        assert abs(sample.mean() - 0.5) < 5 * math.sqrt(1 / 12 / sample.size)
        assert abs(sample.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / sample.size)
    # Two-sample Kolmogorov-Smirnov distance against NumPy's generator: ~1.4/sqrt(n/2) at 5e-4.
    grid = np.linspace(0, 1, 1001)
    distance = np.max(np.abs(np.searchsorted(np.sort(ours), grid) - np.searchsorted(np.sort(reference), grid)))
    assert distance / ours.size < 1.95 * math.sqrt(2 / ours.size)
    # Neighbours are uncorrelated.
    assert abs(np.corrcoef(ours[:-1], ours[1:])[0, 1]) < 0.01


def dropout_masks(backend, key, rate=0.3, shape=(256, 512)):
    like = backend.xp.zeros(shape, dtype=backend.dtype, device=backend.device)
    return nnback.to_numpy(rng.keep_mask(like, rate, key))


def test_dropout_masks_are_identical_on_every_backend(backend_name):
    key = rng.stream_key(5, 0, 17, 1)
    np.testing.assert_array_equal(dropout_masks(make_backend(backend_name, "float32"), key),
                                  dropout_masks(make_backend("numpy", "float32"), key))


def test_dropout_mask_statistics():
    numpy = make_backend("numpy", "float32")
    masks = [dropout_masks(numpy, rng.stream_key(1, 0, step, layer)) for step in range(3) for layer in range(2)]
    for mask in masks:
        kept = mask > 0
        assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.7)}
        assert abs(kept.mean() - 0.7) < 5 * math.sqrt(0.21 / kept.size)  # binomial, 5 sigma
        assert abs(mask.mean() - 1.0) < 0.01  # inverted scaling keeps the expectation
    # Different steps and layers are independent: agreement ~ 0.7² + 0.3² = 0.58 by chance.
    for a in range(len(masks)):
        for b in range(a + 1, len(masks)):
            assert abs(np.mean((masks[a] > 0) == (masks[b] > 0)) - 0.58) < 0.01


def test_dropout_only_in_training_steps_and_gradients_still_check(backend):
    host = np.random.default_rng(0)
    model = MLP.create([6, 8, 8, 3], backend, host, "tanh", "softmax", "xavier", dropout=[0.2, 0.5, 0.5])
    x = backend.asarray(host.standard_normal((5, 6)))
    labels = backend.asarray(host.integers(0, 3, 5), backend.xp.int64)
    plain = nnback.to_numpy(model.forward(x))
    assert not np.allclose(plain, nnback.to_numpy(model.forward(x, noise_key=11)))
    np.testing.assert_array_equal(plain, nnback.to_numpy(model.forward(x)))
    # With a fixed key, the network is a fixed function: backprop must match finite differences.
    loss = nnback.get_loss("cross-entropy")
    model.backward(loss.value_and_grad(model.forward(x, train=True, noise_key=11), labels, model.output)[1])
    w = nnback.to_numpy(model.layers[1].w).copy()
    analytic = nnback.to_numpy(model.layers[1].dw)
    h, numeric = 1e-6, np.zeros_like(w)
    for index in np.ndindex(w.shape):
        values = []
        for sign in (1, -1):
            shifted = w.copy()
            shifted[index] += sign * h
            model.layers[1].w = backend.asarray(shifted)
            values.append(float(loss.value_and_grad(model.forward(x, noise_key=11), labels, model.output)[0]))
        numeric[index] = (values[0] - values[1]) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["translate", "elastic"])
def test_augmentation_is_identical_on_every_backend(backend_name, mnist_small, name):
    transform = augment.get_augmentation(name)
    results = []
    for backend in (make_backend(backend_name, "float32"), make_backend("numpy", "float32")):
        results.append(nnback.to_numpy(transform(backend.asarray(mnist_small.train.images[:32]), 1234)))
    if name == "elastic" and backend_name in ("torch", "cupy"):
        # The same random field, smoothed by another library's float32 matrix products.
        np.testing.assert_allclose(results[0], results[1], atol=1e-5)
    else:
        np.testing.assert_array_equal(results[0], results[1])


def test_translation_moves_whole_images(mnist_small):
    numpy = make_backend("numpy", "float32")
    images = mnist_small.train.images[:64]
    moved = nnback.to_numpy(augment.translate(numpy.asarray(images), 99))
    shifts = nnback.to_numpy(rng.random_bits(numpy.xp, (2, 64), 99, "cpu")) % 5 - 2
    for image, result, dy, dx in zip(images, moved, shifts[0].astype(int), shifts[1].astype(int)):
        expected = np.zeros((28, 28), np.float32)
        source = image.reshape(28, 28)
        expected[max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
            source[max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)]
        np.testing.assert_array_equal(result.reshape(28, 28), expected)
    assert len({(int(a), int(b)) for a, b in zip(*shifts)}) > 15  # many different shifts drawn


def test_elastic_distortion_is_smooth_and_bounded(mnist_small):
    numpy = make_backend("numpy", "float32")
    images = numpy.asarray(mnist_small.train.images[:16])
    np.testing.assert_array_equal(nnback.to_numpy(augment.elastic(images, 3, alpha=0.0)), nnback.to_numpy(images))
    distorted = nnback.to_numpy(augment.elastic(images, 3))
    assert distorted.min() >= 0.0 and distorted.max() <= 1.0 + 1e-6
    change = np.abs(distorted - nnback.to_numpy(images)).mean()
    assert 0.01 < change < 0.3  # visibly distorted, still the same digit's ink


def test_augment_refuses_non_image_inputs():
    with pytest.raises(ValueError, match="this data is tabular"):
        augment.check_images(None, "elastic")
