"""The scikit-learn classifier: scikit-learn's own estimator checks, its tools (pipelines, cross-
validation, grid search) on real MNIST, step-for-step agreement with scikit-learn's own MLPClassifier,
its parameter names, label handling, pickling, and the device path on every backend."""

from __future__ import annotations

import contextlib
import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from array_api_compat import array_namespace  # noqa: E402
from array_api_compat import device as device_of  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import nnback  # noqa: E402
from conftest import start_sklearn_like  # noqa: E402
import nnback.sklearn  # noqa: E402
from nnback.backend import BackendUnavailable  # noqa: E402
from nnback.sklearn import MLPClassifier  # noqa: E402

# max_iter is reached on purpose throughout, as in scikit-learn's own examples.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Small networks and few epochs keep the ~110 checks per configuration at about a second; they still
# clear check_classifiers_train's accuracy bar (0.83 on three blobs).
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(16,), batch_size=16, learning_rate_init=0.01, max_iter=30, random_state=0),
    MLPClassifier(hidden_layer_sizes=(16,), batch_size="full", solver="sgd", nesterovs_momentum=False,
                  learning_rate_init=0.05, max_iter=100, dtype="float64", random_state=0),
    MLPClassifier(hidden_layer_sizes=(16,), batch_size=16, learning_rate_init=0.01, max_iter=30, early_stopping=True,
                  validation_fraction=0.2, class_weight="balanced", random_state=0),
    MLPClassifier(hidden_layer_sizes=(16,), activation="logistic", solver="sgd", learning_rate="adaptive",
                  learning_rate_init=0.2, batch_size=32, max_iter=50, random_state=0),
]


def expected_failures(estimator) -> dict:
    """Checks a stochastic estimator cannot pass. With mini-batches (or a validation split) the
    repeated rows fall into other batches than their weighted originals, so the runs differ, as
    they do for scikit-learn's own MLPs; full-batch training passes (float64: to 1e-7). Early
    stopping keeps the weights of the best (unweighted, as in scikit-learn) validation accuracy,
    which under class weights of 1000 : 0.0001 belong to an epoch before the weights took hold."""
    failures = {}
    if estimator.batch_size != "full" or estimator.early_stopping:
        failures["check_sample_weight_equivalence_on_dense_data"] = "mini-batches of repeated rows differ"
    if estimator.early_stopping and hasattr(estimator, "class_weight"):
        failures["check_class_weight_classifiers"] = "early stopping picks an epoch by unweighted accuracy"
    return failures


# Every other check scikit-learn 1.9 yields passes (the pandas and SCIPY_ARRAY_API checks skip
# themselves where those are absent).
@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_importing_nnback_does_not_import_sklearn():
    code = "import nnback, sys; assert 'sklearn' not in sys.modules, 'nnback imported sklearn'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def digits(mnist_small):
    """2,000 real MNIST training images as float32 and their labels."""
    return mnist_small.train.images, mnist_small.train.labels


def test_pipeline_in_cross_val_score_on_mnist(digits):
    X, y = digits
    estimator = MLPClassifier(hidden_layer_sizes=(64,), batch_size=64, max_iter=10, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), estimator), X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.8  # chance is 0.1; 10 epochs on 1,333 images reach 0.84-0.89


def test_grid_search_over_two_hyperparameters(digits):
    X, y = digits[0][:1000], digits[1][:1000]
    grid = {"hidden_layer_sizes": [(16,), (64,)], "learning_rate_init": [1e-4, 3e-3]}
    search = GridSearchCV(MLPClassifier(max_iter=4, random_state=0), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["learning_rate_init"] == 3e-3  # 4 epochs at 1e-4 barely move the weights
    assert search.best_estimator_.n_features_in_ == 784
    assert search.score(X, y) > 0.8


def test_string_and_sparse_int_labels_are_decoded(rng):
    X = rng.standard_normal((60, 4))
    X[:30, 0] += 4.0
    for labels in (np.array(["spam", "ham"]), np.array([-7, 1000])):
        y = labels[(X[:, 0] < 2.0).astype(int)]
        model = MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.02, max_iter=50, random_state=0).fit(X, y)
        assert list(model.classes_) == sorted(labels)
        assert set(model.predict(X)) <= set(labels) and model.score(X, y) > 0.9
        proba = model.predict_proba(X)
        np.testing.assert_array_equal(model.classes_[np.argmax(proba, axis=1)], model.predict(X))


