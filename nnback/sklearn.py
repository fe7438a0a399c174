"""A scikit-learn classifier trained by nnback's own core, on NumPy or (with ``device="cuda"``) CuPy.

``from nnback.sklearn import MLPClassifier`` needs scikit-learn (``pip install "nnback[sklearn]"``);
``import nnback`` alone never imports it. The estimator only adapts scikit-learn's conventions
(validation, label encoding, random_state, fitted ``_`` attributes, pickling) to nnback's
:class:`~nnback.runner.Trainer`, the same front door the CLI and ``nnback.train`` use; it trains
nothing by itself.

Arrays keep to the input's namespace: NumPy in, NumPy out; CuPy in (``device="cuda"``), CuPy out,
with no trip through the host. NumPy input with ``device="cuda"`` trains on the GPU and answers in
NumPy.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
from array_api_compat import array_namespace, is_cupy_array, is_torch_array
from array_api_compat import device as device_of

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError('nnback.sklearn needs scikit-learn; install it with: pip install "nnback[sklearn]"') from None

from .backend import get_backend, host_dtype, seeded_generators, to_numpy
from .config import ConfigError, TrainConfig
from .runner import DataInfo, Trainer
from .training import Evaluation

OUTPUTS = ("softmax", "sigmoid")


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A fully connected network classifier with scikit-learn's estimator API.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units per hidden layer; ``()`` gives a linear (softmax regression) model.
    activation : {"relu", "tanh", "sigmoid", "identity"}, default "relu"
    output : {"softmax", "sigmoid"}, default "softmax"
        Output activation; sigmoid outputs are normalised to sum to 1 in ``predict_proba``.
    loss : {"cross-entropy", "quadratic"}, default "cross-entropy"
    init : {"he", "xavier", "normal", "uniform"}, default "he"
    optimizer : {"adam", "sgd", "momentum", "nesterov"}, default "adam"
    learning_rate : float, default 1e-3
    momentum : float, default 0.9 (for "momentum" and "nesterov")
    batch_size : int, "full" or None, default 200
        Mini-batch size, clipped to the number of samples; "full" or None is full-batch descent.
    max_epochs : int, default 200
        Passes over the data (steps, when full batch).
    weight_decay : float, default 0.0
        L2 decay added to the weight gradients (sklearn's ``alpha`` ≈ ``weight_decay * batch_size``).
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data and stop when its accuracy stalls; the best
        weights are kept. Without it, training stops when the training loss stalls.
    validation_fraction, n_iter_no_change, tol
        As in scikit-learn: stop after ``n_iter_no_change`` epochs that improve by less than ``tol``.
    random_state : int, RandomState instance or None
        Seeds the initial weights, batch order and validation split.
    device : {"cpu", "cuda"} or an Array API namespace, default "cpu"
        Where the network trains. A namespace (e.g. ``array_api_strict``) is for tests: it runs the
        device path without a GPU, but such an estimator cannot be cloned or pickled.
    dtype : {"float32", "float64"}, default "float32"
    verbose : bool, default False
        Print the training loss after every epoch.

    Attributes
    ----------
    classes_ : array of shape (n_classes,)
    n_features_in_ : int
    coefs_, intercepts_ : lists of arrays, shapes (n_in, n_out) and (n_out,) per layer
        The live parameters of the network, in the namespace it was trained in.
    loss_curve_ : list of float, the mean training loss of each epoch
    n_iter_ : int, epochs run
    best_loss_ : float, the lowest epoch training loss
    validation_scores_, best_validation_score_ : (with early stopping)
    """

    def __init__(
        self, hidden_layer_sizes=(100,), activation="relu", output="softmax", loss="cross-entropy", init="he",
        optimizer="adam", learning_rate=1e-3, momentum=0.9, batch_size=200, max_epochs=200, weight_decay=0.0,
        early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, random_state=None,
        device="cpu", dtype="float32", verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output = output
        self.loss = loss
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # -- training ------------------------------------------------------------------------------

    def fit(self, X, y):
        """Train a fresh network on X (n_samples, n_features) and labels y (n_samples,)."""
        backend = self._backend()
        self._check_params()
        X, y = self._check_training_data(X, y, backend, reset=True)
        backend = _where(X, backend)
        self.classes_ = _unique(y)
        codes = _encode(y, self.classes_)
        split_rng = self._start(backend, int(X.shape[1]))
        x, labels = _upload(X, backend), _upload(codes, backend, backend.xp.int64)
        if self.early_stopping:
            (x, labels), validation = _split(x, labels, self.validation_fraction, split_rng)
            self._train(x, labels, Evaluation({"val": validation}), stop_on_plateau=True)
        else:
            self._train(x, labels, None, stop_on_plateau=True)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing any earlier training; ``classes`` is required the
        first time (all labels that will ever appear), as in scikit-learn."""
        backend = self._backend()
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        self._check_params()
        X, y = self._check_training_data(X, y, backend, reset=first)
        if first:
            self.classes_ = _unique(_same_namespace(classes, y))
            self._start(_where(X, backend), int(X.shape[1]))
        elif classes is not None and not _same_labels(classes, self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}")
        backend = _where(self._placed_trainer(backend).model.layers[0].w, backend)
        labels = _upload(_encode(y, self.classes_), backend, backend.xp.int64)
        self._train(_upload(X, backend), labels, None, stop_on_plateau=False, epochs=1)
        return self

    def save(self, path, image_shape=None) -> None:
        """Save the fitted network as an nnback checkpoint that ``nnback evaluate`` and ``nnback
        predict`` read. Give ``image_shape`` (e.g. (28, 28)) if X held images scaled to [0, 1],
        so the CLI reads image files the same way; otherwise data is read as tabular features."""
        check_is_fitted(self)
        trainer = self._placed_trainer(self._backend())
        if image_shape is not None:
            trainer.info = dataclasses.replace(trainer.info, image_shape=tuple(int(s) for s in image_shape))
        trainer.save(path)

    def _config(self, seed: int) -> TrainConfig:
        """The estimator's hyperparameters as nnback's validated configuration (a ValueError naming
        the estimator's parameter when one cannot work)."""
        batch_size = None if self.batch_size is None or self.batch_size == "full" else self.batch_size
        try:
            return TrainConfig(
                hidden=_hidden_sizes(self.hidden_layer_sizes), activation=self.activation,
                output_activation=self.output, loss=self.loss, init=self.init, optimizer=self.optimizer,
                lr=self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay, dropout=0.0,
                augment="none", batch_size=batch_size, epochs=_positive_int("max_epochs", self.max_epochs),
                schedule="constant", seed=seed, dtype=self.dtype,
                device=self.device if self.device in ("cpu", "cuda") else "cpu")
        except ConfigError as error:
            name = PARAMETERS.get(error.field, error.field)
            raise ValueError(f"{name}: {str(error).removeprefix(error.field + ': ')}") from None

    def _start(self, backend, n_features: int):
        """A new network, optimizer and generators; forgets any earlier training. Returns the
        generator of the validation split."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        info = DataInfo(n_features, tuple(str(c) for c in to_numpy(self.classes_).tolist()))
        self._trainer = Trainer(self._config(seed), info, backend=backend)
        self.loss_curve_: list[float] = []
        self.n_iter_, self.best_loss_ = 0, np.inf
        if self.early_stopping:
            self.validation_scores_: list[float] = []
            self.best_validation_score_ = -np.inf
        return seeded_generators(seed)[2]

    def _train(self, x, labels, evaluation, stop_on_plateau: bool, epochs: int | None = None) -> None:
        """Train one epoch at a time through the run's own loop, stopping on a plateau as
        scikit-learn does."""
        trainer, stalled = self._trainer, 0
        for _ in range(self.max_epochs if epochs is None else epochs):
            stats = trainer.fit(x, labels, evaluation, epochs=trainer.position.epoch + 1)[-1]
            self.n_iter_ += 1
            self.loss_curve_.append(stats["train_loss"])
            if self.verbose:
                print(f"Epoch {self.n_iter_}, loss = {stats['train_loss']:.8f}")
            stalled = 0 if self._improved(stats) else stalled + 1
            if stop_on_plateau and stalled > self.n_iter_no_change:
                break
        best = self.__dict__.pop("_best_parameters", None)
        if evaluation is not None and best is not None:  # early stopping: keep the best weights
            trainer.model.load_parameters(best)

    def _improved(self, stats: dict) -> bool:
        """Record this epoch's scores; True if the one that decides (validation accuracy with early
        stopping, else training loss) beats its best by more than ``tol``."""
        loss_improved = stats["train_loss"] < self.best_loss_ - self.tol
        self.best_loss_ = min(self.best_loss_, stats["train_loss"])
        if "val_accuracy" in stats:
            score = stats["val_accuracy"]
            self.validation_scores_.append(score)
            improved = score > self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_parameters = self._trainer.model.copy_parameters()
            return improved
        return loss_improved

    # -- prediction ----------------------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``."""
        proba, on_host = self._proba(X)
        return to_numpy(proba) if on_host else proba

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`."""
        proba = self.predict_proba(X)
        return array_namespace(proba).log(proba)

    def predict(self, X):
        """Predicted labels (n_samples,), taken from ``classes_``."""
        proba, on_host = self._proba(X)
        codes = array_namespace(proba).argmax(proba, axis=1)
        return _decode(self.classes_, codes, on_host)

    def score(self, X, y):
        """Mean accuracy; device arrays are scored on their device (scikit-learn's metric would
        pull them to the host)."""
        if not (_on_device(X) or _on_device(y)):
            return super().score(X, y)
        predicted = self.predict(X)
        xp = array_namespace(predicted, y)
        return float(xp.mean(xp.astype(predicted == y, xp.float64)))

    def _proba(self, X):
        """(probabilities on the backend, whether X came from the host)."""
        check_is_fitted(self)
        backend = self._backend()
        X, on_host = self._check_X(X, backend, reset=False), not _on_device(X)
        model = self._placed_trainer(backend).model
        proba = model.predict_proba(_upload(X, _where(model.layers[0].w, backend)))
        if self.output == "sigmoid":  # one-vs-rest outputs, normalised so each row sums to 1
            proba = proba / array_namespace(proba).sum(proba, axis=1, keepdims=True)
        return proba, on_host

    # -- parameters, state and validation ------------------------------------------------------

    @property
    def coefs_(self) -> list:
        return [layer.w for layer in self._trainer.model.layers]

    @property
    def intercepts_(self) -> list:
        return [layer.b for layer in self._trainer.model.layers]

    def __getstate__(self) -> dict:
        """Pickle a host copy of the run only, so a GPU-trained estimator unpickles anywhere; the
        arrays go back to ``device`` on first use."""
        state = dict(super().__getstate__())
        trainer = state.pop("_trainer", None)
        if trainer is not None:
            host = get_backend("cpu", trainer.config.dtype)
            state["_snapshot"] = (trainer.config, trainer.info, trainer.snapshot().moved_to(host))
            state["classes_"] = to_numpy(state["classes_"])
        state.pop("_best_parameters", None)
        return state

    def _placed_trainer(self, backend) -> Trainer:
        """The fitted run on ``backend``, moved there first if it lives elsewhere (after
        unpickling, or after ``set_params(device=...)``)."""
        trainer = self.__dict__.get("_trainer")
        if trainer is not None and array_namespace(trainer.model.layers[0].w) is backend.xp:
            return trainer
        config, info, snapshot = self._snapshot if trainer is None else (trainer.config, trainer.info, trainer.snapshot())
        self._trainer = Trainer(config, info, backend=backend, checkpoint=snapshot.moved_to(backend))
        self.__dict__.pop("_snapshot", None)
        return self._trainer

    def _backend(self):
        return get_backend(self.device, self.dtype)

    def _check_params(self) -> None:
        """Refuse hyperparameters nnback's core would not catch itself (it names the rest)."""
        if self.output not in OUTPUTS:
            raise ValueError(f"output={self.output!r}: a classifier needs one of {', '.join(OUTPUTS)}")
        _hidden_sizes(self.hidden_layer_sizes)
        _batch_size(self.batch_size, 1)
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("n_iter_no_change", self.n_iter_no_change)
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")

    def _check_training_data(self, X, y, backend, reset: bool):
        """Validated (X, y): scikit-learn's checks on the host, nnback's own on a device."""
        if _on_device(X) or _on_device(y):
            X = self._check_X(X, backend, reset)
            return X, _check_device_labels(y, int(X.shape[0]))
        X, y = validate_data(self, X, y, reset=reset, dtype=host_dtype(backend.dtype))
        check_classification_targets(y)
        return X, y

    def _check_X(self, X, backend, reset: bool):
        if not _on_device(X):
            return validate_data(self, X, reset=reset, dtype=host_dtype(backend.dtype))
        if array_namespace(X) is not backend.xp:
            raise ValueError(f"X is a {type(X).__module__} array but device={self.device!r}; "
                             "use device='cuda' for CuPy arrays, or pass NumPy arrays")
        X = _check_device_X(X)
        if reset:
            self.n_features_in_ = int(X.shape[1])
            self.__dict__.pop("feature_names_in_", None)
        elif int(X.shape[1]) != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        return X


# -- helpers: hyperparameters ------------------------------------------------------------------

# TrainConfig fields → this estimator's parameter names, for error messages.
PARAMETERS = {"lr": "learning_rate", "epochs": "max_epochs", "output_activation": "output",
              "hidden": "hidden_layer_sizes", "batch_size": "batch_size"}


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _hidden_sizes(sizes) -> list[int]:
    """An int or a sequence of positive ints, as scikit-learn's ``hidden_layer_sizes``."""
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
    return [_positive_int("hidden_layer_sizes entries", size) for size in sizes]


def _batch_size(batch_size, n_samples: int) -> int | None:
    """nnback's batch size: None for full batch, else at most ``n_samples``."""
    if batch_size is None or batch_size == "full":
        return None
    return min(_positive_int("batch_size (or 'full')", batch_size), n_samples)


# -- helpers: arrays and labels ----------------------------------------------------------------


def _on_device(array) -> bool:
    """A non-NumPy array nnback can train on in place (CuPy, or any Array API array such as
    array-api-strict's): checked and kept in its own namespace, never copied to the host."""
    return (is_cupy_array(array) or is_torch_array(array)
            or (hasattr(array, "__array_namespace__") and not isinstance(array, np.ndarray)))


def _where(X, backend):
    """The backend on the device of X (data or a parameter) when X already lives in the backend's
    namespace, so host data joins the network where it is (say, on a second GPU)."""
    return dataclasses.replace(backend, device=device_of(X)) if _on_device(X) else backend


def _upload(array, backend, dtype=None):
    """The array on ``backend`` in ``dtype`` (default: the network's): cast in place if it is
    already in the backend's namespace (no host trip for CuPy), else uploaded from the host."""
    if array_namespace(array) is backend.xp:
        return backend.xp.astype(array, backend.dtype if dtype is None else dtype, copy=False)
    return backend.asarray(to_numpy(array), dtype)


def _check_device_X(X):
    """scikit-learn's basic input checks, done in X's own namespace so X stays on its device."""
    xp = array_namespace(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D array; reshape it to (n_samples, n_features)")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"Found array with shape {tuple(X.shape)}; at least 1 sample and 1 feature are required")
    if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
        raise ValueError(f"X has dtype {X.dtype}; nnback takes real numbers only")
    if xp.isdtype(X.dtype, "real floating") and not bool(xp.all(xp.isfinite(X))):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def _check_device_labels(y, n_samples: int):
    """Class labels on a device: integers (or integral floats), one per sample."""
    if not _on_device(y):
        raise ValueError("with CuPy X, pass y as a CuPy array as well")
    xp = array_namespace(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = xp.reshape(y, (-1,))
    if y.ndim != 1 or int(y.shape[0]) != n_samples:
        raise ValueError(f"y must have shape ({n_samples},), got {tuple(y.shape)}")
    if xp.isdtype(y.dtype, "real floating"):
        if not bool(xp.all(y == xp.round(y))):
            raise ValueError("Unknown label type: continuous. A classifier needs class labels.")
    elif not xp.isdtype(y.dtype, ("integral", "bool")):
        raise ValueError(f"labels of dtype {y.dtype} cannot live on the GPU; use integer labels")
    return y


def _unique(labels):
    """The sorted distinct labels, in the labels' own namespace."""
    return array_namespace(labels).unique_values(labels)


def _same_namespace(classes, like):
    """``classes`` (any sequence) in the namespace and on the device of ``like``."""
    if _on_device(like):
        classes = classes if _on_device(classes) else np.asarray(classes)
        return array_namespace(like).asarray(classes, device=device_of(like))
    return np.asarray(to_numpy(classes) if _on_device(classes) else classes)


def _same_labels(classes, known) -> bool:
    given = np.unique(to_numpy(classes) if _on_device(classes) else np.asarray(classes))
    known = to_numpy(known)
    return given.shape == known.shape and bool(np.all(given == known))


def _encode(labels, classes):
    """Labels → int64 indices into the sorted ``classes``, refusing labels not among them."""
    classes = _same_namespace(classes, labels)
    xp = array_namespace(labels, classes)
    codes = xp.clip(xp.searchsorted(classes, labels), 0, int(classes.shape[0]) - 1)
    if not bool(xp.all(xp.take(classes, codes) == labels)):
        raise ValueError(f"y contains labels not in classes {classes!r}")
    return xp.astype(codes, xp.int64)


def _decode(classes, codes, on_host: bool):
    """Class indices → labels, on the host for host input, else on the indices' device (labels
    that cannot live there, e.g. strings, come back on the host)."""
    xp = array_namespace(codes)
    if _on_device(classes) and not on_host:
        return xp.take(classes, codes)
    if on_host or classes.dtype.kind not in "biuf":
        return to_numpy(classes)[to_numpy(codes)]
    return xp.take(xp.asarray(classes, device=device_of(codes)), codes)


def _split(x, labels, fraction: float, rng):
    """Random (train, validation) pairs of (x, labels), the last ``fraction`` after a shuffle."""
    n = int(x.shape[0])
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(f"validation_fraction={fraction} of {n} samples leaves an empty training or validation set")
    xp = array_namespace(x, labels)
    order = xp.asarray(rng.permutation(n), device=device_of(x))
    x, labels = xp.take(x, order, axis=0), xp.take(labels, order, axis=0)
    return (x[: n - n_val, :], labels[: n - n_val]), (x[n - n_val :, :], labels[n - n_val :])
