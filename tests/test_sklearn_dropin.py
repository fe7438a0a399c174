"""Code written for scikit-learn's MLPClassifier runs on nnback's with only the import changed: the
calls of scikit-learn's own neural-network examples, its parameter names and their meaning
(checked against scikit-learn's estimators run beside ours), and nnback's former names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import datasets  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLP  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

from conftest import start_sklearn_like  # noqa: E402
from nnback.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The seven learning strategies of scikit-learn's example "Compare Stochastic learning strategies
# for MLPClassifier" (examples/neural_networks/plot_mlp_training_curves.py), as published.
STRATEGIES = {
    "constant learning-rate": dict(solver="sgd", learning_rate="constant", momentum=0, learning_rate_init=0.2),
    "constant with momentum": dict(solver="sgd", learning_rate="constant", momentum=0.9, nesterovs_momentum=False,
                                   learning_rate_init=0.2),
    "constant with Nesterov's momentum": dict(solver="sgd", learning_rate="constant", momentum=0.9,
                                              nesterovs_momentum=True, learning_rate_init=0.2),
    "inv-scaling learning-rate": dict(solver="sgd", learning_rate="invscaling", momentum=0, learning_rate_init=0.2),
    "inv-scaling with momentum": dict(solver="sgd", learning_rate="invscaling", momentum=0.9,
                                      nesterovs_momentum=True, learning_rate_init=0.2),
    "inv-scaling with Nesterov's momentum": dict(solver="sgd", learning_rate="invscaling", momentum=0.9,
                                                 nesterovs_momentum=False, learning_rate_init=0.2),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


def example_datasets():
    """The example's four data sets: iris, digits, circles and moons, scaled to [0, 1]."""
    iris, digits = datasets.load_iris(), datasets.load_digits()
    return {"iris": (iris.data, iris.target), "digits": (digits.data, digits.target),
            "circles": datasets.make_circles(noise=0.2, factor=0.5, random_state=1),
            "moons": datasets.make_moons(noise=0.3, random_state=0)}


@pytest.mark.parametrize("name", ["iris", "digits", "circles", "moons"])
def test_compare_stochastic_learning_strategies_example(name):
    """The example's loop (MLPClassifier(verbose=0, random_state=0, max_iter=..., **param), fit,
    score, loss_, loss_curve_) with nnback's MLPClassifier, beside scikit-learn's: each strategy
    reaches about scikit-learn's training score."""
    X, y = example_datasets()[name]
    X = MinMaxScaler().fit_transform(X)
    max_iter = 15 if name == "digits" else 400
    for label, param in STRATEGIES.items():
        ours, theirs = (estimator(verbose=0, random_state=0, max_iter=max_iter, **param).fit(X, y)
                        for estimator in (MLPClassifier, SklearnMLP))
        assert ours.loss_ == ours.loss_curve_[-1] and len(ours.loss_curve_) == ours.n_iter_ <= max_iter
        # The same kind of initial weights, other draws and batch orders: scores agree to a few points.
        assert ours.score(X, y) >= theirs.score(X, y) - 0.06, label