@pytest.mark.parametrize(
    "solver",
    [dict(solver="sgd", momentum=0.0),
     dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
     dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
     dict(solver="sgd", momentum=0.0, learning_rate="invscaling", power_t=0.25),
     dict(solver="adam"),
     dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-3)],
)
@pytest.mark.parametrize("alpha, weighted", [(0.0, False), (0.5, True)])
def test_matches_scikit_learn_mlp_step_for_step(rng, monkeypatch, solver, alpha, weighted):
    """An independent reference: scikit-learn's MLPClassifier with the same parameters, full batch,
    float64, same initial weights. Agreement to rounding (1e-10 after 20 steps) checks forward,
    backward, loss, update, L2 penalty, sample weights and Adam's ε placement together."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = rng.standard_normal((64, 10)), rng.integers(0, 3, 64)
    weights = rng.integers(0, 4, 64).astype(float) if weighted else None
    same = dict(hidden_layer_sizes=(7,), alpha=alpha, batch_size=64, max_iter=20, shuffle=False, tol=0.0,
                n_iter_no_change=20, learning_rate_init=0.01, random_state=0, **solver)
    untrained = MLPClassifier(init="xavier", dtype="float64", **same)
    untrained.classes_ = np.unique(y)
    start_sklearn_like(monkeypatch, SklearnMLP, untrained, 10)
    reference = SklearnMLP(**same).fit(X, y, sample_weight=weights)
    model = MLPClassifier(init="xavier", dtype="float64", **same).fit(X, y, sample_weight=weights)
    for ours, theirs in zip(model.coefs_ + model.intercepts_, reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    if alpha == 0.0:  # scikit-learn's loss_curve_ includes the L2 term, nnback's does not
        np.testing.assert_allclose(model.loss_curve_, reference.loss_curve_, rtol=1e-10)


def test_fitted_attributes_describe_the_network(rng):
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    model = MLPClassifier(hidden_layer_sizes=(7, 6), max_iter=3, batch_size=8, random_state=0).fit(X, y)
    assert [w.shape for w in model.coefs_] == [(5, 7), (7, 6), (6, 3)]
    assert [b.shape for b in model.intercepts_] == [(7,), (6,), (3,)]
    assert model.n_iter_ == len(model.loss_curve_) == 3 and model.t_ == 120 and model.loss_ == model.loss_curve_[-1]
    assert (model.n_layers_, model.n_outputs_, model.out_activation_) == (4, 3, "softmax")
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    assert model.coefs_[0].dtype == np.float32


def test_random_state_follows_scikit_learn_conventions(rng):
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 2, 40)
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=8)
    same = [MLPClassifier(random_state=3, **params).fit(X, y).predict_proba(X) for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    state = np.random.RandomState(3)
    first, second = (MLPClassifier(random_state=state, **params).fit(X, y).predict_proba(X) for _ in range(2))
    assert not np.array_equal(first, second)  # a shared RandomState advances between fits


def test_partial_fit_needs_classes_first_and_continues(rng):
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    model = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)
    model.partial_fit(X[:, :], np.where(y == 2, 1, y), classes=[0, 1, 2])  # class 2 absent at first
    model.partial_fit(X, y)
    assert model.n_iter_ == 2 and list(model.classes_) == [0, 1, 2]
    with pytest.raises(ValueError, match="not in classes"):
        model.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="differs"):
        model.partial_fit(X, y, classes=[0, 1])


def test_partial_fit_epochs_equal_fit_epochs(rng):
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    params = dict(hidden_layer_sizes=(8,), batch_size=8, max_iter=3, tol=0.0, n_iter_no_change=5, random_state=0)
    fitted = MLPClassifier(**params).fit(X, y)
    stepped = MLPClassifier(**params)
    for _ in range(3):
        stepped.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(fitted.predict_proba(X), stepped.predict_proba(X))


def test_stopping_rules(rng):
    X, y = rng.standard_normal((80, 4)), rng.integers(0, 2, 80)
    stalled = MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, tol=10.0, n_iter_no_change=3, random_state=0)
    # The first epoch improves on an infinite best loss; then none improves by 10: 1 + (3 + 1) epochs.
    assert stalled.fit(X, y).n_iter_ == 5
    early = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, early_stopping=True, random_state=0).fit(X, y)
    assert early.best_validation_score_ == max(early.validation_scores_)
    assert len(early.validation_scores_) == early.n_iter_


def test_pickle_holds_host_arrays_and_predicts_the_same(rng):
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert all(isinstance(w, np.ndarray) for w in restored.coefs_)
    restored.partial_fit(X, y)  # the optimizer state came along too
    assert restored.n_iter_ == 3
    assert not hasattr(clone(model), "classes_")


@pytest.mark.parametrize(
    "params, message",
    [({"output": "relu"}, "softmax, sigmoid"), ({"batch_size": 0}, "batch_size"), ({"device": "tpu"}, "device"),
     ({"solver": "lbfgs"}, "solver='lbfgs' is not available"), ({"solver": "newton"}, "solver"),
     ({"hidden_layer_sizes": (10, -1)}, "hidden_layer_sizes"), ({"learning_rate": "cyclic"}, "learning_rate"),
     ({"alpha": -1.0}, "alpha"), ({"beta_2": 1.0}, "beta_2"), ({"epsilon": 0.0}, "epsilon"),
     ({"momentum": 1.5}, "momentum"), ({"class_weight": "even"}, "class_weight"),
     ({"class_weight": {7: 2.0}}, "not classes"), ({"learning_rate_init": 0.0}, "learning_rate_init"),
     ({"loss": "cross-entropy", "output": "sigmoid", "activation": "swish"}, "activation")],
)
def test_bad_hyperparameters_raise_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(np.zeros((4, 2)), [0, 1, 0, 1])


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed here")
def test_cuda_without_cupy_says_what_to_install():
    with pytest.raises(BackendUnavailable, match="cuda device needs CuPy.*nnback\\[cuda\\]"):
        MLPClassifier(device="cuda").fit(np.eye(2), [0, 1])


def test_sparse_input_is_refused_with_a_clear_error():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="[Ss]parse"):
        MLPClassifier().fit(sparse.csr_matrix(np.eye(4)), [0, 1, 0, 1])


# -- the device path: arrays stay in their namespace, on their device -----------------------------


def _estimator_device(backend):
    """The ``device`` argument that trains where ``backend`` lives."""
    return {"numpy": "cpu", "cupy": "cuda"}.get(backend.name, backend.xp)


def _data_dependent_shapes(backend):
    """Label encoding needs ``unique_values``, whose shape depends on the data; the strict fixture
    forbids such functions (they sync a GPU), so allow it here: one sync per fit is the price."""
    if backend.name == "array_api_strict":
        return backend.xp.ArrayAPIStrictFlags(data_dependent_shapes=True)
    return contextlib.nullcontext()


def test_device_arrays_stay_on_their_device_and_match_numpy(backend, rng):
    X = rng.standard_normal((50, 6))
    y = np.where(X[:, 0] > 0, 7, 3) + np.where(X[:, 1] > 0.5, 2, 0)  # labels 3, 5, 7, 9
    params = dict(hidden_layer_sizes=(8,), batch_size=16, learning_rate_init=0.01, max_iter=5, dtype="float64",
                  early_stopping=True, random_state=0)
    reference = MLPClassifier(**params).fit(X, y)
    xd, yd = backend.asarray(X), backend.asarray(y, backend.xp.int64)
    with _data_dependent_shapes(backend):
        model = MLPClassifier(device=_estimator_device(backend), **params).fit(xd, yd)
        model.partial_fit(xd, yd)
        reference.partial_fit(X, y)
        predicted, proba = model.predict(xd), model.predict_proba(xd)
        for out in (predicted, proba, model.classes_, *model.coefs_):
            assert array_namespace(out) is backend.xp and device_of(out) == backend.device
        assert model.score(xd, yd) == reference.score(X, y)
        host_predicted = model.predict(X)  # host input to a device model: answered on the host
        assert isinstance(host_predicted, np.ndarray)
    # float64 on both sides: a CPU reference and a GPU run agree to rounding (ARRAY_API.md §6).
    np.testing.assert_allclose(nnback.to_numpy(proba), reference.predict_proba(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(nnback.to_numpy(predicted), reference.predict(X))
    np.testing.assert_array_equal(host_predicted, reference.predict(X))


@pytest.mark.parametrize("backend_name", [pytest.param("cupy", marks=pytest.mark.cuda)])
def test_cuda_training_on_numpy_input_answers_in_numpy_and_pickles(backend32, rng):
    X, y = rng.standard_normal((50, 6)), rng.integers(0, 3, 50)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, device="cuda", random_state=0).fit(X, y)
    proba = model.predict_proba(X)
    assert isinstance(proba, np.ndarray) and isinstance(model.predict(X), np.ndarray)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), proba)
    assert array_namespace(restored.coefs_[0]) is backend32.xp  # moved back to the GPU on first use
    with pytest.raises(ValueError, match="device='cuda'"):
        MLPClassifier(device="cpu").fit(backend32.asarray(X), backend32.asarray(y, backend32.xp.int64))
