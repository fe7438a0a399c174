"""Sample and class weights, in the loss and in the estimators: finite-difference gradients of the
weighted losses on every backend, weighted fits equal to fits on repeated rows, class_weight, and the
weights' device path."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from array_api_compat import array_namespace  # noqa: E402

import conftest  # noqa: E402
import nnback  # noqa: E402
from nnback.activations import get_activation  # noqa: E402
from nnback.losses import get_loss  # noqa: E402
from nnback.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

H = 1e-6  # central differences in float64: error ~H² + rounding/H ≈ 1e-10


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    return conftest.numeric_gradient(f, x, H)


@pytest.mark.parametrize(
    "loss_name, output, real_targets",
    [("quadratic", "sigmoid", False), ("quadratic", "identity", True), ("quadratic", "tanh", True),
     ("cross-entropy", "softmax", False), ("cross-entropy", "sigmoid", False)],
)
def test_weighted_loss_gradients_match_finite_differences(backend, rng, loss_name, output, real_targets):
    z, weights = rng.standard_normal((6, 3)), rng.uniform(0.0, 3.0, 6)
    targets = backend.asarray(rng.standard_normal((6, 3))) if real_targets else \
        backend.asarray(rng.integers(0, 3, 6), backend.xp.int64)
    loss, activation, w = get_loss(loss_name), get_activation(output), backend.asarray(weights)

    def f(z_host):
        return float(loss.value_and_grad(backend.asarray(z_host), targets, activation, w)[0])

    value, dz = loss.value_and_grad(backend.asarray(z), targets, activation, w)
    assert array_namespace(dz) is backend.xp
    np.testing.assert_allclose(nnback.to_numpy(dz), numeric_gradient(f, z.copy()), rtol=1e-6, atol=1e-9)
    # The weighted loss is Σ wᵢ·lossᵢ / n: one sample at a time, unweighted, rebuilds it.
    rows = [float(loss.value_and_grad(backend.asarray(z[i : i + 1, :]), targets[i : i + 1, ...], activation)[0])
            for i in range(6)]
    np.testing.assert_allclose(float(value), np.dot(weights, rows) / 6, rtol=1e-12)


def test_unit_weights_give_the_unweighted_loss(backend, rng):
    z, labels = backend.asarray(rng.standard_normal((5, 4))), backend.asarray(rng.integers(0, 4, 5), backend.xp.int64)
    loss, softmax = get_loss("cross-entropy"), get_activation("softmax")
    (value, dz), (value_ones, dz_ones) = (loss.value_and_grad(z, labels, softmax, *weights)
                                          for weights in ((), (backend.asarray(np.ones(5)),)))
    np.testing.assert_array_equal(nnback.to_numpy(dz), nnback.to_numpy(dz_ones))  # the same products
    np.testing.assert_allclose(float(value), float(value_ones), rtol=1e-15)  # summed in another order


def test_weights_of_the_wrong_shape_are_refused(backend):
    z, labels = backend.asarray(np.zeros((4, 2))), backend.asarray(np.zeros(4, dtype=np.int64), backend.xp.int64)
    with pytest.raises(ValueError, match="weights must have shape"):
        get_loss("cross-entropy").value_and_grad(z, labels, get_activation("softmax"), backend.asarray(np.ones(3)))


# -- weights in the estimators -------------------------------------------------------------------

FULL_BATCH = dict(hidden_layer_sizes=(6,), batch_size="full", max_iter=25, tol=0.0, n_iter_no_change=100,
                  dtype="float64", random_state=0)


@pytest.mark.parametrize("solver", [dict(solver="adam", learning_rate_init=0.01), dict(solver="sgd", alpha=0.3)])
@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_integer_weights_equal_repeated_rows(rng, estimator, solver):
    """Full batch: Σ wᵢ·lossᵢ / Σw and alpha / Σw are exactly the repeated data's mean and penalty."""
    X, weights = rng.standard_normal((30, 4)), rng.integers(0, 4, 30)
    y = rng.integers(0, 3, 30) if estimator is MLPClassifier else rng.standard_normal((30, 2))
    weighted = estimator(**FULL_BATCH, **solver).fit(X, y, sample_weight=weights)
    repeated = estimator(**FULL_BATCH, **solver).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0))
    for a, b in zip(weighted.coefs_ + weighted.intercepts_, repeated.coefs_ + repeated.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


def test_class_weight_is_sample_weight_per_class(rng):
    X, y = rng.standard_normal((40, 3)), rng.choice(["a", "b", "c"], 40, p=[0.6, 0.3, 0.1])
    params = dict(FULL_BATCH, max_iter=5, solver="sgd")  # SGD: Adam's m/√v magnifies rounding where g ≈ 0
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    counts = {label: np.sum(y == label) for label in "abc"}
    by_hand = MLPClassifier(**params).fit(X, y, sample_weight=[40 / (3 * counts[label]) for label in y])
    np.testing.assert_allclose(balanced.predict_proba(X), by_hand.predict_proba(X), rtol=1e-12)
    as_dict = MLPClassifier(class_weight={"c": 5.0}, **params).fit(X, y, sample_weight=np.full(40, 2.0))
    by_hand = MLPClassifier(**params).fit(X, y, sample_weight=np.where(y == "c", 10.0, 2.0))  # Σw sets alpha's share
    np.testing.assert_allclose(as_dict.predict_proba(X), by_hand.predict_proba(X), rtol=1e-12)


def test_class_weight_lifts_the_rare_class_in_mini_batches(rng):
    """90:10 classes that overlap: unweighted, the rare class is mostly missed; balanced weights
    trade overall accuracy for finding it (the weights act in every mini-batch's gradient)."""
    X = rng.standard_normal((1000, 2))
    y = (X[:, 0] + 0.8 * rng.standard_normal(1000) > 1.6).astype(int)
    params = dict(hidden_layer_sizes=(8,), batch_size=32, max_iter=30, learning_rate_init=0.01, random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    recall = lambda model: np.mean(model.predict(X)[y == 1] == 1)  # noqa: E731
    assert recall(balanced) > recall(plain) + 0.3
    assert np.mean(balanced.predict(X) == 1) > 2 * np.mean(plain.predict(X) == 1)


def test_zero_weights_drop_samples(rng):
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 2, 30)
    keep = np.arange(30) % 3 != 0
    dropped = MLPClassifier(**FULL_BATCH).fit(X, y, sample_weight=keep.astype(float))
    subset = MLPClassifier(**FULL_BATCH).fit(X[keep], y[keep])
    np.testing.assert_allclose(dropped.predict_proba(X), subset.predict_proba(X), rtol=1e-9)


def test_bad_sample_weights_are_refused(rng):
    X, y = rng.standard_normal((10, 2)), rng.integers(0, 2, 10)
    for weights, message in ((np.ones(9), "shape"), (-np.ones(10), "[Nn]egative"), (np.zeros(10), "non-zero")):
        with pytest.raises(ValueError, match=message):
            MLPClassifier(max_iter=1).fit(X, y, sample_weight=weights)


def test_weights_stay_on_the_device_and_match_numpy(backend, rng):
    from test_sklearn import _data_dependent_shapes, _estimator_device

    X, y, weights = rng.standard_normal((40, 5)), rng.integers(0, 3, 40), rng.uniform(0.0, 2.0, 40)
    params = dict(hidden_layer_sizes=(6,), batch_size=8, max_iter=4, dtype="float64", class_weight="balanced",
                  random_state=0)
    reference = MLPClassifier(**params).fit(X, y, sample_weight=weights)
    with _data_dependent_shapes(backend):
        model = MLPClassifier(device=_estimator_device(backend), **params)
        model.fit(backend.asarray(X), backend.asarray(y, backend.xp.int64), sample_weight=backend.asarray(weights))
        proba = model.predict_proba(backend.asarray(X))
    assert array_namespace(proba) is backend.xp
    np.testing.assert_allclose(nnback.to_numpy(proba), reference.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_batches_carry_weights_in_order_without_shuffling():
    from nnback.training import Batches

    x, y, w = np.arange(10.0).reshape(5, 2), np.arange(5), np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    batches = list(Batches(x, y, 2, w=w, shuffle=False).epoch())
    assert [tuple(b[2]) for b in batches] == [(1.0, 2.0), (3.0, 4.0), (5.0,)]
    assert [tuple(b[1]) for b in batches] == [(0, 1), (2, 3), (4,)]
    assert len(next(Batches(x, y, None, w=w).epoch())) == 3 and len(next(Batches(x, y).epoch())) == 2