def test_mnist_weights_example(mnist_small, capsys):
    """scikit-learn's "Visualization of MLP weights on MNIST" with its estimator and calls, on
    nnback's bundled MNIST (the example downloads it from OpenML, which a test cannot)."""
    X_train, y_train = mnist_small.train.images, mnist_small.train.labels
    X_test, y_test = mnist_small.test.images, mnist_small.test.labels
    mlp = MLPClassifier(hidden_layer_sizes=(40,), max_iter=8, alpha=1e-4, solver="sgd", verbose=10, random_state=1,
                        learning_rate_init=0.2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
        mlp.fit(X_train, y_train)
    assert mlp.score(X_train, y_train) > 0.9 and mlp.score(X_test, y_test) > 0.85
    assert capsys.readouterr().out.splitlines()[0].startswith("Iteration 1, loss = ")
    vmin, vmax = mlp.coefs_[0].min(), mlp.coefs_[0].max()
    images = [coef.reshape(28, 28) for coef in mlp.coefs_[0].T]
    assert len(images) == 40 and vmin < 0 < vmax


def test_varying_alpha_example_needs_another_solver():
    """scikit-learn's "Varying regularization in Multi-layer Perceptron" uses solver="lbfgs", which
    nnback refuses clearly; with Adam the example's point holds: larger alpha, smaller weights."""
    X, y = datasets.make_moons(noise=0.3, random_state=0)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs", alpha=0.1, random_state=1, max_iter=2000, early_stopping=True,
                      hidden_layer_sizes=[10, 10]).fit(X, y)
    norms = [sum(float(np.sum(w * w)) for w in MLPClassifier(alpha=alpha, random_state=1, max_iter=300,
                                                              hidden_layer_sizes=[10, 10]).fit(X, y).coefs_)
             for alpha in (1e-5, 1.0, 10.0)]
    assert norms[0] > norms[1] > norms[2]


@pytest.mark.parametrize("solver", [dict(solver="sgd", momentum=0.9), dict(solver="adam", alpha=0.01)])
def test_unshuffled_mini_batches_match_scikit_learn(rng, monkeypatch, solver):
    """shuffle=False: the same batches in the same order as scikit-learn's, so the same weights."""
    X, y = rng.standard_normal((64, 5)), rng.integers(0, 3, 64)
    same = dict(hidden_layer_sizes=(6,), batch_size=16, max_iter=5, shuffle=False, tol=0.0, n_iter_no_change=10,
                learning_rate_init=0.01, random_state=0, **solver)
    untrained = MLPClassifier(init="xavier", dtype="float64", **same)
    untrained.classes_ = np.unique(y)
    start_sklearn_like(monkeypatch, SklearnMLP, untrained, 5)
    reference = SklearnMLP(**same).fit(X, y)
    model = MLPClassifier(init="xavier", dtype="float64", **same).fit(X, y)
    for ours, theirs in zip(model.coefs_, reference.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_adaptive_learning_rate_stops_where_scikit_learn_does(rng):
    """learning_rate="adaptive": ÷5 after every n_iter_no_change + 1 stalled epochs, stop below 1e-6."""
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    same = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=10.0, n_iter_no_change=1,
                max_iter=100, random_state=0)
    ours, theirs = MLPClassifier(**same).fit(X, y), SklearnMLP(**same).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 1 + 2 * 8 + 2  # 0.1 / 5**8 < 1e-6 < 0.1 / 5**7
    assert ours._trainer.optimizer.lr == pytest.approx(0.1 / 5**8)


def test_warm_start_continues_and_checks_classes(rng):
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, tol=0.0, n_iter_no_change=10, warm_start=True,
                          random_state=0).fit(X, y)
    first = [w.copy() for w in model.coefs_]
    model.fit(X, y)
    assert len(model.loss_curve_) == 6 and model.n_iter_ == 3  # n_iter_ counts this fit, as in scikit-learn
    assert model.loss_curve_[5] < model.loss_curve_[0]
    cold = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])  # the warm model started where a cold one ends
    with pytest.raises(ValueError, match="same classes"):
        model.fit(X, np.where(y == 2, 1, y))


def test_validation_set_of_your_own_drives_early_stopping(rng):
    X, y = rng.standard_normal((200, 4)), rng.integers(0, 2, 200)
    X_val, y_val = rng.standard_normal((60, 4)), rng.integers(0, 2, 60)
    curve = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    assert len(curve.validation_scores_) == curve.n_iter_ and curve.best_loss_ < np.inf  # a curve, loss-stopped
    early = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, early_stopping=True, n_iter_no_change=5,
                          random_state=0).fit(X, y, X_val=X_val, y_val=y_val)
    assert early.n_iter_ < 200 and early.best_validation_score_ == max(early.validation_scores_)
    assert early.score(X_val, y_val) == pytest.approx(early.best_validation_score_, abs=1e-6)  # best weights back
    weighted = early.score(X_val, y_val, sample_weight=np.arange(60.0))
    assert weighted != early.score(X_val, y_val)
    with pytest.raises(ValueError, match="y_val"):
        MLPClassifier(max_iter=1).fit(X, y, X_val=X_val)


