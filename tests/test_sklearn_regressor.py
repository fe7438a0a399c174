"""The scikit-learn regressor: scikit-learn's estimator checks, step-for-step agreement with its own
MLPRegressor, target shapes, R², and the device path on every backend."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from array_api_compat import array_namespace  # noqa: E402
from array_api_compat import device as device_of  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnback  # noqa: E402
from conftest import start_sklearn_like  # noqa: E402
from nnback.sklearn import MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# check_regressors_train asks for R² > 0.5 on a standardised Boston-like problem: 200 epochs of
# Adam at 0.01 reach ~0.8 in about half a second.
# The defaults pass in float64; in float32 they fail check_methods_subset_invariance alone, by
# rounding: NumPy's BLAS sums a 100-unit layer in another order for one row (gemv) than for many
# (gemm), which moves some float32 predictions by 2-3 ulps, beyond the check's rtol of 1e-7.
CHECKED = [
    MLPRegressor(dtype="float64", random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), batch_size=16, learning_rate_init=0.01, max_iter=200, random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), batch_size="full", learning_rate_init=0.02, max_iter=300, dtype="float64",
                 random_state=0),
    MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.01, batch_size=16, max_iter=100,
                 early_stopping=True, validation_fraction=0.2, activation="tanh", random_state=0),
]


def expected_failures(estimator) -> dict:
    """Mini-batches of repeated rows differ from those of weighted rows (full batch passes, and
    "auto", min(200, n), is a full batch on the check's small data)."""
    if estimator.batch_size in ("full", "auto") and not estimator.early_stopping:
        return {}
    return {"check_sample_weight_equivalence_on_dense_data": "mini-batches of repeated rows differ"}


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("solver", [dict(solver="adam"), dict(solver="sgd", momentum=0.9),
                                    dict(solver="sgd", momentum=0.0, learning_rate="invscaling")])
@pytest.mark.parametrize("alpha, weighted", [(0.0, False), (0.3, True)])
def test_matches_scikit_learn_mlp_regressor_step_for_step(rng, monkeypatch, solver, alpha, weighted):
    """scikit-learn's MLPRegressor with the same parameters and initial weights, full batch,
    float64, two targets: the same weights to rounding after 20 steps, and the same loss curve."""
    from sklearn.neural_network import MLPRegressor as SklearnMLP

    X, y = rng.standard_normal((50, 6)), rng.standard_normal((50, 2))
    weights = rng.uniform(0.0, 3.0, 50) if weighted else None
    same = dict(hidden_layer_sizes=(5, 4), activation="tanh", alpha=alpha, batch_size=50, max_iter=20, shuffle=False,
                tol=0.0, n_iter_no_change=20, learning_rate_init=0.01, random_state=0, **solver)
    untrained = MLPRegressor(init="xavier", dtype="float64", **same)
    untrained.n_outputs_ = 2
    start_sklearn_like(monkeypatch, SklearnMLP, untrained, 6)
    reference = SklearnMLP(**same).fit(X, y, sample_weight=weights)
    model = MLPRegressor(init="xavier", dtype="float64", **same).fit(X, y, sample_weight=weights)
    for ours, theirs in zip(model.coefs_ + model.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    if alpha == 0.0:
        np.testing.assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(model.predict(X), reference.predict(X), rtol=1e-10, atol=1e-12)


def test_target_shapes_follow_scikit_learn(rng):
    X = rng.standard_normal((40, 3))
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    one = MLPRegressor(**params).fit(X, X[:, 0])
    column = MLPRegressor(**params).fit(X, X[:, :1])
    two = MLPRegressor(**params).fit(X, X[:, :2])
    assert one.predict(X).shape == column.predict(X).shape == (40,)  # scikit-learn ravels one target too
    assert two.predict(X).shape == (40, 2) and two.n_outputs_ == 2 and two.out_activation_ == "identity"
    np.testing.assert_allclose(one.predict(X), column.predict(X))
    with pytest.raises(ValueError, match="targets"):
        two.set_params(warm_start=True).fit(X, X[:, :3])


def test_learns_a_smooth_function_and_scores_r2(rng):
    X = rng.uniform(-2.0, 2.0, (400, 2))
    y = np.c_[np.sin(X[:, 0]) + X[:, 1] ** 2, X[:, 0] * X[:, 1]]
    model = MLPRegressor(hidden_layer_sizes=(32, 32), learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, y)
    assert model.score(X, y) == pytest.approx(r2_score(y, model.predict(X)))
    assert model.score(X, y) > 0.95


def test_validation_set_of_your_own(rng):
    X, y = rng.standard_normal((120, 3)), rng.standard_normal(120)
    X_val, y_val = rng.standard_normal((40, 3)), rng.standard_normal(40)
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=200, random_state=0)
    model = MLPRegressor(early_stopping=True, **params).fit(X, y, X_val=X_val, y_val=y_val)
    assert len(model.validation_scores_) == model.n_iter_ < 200  # y is noise: the validation R² stalls
    assert model.best_validation_score_ == max(model.validation_scores_)
    # The best epoch's weights are put back, so the model scores its best validation R².
    assert model.score(X_val, y_val) == pytest.approx(model.best_validation_score_, abs=1e-6)  # float32 sums


def test_device_arrays_stay_on_their_device_and_match_numpy(backend, rng):
    from test_sklearn import _estimator_device

    X, y = rng.standard_normal((50, 4)), rng.standard_normal((50, 2))
    params = dict(hidden_layer_sizes=(8,), batch_size=16, learning_rate_init=0.01, max_iter=5, dtype="float64",
                  early_stopping=True, random_state=0)
    reference = MLPRegressor(**params).fit(X, y)
    xd, yd = backend.asarray(X), backend.asarray(y)
    model = MLPRegressor(device=_estimator_device(backend), **params).fit(xd, yd)
    predicted = model.predict(xd)
    for out in (predicted, *model.coefs_):
        assert array_namespace(out) is backend.xp and device_of(out) == backend.device
    np.testing.assert_allclose(nnback.to_numpy(predicted), reference.predict(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.validation_scores_, reference.validation_scores_, rtol=1e-9)
    assert model.score(xd, yd) == pytest.approx(reference.score(X, y), rel=1e-9)
    one = MLPRegressor(device=_estimator_device(backend), **params).fit(xd, yd[:, 0])
    assert tuple(one.predict(xd).shape) == (50,)


def test_pickle_partial_fit_and_clone(rng):
    import pickle

    from sklearn.base import clone

    X, y = rng.standard_normal((30, 3)), rng.standard_normal((30, 2))
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    restored.partial_fit(X, y)  # the optimizer state came along too
    model.partial_fit(X, y)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    assert not hasattr(clone(model), "n_outputs_")
    fresh = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(2):
        fresh.partial_fit(X, y[:, 0])
    assert fresh.n_iter_ == 2 and fresh.predict(X).shape == (30,)


def test_targets_too_large_for_float32_say_so_at_fit():
    """Targets around 1e20 in float32 ended in "training diverged: try a smaller learning rate"."""
    from nnback.sklearn import MLPRegressor

    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match="too large for float32 training"):
        MLPRegressor(max_iter=2).fit(X, X[:, 0] * 1e20)