def test_former_nnback_names_still_work_with_a_future_warning(rng):
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    common = dict(hidden_layer_sizes=(8,), batch_size=8, random_state=0)
    with pytest.warns(FutureWarning) as record:
        old = MLPClassifier(optimizer="momentum", learning_rate=0.05, max_epochs=4, weight_decay=0.0, **common)
        old.fit(X, y)
    renamed = sorted(str(w.message).split()[0] for w in record if issubclass(w.category, FutureWarning))
    assert renamed == ["learning_rate=<float>", "max_epochs", "optimizer", "weight_decay"]  # one per former name
    new = MLPClassifier(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.05, max_iter=4,
                        alpha=0.0, **common).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    with pytest.raises(ValueError, match="optimizer"):
        with pytest.warns(FutureWarning):
            MLPClassifier(optimizer="rmsprop").fit(X, y)



# A former name beside a new name it sets, the new one away from its default (else it looks unset).
BOTH_NAMES = [
    ("learning_rate", "learning_rate_init", dict(learning_rate=0.5, learning_rate_init=0.01)),
    ("optimizer", "solver", dict(optimizer="adam", solver="sgd")),
    ("optimizer", "momentum", dict(optimizer="sgd", momentum=0.5)),  # optimizer "sgd" means momentum 0
    ("optimizer", "nesterovs_momentum", dict(optimizer="nesterov", nesterovs_momentum=False)),
    ("max_epochs", "max_iter", dict(max_epochs=7, max_iter=2)),
    ("weight_decay", "alpha", dict(weight_decay=0.1, alpha=0.01)),
]


@pytest.mark.parametrize("old, new, both", BOTH_NAMES)
def test_a_former_name_beside_its_new_name_is_refused_at_fit(rng, old, new, both):
    """The former name used to win silently (learning_rate=0.5 trained at 0.5 whatever
    learning_rate_init said); now fit names both and the one to keep, while __init__, get_params
    and clone still only store them, as scikit-learn requires."""
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    small = dict(hidden_layer_sizes=(4,), max_iter=1) | both
    model = clone(MLPClassifier(**small))
    assert {name: model.get_params()[name] for name in both} == both
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=rf"^{old}=.* and {new}=.*keep .*{new}") as error:
        model.fit(X, y)
    assert "\n" not in str(error.value)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=rf"{old}=.* and {new}="):
        MLPRegressor(**small).fit(X, y.astype(float))


def test_a_former_name_may_sit_beside_new_names_it_does_not_set(rng):
    """optimizer="momentum" keeps ``momentum``, and Adam ignores Nesterov: no conflict there."""
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    with pytest.warns(FutureWarning):
        model = MLPClassifier(optimizer="momentum", momentum=0.5, hidden_layer_sizes=(4,), max_iter=1).fit(X, y)
    assert model._trainer.optimizer.momentum == 0.5
    with pytest.warns(FutureWarning):
        MLPClassifier(optimizer="adam", nesterovs_momentum=False, hidden_layer_sizes=(4,), max_iter=1).fit(X, y)


def test_dropout_acts_in_training_only(rng):
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 2, 60)
    params = dict(hidden_layer_sizes=(16,), max_iter=5, batch_size=10, random_state=0)
    plain, dropped = MLPClassifier(**params).fit(X, y), MLPClassifier(dropout=0.5, **params).fit(X, y)
    assert not np.array_equal(plain.coefs_[0], dropped.coefs_[0])
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))  # no masks at predict
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.5, max_iter=1).fit(X, y)
