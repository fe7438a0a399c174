"""scikit-learn estimators trained by nnback's own core, on NumPy or (with ``device="cuda"``) CuPy.

``from nnback.sklearn import MLPClassifier, MLPRegressor`` needs scikit-learn (``pip install
"nnback[sklearn]"``); ``import nnback`` alone never imports it. Both take the parameters of
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` with their meaning and defaults, so code
written for scikit-learn runs with only the import changed (``solver="lbfgs"`` is the exception: a
ValueError). They add what scikit-learn's lack: ``class_weight``, a validation set of your own
(``fit(X, y, X_val=..., y_val=...)``), dropout, float32, and a GPU. The estimators only adapt
scikit-learn's conventions (validation, label encoding, random_state, fitted ``_`` attributes,
pickling) to nnback's :class:`~nnback.runner.Trainer`, the front door the CLI uses too.

Arrays keep to the input's namespace: NumPy in, NumPy out; CuPy in (``device="cuda"``), CuPy out,
with no trip through the host. NumPy input with ``device="cuda"`` trains on the GPU and answers in
NumPy.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import warnings

import numpy as np
from array_api_compat import is_cupy_array, is_torch_array
from array_api_compat import device as device_of

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError('nnback.sklearn needs scikit-learn; install it with: pip install "nnback[sklearn]"') from None

from .arrays import array_namespace
from .backend import get_backend, host_dtype, seeded_generators, to_numpy
from .config import ConfigError, TrainConfig
from .losses import one_hot
from .optimizers import Adam
from .outputs import check_outputs
from .runner import DataInfo, Trainer, optimizer_for

__all__ = ["MLPClassifier", "MLPRegressor"]

OUTPUTS = ("softmax", "sigmoid")
SOLVERS = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
# nnback's former optimizer names → (solver, momentum or None to keep ``momentum``, Nesterov).
OPTIMIZERS = {"sgd": ("sgd", 0.0, False), "momentum": ("sgd", None, False), "nesterov": ("sgd", None, True),
              "adam": ("adam", None, True)}

_PARAMETERS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Units per hidden layer; ``()`` gives a linear model.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
        Hidden activation ("sigmoid" is accepted for "logistic").
    solver : {"adam", "sgd"}, default "adam"
        "lbfgs" raises a ValueError: nnback trains by stochastic gradients only.
    alpha : float, default 1e-4
        L2 penalty as scikit-learn defines it: ½·alpha·‖W‖² / Σw added to each batch's mean loss
        (Σw: the batch's summed sample weights, its size when unweighted), biases not penalised.
        nnback applies it as weight decay alpha / (batch_size · mean weight), the same for full
        batches and for unweighted batches of ``batch_size`` rows; the last, smaller batch of an
        epoch gets the decay of a full one, and a weighted mini-batch that of an average batch.
    batch_size : int, "auto", "full" or None, default "auto"
        "auto" is min(200, n_samples); "full" or None is full-batch descent (nnback's extra).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The step size schedule for ``solver="sgd"``, as in scikit-learn: invscaling sets
        learning_rate_init / (t + 1)^power_t after each epoch (t: samples seen); adaptive divides
        the rate by 5 whenever ``n_iter_no_change`` epochs fail to improve, until it is below 1e-6.
        A float here is nnback's former name for ``learning_rate_init``: accepted with a
        FutureWarning.
    learning_rate_init, power_t, max_iter, shuffle, tol, momentum, nesterovs_momentum, beta_1, beta_2
        As in scikit-learn. SGD momentum is applied as v ← μv + g, p ← p − lr·v, which equals
        scikit-learn's v ← μv − lr·g, p ← p + v while the rate is constant.
    epsilon : float, default 1e-8
        Adam's ε, added where scikit-learn adds it: to the square root of the bias-uncorrected
        second moment (nnback's own Adam, like Kingma & Ba, adds it to √v̂).
    early_stopping, validation_fraction, n_iter_no_change
        As in scikit-learn: hold out ``validation_fraction`` (a random split, not stratified) or use
        ``X_val``/``y_val`` given to :meth:`fit`, stop when its score stalls and keep the best weights.
    warm_start : bool, default False
        Continue from the fitted weights (with a fresh optimizer, as scikit-learn does).
    max_fun : int, default 15000
        Ignored: it bounds L-BFGS function calls, and there is no L-BFGS here.
    random_state : int, RandomState instance or None
        Seeds the initial weights, batch order and validation split.
    verbose : bool, default False
        Print the loss (and validation score) after every epoch.
    init : {"glorot", "he", "xavier", "normal", "uniform"}, default "glorot"
        nnback's extra. "glorot" is scikit-learn's: weights and biases uniform in ±√(6 / (n_in +
        n_out)) (±√(2 / …) for logistic units); "xavier" is the same bound with zero biases.
    dropout : float, default 0.0
        nnback's extra: dropout rate on every hidden layer's output, in training only.
    device : {"cpu", "cuda"} or an Array API namespace, default "cpu"
        Where the network trains. A namespace (e.g. ``array_api_strict``) is for tests: it runs the
        device path without a GPU, but such an estimator cannot be cloned or pickled.
    dtype : {"float32", "float64"}, default "float32"
    optimizer, max_epochs, weight_decay : default None
        nnback's former names, accepted with a FutureWarning: optimizer "sgd", "momentum",
        "nesterov" or "adam" sets solver, momentum and nesterovs_momentum; max_epochs is max_iter;
        weight_decay is the raw decay added to weight gradients (replacing alpha's).
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    n_features_in_, n_iter_, t_, n_layers_, n_outputs_, out_activation_
    coefs_, intercepts_ : lists of arrays, shapes (n_in, n_out) and (n_out,) per layer
        The live parameters of the network, in the namespace it was trained in.
    loss_, loss_curve_, best_loss_ : the training loss (mean over the epoch's batches, without
        the L2 term), per epoch, and its best (None with early stopping)
    validation_scores_, best_validation_score_ : the validation score per epoch (accuracy, or R²
        for the regressor) and its best; None without a validation set
"""


class _ScikitLearnAdam(Adam):
    """Adam with scikit-learn's ε: added to √v of the bias-uncorrected moment, not to √v̂. At step
    t that is nnback's Adam with ε / √(1 − β2ᵗ), so only ε changes from step to step."""

    def __init__(self, lr: float, beta1: float, beta2: float, epsilon: float, weight_decay: float):
        super().__init__(lr, beta1, beta2, epsilon, weight_decay)
        self.epsilon = float(epsilon)

    def begin_step(self, parameters) -> None:
        self.eps = self.epsilon / math.sqrt(1.0 - self.beta2 ** (self.t + 1))
        super().begin_step(parameters)


class _MLPBase(BaseEstimator):
    """What the classifier and the regressor share: parameters, the training loop, stopping,
    validation, pickling and the device path. Subclasses say how targets are read and scored."""

    _output = "identity"
    _loss = "quadratic"
    # Fitted attributes (set by fit, never by __init__).
    loss_curve_: list[float]
    loss_: float
    best_loss_: float
    n_iter_: int
    t_: int
    validation_scores_: list[float] | None
    best_validation_score_: float | None

    # -- training ------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Train on X (n_samples, n_features) and y; starts afresh unless ``warm_start``.

        ``sample_weight`` (n_samples,) weights each sample's loss (integer weights act as
        repeated rows). ``X_val``, ``y_val`` (and ``sample_weight_val``) are a
        validation set of your own: scored after every epoch into ``validation_scores_``, and
        with ``early_stopping`` used for stopping instead of a ``validation_fraction`` split
        (the same names as scikit-learn's HistGradientBoosting).

        Weights are scaled to mean 1 over the training set and multiply each sample's loss in
        every batch mean (scikit-learn divides each batch by its own Σw instead, which lets a batch
        of down-weighted samples count fully); with full batches both are Σ wᵢ·lossᵢ / Σw."""
        return self._fit(X, y, sample_weight, (X_val, y_val, sample_weight_val), incremental=False)

    def _fit(self, X, y, sample_weight, validation, incremental: bool, classes=None):
        backend = self._backend()
        settings = self._settings()
        fitted = "_trainer" in self.__dict__ or "_snapshot" in self.__dict__
        continuing = fitted and (incremental or self.warm_start)
        if incremental and not fitted:
            self._first_partial_fit(classes)
        X, y = self._check_training_data(X, y, backend, reset=not continuing)
        if continuing:
            backend = _where(self._placed_trainer(backend).model.layers[0].w, backend)
        else:
            backend = _where(X, backend)
        targets = self._fit_targets(y, backend, first=not continuing, classes=classes, incremental=incremental)
        x = _upload(X, backend)
        sample_weight = self._weights(sample_weight, X, backend)
        class_weights = self._class_weights(targets, backend)
        weights = _times(sample_weight, class_weights)
        early = self.early_stopping and not incremental
        if not continuing:
            split_rng = self._start(backend, int(X.shape[1]), settings)
        elif not incremental:
            self._install_optimizer(self._trainer, settings, keep_state=False)  # scikit-learn: a fresh optimizer
        if validation[0] is not None:
            validation = self._validation_set(validation, backend)
        elif early:
            # The held-out part is scored with its sample weights only, as in scikit-learn.
            (x, targets, weights, _), validation = _split([x, targets, weights, sample_weight],
                                                          self.validation_fraction, split_rng)
            validation = (validation[0], validation[1], validation[3])
        else:
            validation = None
        self._prepare_scores(validation is not None, early)
        if not incremental or not continuing:
            self.n_iter_ = 0  # epochs of this fit, as in scikit-learn; partial_fit calls add up
        self._train(x, targets, weights, validation, settings, early, epochs=1 if incremental else None)
        return self

    def _train(self, x, targets, weights, validation, settings: dict, early: bool, epochs: int | None) -> None:
        """One epoch at a time through the run's own loop, with scikit-learn's stopping rules and
        learning rate schedules; with early stopping, the best weights are put back."""
        trainer, n = self._trainer, int(x.shape[0])
        mean_weight = 1.0
        if weights is not None:  # scaled to mean 1, so Σw plays the role of n (see losses.py)
            mean_weight = float(array_namespace(weights).mean(weights))
            if not mean_weight > 0.0:
                raise ValueError("sample_weight: every training sample has weight 0")
            weights = weights / mean_weight
        trainer.batch_size = settings["batch_size"](n)
        trainer.optimizer.weight_decay = settings["decay"](trainer.batch_size or n, mean_weight)
        stalled, stopped = 0, False
        for _ in range(settings["max_iter"] if epochs is None else epochs):
            stats = trainer.fit(x, targets, None, epochs=trainer.position.epoch + 1, sample_weight=weights,
                                shuffle=bool(self.shuffle))[-1]
            self.loss_ = stats["train_loss"] * self._loss_factor
            self.n_iter_, self.t_ = self.n_iter_ + 1, self.t_ + n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            stalled = 0 if self._improved(validation, early) else stalled + 1
            sgd = settings["solver"] == "sgd"
            if sgd and settings["learning_rate"] == "invscaling":
                trainer.optimizer.lr = settings["lr"] / (self.t_ + 1) ** self.power_t
            if epochs is None and stalled > self.n_iter_no_change:
                if not (sgd and settings["learning_rate"] == "adaptive" and trainer.optimizer.lr > 1e-6):
                    stopped = True
                    break
                trainer.optimizer.lr /= 5.0
                stalled = 0
        if epochs is None and not stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({settings['max_iter']}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        best = self.__dict__.pop("_best_parameters", None)
        if early and best is not None:
            trainer.model.load_parameters(best)

    def _improved(self, validation, early: bool) -> bool:
        """Record this epoch's scores; True if the one that decides (the validation score with
        early stopping, else the training loss) did not fall short of its best by ``tol``."""
        if validation is not None:
            score, scores, best = self._score_on_device(self._trainer.model, *validation), \
                self.validation_scores_, self.best_validation_score_
            assert scores is not None and best is not None, "_prepare_scores starts the validation record"
            scores.append(score)
            improved = not score < best + self.tol
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score > best:
                self.best_validation_score_ = score
                if early:
                    self._best_parameters = self._trainer.model.copy_parameters()
            if early:
                return improved
        improved = not self.loss_ > self.best_loss_ - self.tol
        self.best_loss_ = min(self.best_loss_, self.loss_)
        return improved

    def _prepare_scores(self, validating: bool, early: bool) -> None:
        if validating and self.__dict__.get("validation_scores_") is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if early:
            self.best_loss_ = np.inf  # scikit-learn's is None with early stopping; kept as a number here
        self.__dict__.pop("_best_parameters", None)

    def _start(self, backend, n_features: int, settings: dict):
        """A new network, optimizer and generators; forgets any earlier training. Returns the
        generator of the validation split."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._trainer = Trainer(self._config(seed, settings), self._info(n_features), backend=backend)
        if self.init == "glorot":
            _glorot(self._trainer.model, backend, seeded_generators(seed, 4)[3], self.activation == "logistic")
        self._install_optimizer(self._trainer, settings, keep_state=False)
        self.__dict__.pop("_snapshot", None)
        self.loss_curve_ = []
        self.t_, self.best_loss_, self.loss_ = 0, np.inf, np.nan
        self.validation_scores_, self.best_validation_score_ = None, None
        self.n_layers_ = len(_hidden_sizes(self.hidden_layer_sizes)) + 2
        return seeded_generators(seed)[2]

    def _config(self, seed: int, settings: dict) -> TrainConfig:
        """The hyperparameters as nnback's validated configuration (a ValueError naming the
        estimator's parameter when one cannot work)."""
        activation = "sigmoid" if self.activation == "logistic" else self.activation
        try:
            return TrainConfig(
                hidden=_hidden_sizes(self.hidden_layer_sizes), activation=activation, output_activation=self._output,
                loss=self._loss, init="xavier" if self.init == "glorot" else self.init,
                optimizer=settings["optimizer"], lr=settings["lr"], momentum=settings["momentum"], adam_eps=self.epsilon, dropout=self.dropout, augment="none",
                batch_size=None, epochs=settings["max_iter"], schedule="constant", seed=seed, dtype=self.dtype,
                device=self.device if self.device in ("cpu", "cuda") else "cpu")
        except ConfigError as error:
            name = PARAMETERS.get(error.field, error.field)
            raise ValueError(f"{name}: {str(error).removeprefix(error.field + ' ')}") from None

    def _install_optimizer(self, trainer: Trainer, settings: dict | None, keep_state: bool) -> None:
        """scikit-learn's optimizer for the run: its SGD is nnback's; its Adam takes β1, β2 and
        ε where scikit-learn adds it. ``keep_state`` carries the moments over (after unpickling)."""
        config = trainer.config
        if settings is not None:
            config = trainer.config = config.replace(optimizer=settings["optimizer"], lr=settings["lr"],
                                                     momentum=settings["momentum"], adam_eps=self.epsilon)
        optimizer = optimizer_for(config)
        if config.optimizer == "adam":
            optimizer = _ScikitLearnAdam(config.lr, self.beta_1, self.beta_2, self.epsilon, config.weight_decay)
        if keep_state:
            optimizer.load_state(trainer.optimizer.state())
            optimizer.lr, optimizer.weight_decay = trainer.optimizer.lr, trainer.optimizer.weight_decay
        trainer.optimizer = optimizer

    def _former_names_folded(self) -> dict:
        """The parameters nnback's former names can set, keyed like ``_settings``'s locals, with any
        former name given folded in (and a FutureWarning). A former name used to override its new
        name silently, so giving both is an error."""
        values = {"solver": self.solver, "momentum": self.momentum, "nesterov": self.nesterovs_momentum,
                  "lr": self.learning_rate_init, "schedule": self.learning_rate, "max_iter": self.max_iter,
                  "decay": None}
        if not isinstance(self.learning_rate, str):
            _renamed("learning_rate=<float>", "learning_rate_init=<float>")
            _refuse_both(self, "learning_rate", ["learning_rate_init"], "learning_rate_init")
            values.update(lr=self.learning_rate, schedule="constant")
        if self.optimizer is not None:
            _renamed("optimizer", "solver, momentum and nesterovs_momentum")
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(f"optimizer={self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
            solver, fixed, nesterov = OPTIMIZERS[self.optimizer]
            momentum = self.momentum if fixed is None else fixed
            # Only what the optimizer decides: "momentum" and "nesterov" keep ``momentum``, and
            # Nesterov matters only for SGD with momentum.
            overridden = ["solver"] + ["momentum"] * (fixed is not None)
            overridden += ["nesterovs_momentum"] * (solver == "sgd" and momentum != 0)
            _refuse_both(self, "optimizer", overridden, "solver, momentum and nesterovs_momentum")
            values.update(solver=solver, momentum=momentum, nesterov=nesterov)
        if self.max_epochs is not None:
            _renamed("max_epochs", "max_iter")
            _refuse_both(self, "max_epochs", ["max_iter"], "max_iter")
            values["max_iter"] = self.max_epochs
        if self.weight_decay is not None:
            _renamed("weight_decay", "alpha")
            _refuse_both(self, "weight_decay", ["alpha"], "alpha")
            values["decay"] = _number("weight_decay", self.weight_decay, 0.0)
        return values

    def _settings(self) -> dict:
        """scikit-learn's parameters checked, with nnback's former names folded in."""
        values = self._former_names_folded()
        solver, momentum, nesterov = values["solver"], values["momentum"], values["nesterov"]
        lr, schedule, max_iter, decay = values["lr"], values["schedule"], values["max_iter"], values["decay"]
        if solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not available: nnback trains by stochastic gradients; "
                             "use solver='adam' or 'sgd'")
        _choice("solver", solver, SOLVERS)
        _choice("learning_rate", schedule, LEARNING_RATES)
        alpha = _number("alpha", self.alpha, 0.0)
        _number("momentum", momentum, 0.0, 1.0)
        for name in ("beta_1", "beta_2"):
            _number(name, getattr(self, name), 0.0, 1.0, open_right=True)
        _number("epsilon", self.epsilon, 0.0, strict=True)
        _number("power_t", self.power_t)
        _number("tol", self.tol, allow_infinite=True)
        for name in ("n_iter_no_change", "max_fun"):
            _positive_int(name, getattr(self, name))
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        _hidden_sizes(self.hidden_layer_sizes)
        batch_size = _batch_size_rule(self.batch_size)
        def decay_rule(batch: int, mean_weight: float) -> float:
            """alpha / Σw of an average batch (scikit-learn's L2 term), or the former raw decay."""
            return alpha / (batch * mean_weight) if decay is None else decay
        sgd_kind = "sgd" if momentum == 0 else "nesterov" if nesterov else "momentum"
        return {"solver": solver, "optimizer": "adam" if solver == "adam" else sgd_kind, "momentum": float(momentum),
                "lr": _number("learning_rate_init", lr, 0.0, strict=True), "learning_rate": schedule,
                "max_iter": _positive_int("max_iter", max_iter), "batch_size": batch_size, "decay": decay_rule}

    def _weights(self, sample_weight, X, backend):
        """Checked sample weights on the backend (None stays None)."""
        if sample_weight is None:
            return None
        n = int(X.shape[0])
        if _on_device(sample_weight):
            weights = _upload(_check_device_weights(sample_weight, n), backend)
        else:
            host = X if not _on_device(X) else np.empty((n, 0))
            weights = backend.asarray(_check_sample_weight(sample_weight, host, dtype=np.float64,
                                                           ensure_non_negative=True))
        return weights

    def _class_weights(self, targets, backend):
        return None  # the classifier's class_weight

    def _validation_set(self, validation, backend):
        """A user's (X_val, y_val, sample_weight_val), checked and on the backend."""
        X_val, y_val, weights = validation
        if y_val is None:
            raise ValueError("X_val was given without y_val")
        X_val = self._check_X(X_val, backend, reset=False)
        targets = self._targets(self._check_targets(X_val, y_val), backend)
        if weights is not None:
            weights = self._weights(weights, X_val, backend)
        return _upload(X_val, backend), targets, weights

    # -- state, devices and validation ---------------------------------------------------------

    @property
    def coefs_(self) -> list:
        return [layer.w for layer in self._fitted_trainer().model.layers]

    @property
    def intercepts_(self) -> list:
        return [layer.b for layer in self._fitted_trainer().model.layers]

    def _fitted_trainer(self) -> Trainer:
        if "_trainer" not in self.__dict__ and "_snapshot" not in self.__dict__:
            raise AttributeError("coefs_")  # so check_is_fitted and hasattr see an unfitted estimator
        return self._placed_trainer(self._backend())

    def __getstate__(self) -> dict:
        """Pickle a host copy of the run only, so a GPU-trained estimator unpickles anywhere; the
        arrays go back to ``device`` on first use."""
        state = dict(super().__getstate__())
        trainer = state.pop("_trainer", None)
        if trainer is not None:
            host = get_backend("cpu", trainer.config.dtype)
            snapshot = trainer.snapshot().moved_to(host)
            snapshot.meta["optimizer"] = {"lr": trainer.optimizer.lr, "weight_decay": trainer.optimizer.weight_decay}
            state["_snapshot"] = (trainer.config, trainer.info, snapshot)
            if "classes_" in state:
                state["classes_"] = to_numpy(state["classes_"])
        state.pop("_best_parameters", None)
        return state

    def save(self, path, image_shape=None, pixel_scale: int | None = 255) -> None:
        """Save the fitted network as an nnback checkpoint: ``nnback.load_model`` reads it back, and
        for a classifier ``nnback evaluate``, ``predict`` and ``export`` too. Give ``image_shape``
        (e.g. (28, 28)) if X held images scaled to [0, 1], so the CLI reads image files the same
        way, with ``pixel_scale`` what a file's integer pixels are divided by to get there (255 for
        8-bit images; None: each file's own range); otherwise data is read as tabular features."""
        check_is_fitted(self)
        check_outputs({"save": path})  # a missing folder or a directory, named before anything is written
        trainer = self._placed_trainer(self._backend())
        info = trainer.info
        if image_shape is not None:
            shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else image_shape
            trainer.info = dataclasses.replace(info, image_shape=shape, pixel_scale=pixel_scale)  # checked by trainer.save
        try:
            trainer.save(path)
        finally:
            trainer.info = info  # the shape belongs to this file, not to the estimator

    def _placed_trainer(self, backend) -> Trainer:
        """The fitted run on ``backend``, moved there first if it lives elsewhere (after
        unpickling, or after ``set_params(device=...)``)."""
        trainer = self.__dict__.get("_trainer")
        if trainer is not None and array_namespace(trainer.model.layers[0].w) is backend.xp:
            return trainer
        if trainer is None:
            config, info, snapshot = self._snapshot
            stored = snapshot.meta.get("optimizer", {})
            lr, decay = stored.get("lr", config.lr), stored.get("weight_decay", config.weight_decay)
        else:
            config, info, snapshot = trainer.config, trainer.info, trainer.snapshot()
            lr, decay = trainer.optimizer.lr, trainer.optimizer.weight_decay
        placed = Trainer(config, info, backend=backend, checkpoint=snapshot)  # the trainer moves its arrays here
        placed.optimizer.lr, placed.optimizer.weight_decay = lr, decay
        self._install_optimizer(placed, None, keep_state=True)
        self._trainer = placed
        self.__dict__.pop("_snapshot", None)
        return placed

    def _backend(self):
        return get_backend(self.device, self.dtype)

    def _check_training_data(self, X, y, backend, reset: bool):
        """Validated (X, y): scikit-learn's checks on the host, nnback's own on a device."""
        if _on_device(X) or _on_device(y):
            X = self._check_X(X, backend, reset)
            return X, self._check_device_targets(y, int(X.shape[0]))
        return self._check_host_data(X, y, backend, reset)

    def _check_targets(self, X, y):
        if _on_device(X) or _on_device(y):
            return self._check_device_targets(y, int(X.shape[0]))
        return self._check_host_targets(y, int(X.shape[0]))

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

    def _outputs(self, X):
        """(network outputs on the backend, whether X came from the host)."""
        check_is_fitted(self)
        backend = self._backend()
        X, on_host = self._check_X(X, backend, reset=False), not _on_device(X)
        model = self._placed_trainer(backend).model
        return model.predict_proba(_upload(X, _where(model.layers[0].w, backend))), on_host


def _init_parameters(estimator, names: list[str], values: dict) -> None:
    for name in names:
        setattr(estimator, name, values[name])


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A fully connected network classifier: scikit-learn's ``MLPClassifier``, on nnback."""

    def __init__(
        self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001, batch_size="auto",
        learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
        random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
        early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
        max_fun=15000, class_weight=None, output="softmax", loss="cross-entropy", init="glorot", dropout=0.0,
        device="cpu", dtype="float32", optimizer=None, max_epochs=None, weight_decay=None,
    ):
        _init_parameters(self, list(_ARGUMENTS) + ["class_weight", "output", "loss"], locals())

    @property
    def _output(self):  # type: ignore[override]
        return self.output

    @property
    def _loss(self):  # type: ignore[override]
        return self.loss

    _loss_factor = 1.0

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing any earlier training; ``classes`` is required the
        first time (all labels that will ever appear), as in scikit-learn."""
        return self._fit(X, y, sample_weight, (None, None, None), incremental=True, classes=classes)

    def _first_partial_fit(self, classes) -> None:
        if classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")

    def _info(self, n_features: int) -> DataInfo:
        self.n_outputs_ = int(self.classes_.shape[0])
        self.out_activation_ = "logistic" if self.output == "sigmoid" else self.output
        # Whole-number float labels (1.0) are named as a data file writes them (1), so that the CLI
        # matches the labels of the same rows read from a CSV or npz.
        return DataInfo(n_features, tuple(str(int(c)) if isinstance(c, float) and c.is_integer() else str(c)
                                          for c in to_numpy(self.classes_).tolist()))

    def _check_host_data(self, X, y, backend, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=host_dtype(backend.dtype))
        check_classification_targets(y)
        return X, y

    def _check_host_targets(self, y, n_samples: int):
        y = np.asarray(y)
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.shape != (n_samples,):
            raise ValueError(f"y must have shape ({n_samples},), got {y.shape}")
        return y

    def _check_device_targets(self, y, n_samples: int):
        return _check_device_labels(y, n_samples)

    def _fit_targets(self, y, backend, first: bool, classes=None, incremental: bool = False):
        """Class indices of y on the backend; sets ``classes_`` on a fresh start."""
        if self.output not in OUTPUTS:
            raise ValueError(f"output={self.output!r}: a classifier needs one of {', '.join(OUTPUTS)}")
        _class_weight_kind(self.class_weight)
        if first:
            self.classes_ = _unique(y if classes is None else _same_namespace(classes, y))
        elif classes is not None and not _same_labels(classes, self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}")
        elif not incremental and not _same_labels(_unique(y), self.classes_):
            raise ValueError("warm_start can only be used where y has the same classes as in the previous "
                             "call to fit")
        return self._targets(y, backend)

    def _targets(self, y, backend):
        return _upload(_encode(y, self.classes_), backend, backend.xp.int64)

    def _class_weights(self, codes, backend):
        """Each sample's class weight (n,) on the backend, or None without ``class_weight``."""
        kind = _class_weight_kind(self.class_weight)
        if kind is None:
            return None
        n_classes = int(self.classes_.shape[0])
        if kind == "balanced":
            counts = to_numpy(array_namespace(codes).sum(one_hot(codes, n_classes, backend.dtype), axis=0))
            table = int(codes.shape[0]) / (n_classes * np.maximum(counts.astype(np.float64), 1.0))
        else:
            labels = to_numpy(self.classes_).tolist()
            unknown = [key for key in self.class_weight if key not in labels]
            if unknown:
                raise ValueError(f"class_weight has labels that are not classes: {unknown!r}")
            table = np.array([float(self.class_weight.get(label, 1.0)) for label in labels])
            if not np.all(np.isfinite(table)) or np.any(table < 0):
                raise ValueError(f"class_weight values must be finite and not negative, got {self.class_weight!r}")
        return backend.xp.take(backend.asarray(table), codes, axis=0)

    def _score_on_device(self, model, x, codes, weights=None) -> float:
        """Accuracy (weighted when ``weights`` are given) without leaving the device."""
        xp = array_namespace(x)
        correct = xp.astype(xp.argmax(model.forward(x), axis=1) == codes, x.dtype)
        if weights is None:
            return float(xp.mean(correct))
        return float(xp.sum(correct * weights) / xp.maximum(xp.sum(weights), xp.finfo(x.dtype).tiny))

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

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; device arrays are scored on their device (scikit-learn's metric would
        pull them to the host)."""
        if not (_on_device(X) or _on_device(y)):
            return super().score(X, y, sample_weight=sample_weight)
        predicted = self.predict(X)
        xp = array_namespace(predicted, y)
        correct = xp.astype(predicted == y, xp.float64)
        if sample_weight is None:
            return float(xp.mean(correct))
        weights = xp.astype(xp.asarray(sample_weight, device=device_of(correct)), xp.float64)
        return float(xp.sum(correct * weights) / xp.sum(weights))

    def _proba(self, X):
        proba, on_host = self._outputs(X)
        if self.output == "sigmoid":  # one-vs-rest outputs, normalised so each row sums to 1
            proba = proba / array_namespace(proba).sum(proba, axis=1, keepdims=True)
        return proba, on_host


FLOAT32_TARGETS = 1e18  # |y| beyond this: its squared error is near float32's 3.4e38


class MLPRegressor(RegressorMixin, _MLPBase):
    """A fully connected network regressor: scikit-learn's ``MLPRegressor``, on nnback."""

    def __init__(
        self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001, batch_size="auto",
        learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
        random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
        early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
        max_fun=15000, init="glorot", dropout=0.0, device="cpu", dtype="float32", optimizer=None, max_epochs=None,
        weight_decay=None,
    ):
        _init_parameters(self, list(_ARGUMENTS), locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @property
    def _loss_factor(self) -> float:
        return 1.0 / self.n_outputs_  # nnback's loss sums over targets; scikit-learn's averages

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing any earlier training."""
        return self._fit(X, y, sample_weight, (None, None, None), incremental=True)

    def _first_partial_fit(self, classes) -> None:
        pass

    def _info(self, n_features: int) -> DataInfo:
        self.out_activation_ = "identity"
        return DataInfo(n_features, (), targets=self.n_outputs_)

    def _check_host_data(self, X, y, backend, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=host_dtype(backend.dtype), multi_output=True,
                             y_numeric=True)
        return X, y

    def _check_host_targets(self, y, n_samples: int):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2) or y.shape[0] != n_samples or not np.all(np.isfinite(y)):
            raise ValueError(f"y must be finite, of shape ({n_samples},) or ({n_samples}, n_targets), got {y.shape}")
        return y

    def _check_device_targets(self, y, n_samples: int):
        if not _on_device(y):
            raise ValueError("with device arrays for X, pass y as a device array as well")
        xp = array_namespace(y)
        if y.ndim not in (1, 2) or int(y.shape[0]) != n_samples:
            raise ValueError(f"y must have shape ({n_samples},) or ({n_samples}, n_targets), got {tuple(y.shape)}")
        if not xp.isdtype(y.dtype, ("real floating", "integral")):
            raise ValueError(f"y has dtype {y.dtype}; a regressor needs real numbers")
        if xp.isdtype(y.dtype, "real floating") and not bool(xp.all(xp.isfinite(y))):
            raise ValueError("Input y contains NaN or infinity.")
        return y

    def _fit_targets(self, y, backend, first: bool, classes=None, incremental: bool = False):
        k = 1 if y.ndim == 1 else int(y.shape[1])
        if first:
            self.n_outputs_ = k
        elif k != self.n_outputs_:
            raise ValueError(f"y has {k} targets, but the network was fitted with {self.n_outputs_}")
        xp = array_namespace(y)
        top = float(xp.max(xp.abs(y))) if int(y.shape[0]) else 0.0
        if backend.dtype_name == "float32" and top > FLOAT32_TARGETS:  # else: "diverged: a smaller learning rate"
            raise ValueError(f"y reaches {top:.3g}, too large for float32 training (its squared errors overflow); "
                             "scale y (e.g. y / y.std()) or use dtype='float64'")
        return self._targets(y, backend)

    def _targets(self, y, backend):
        """Targets as (n, n_outputs) on the backend in the network's dtype."""
        y = _upload(y, backend, backend.dtype)
        return backend.xp.reshape(y, (-1, 1)) if y.ndim == 1 else y

    def _score_on_device(self, model, x, targets, weights=None) -> float:
        return _r2(model.forward(x), targets, weights)

    def predict(self, X):
        """Predictions (n_samples,) for one target, else (n_samples, n_targets). Host answers
        are float64 unless X is float32 (scikit-learn's convention), whatever ``dtype`` computed."""
        float32 = isinstance(X, np.ndarray) and X.dtype == np.float32
        outputs, on_host = self._outputs(X)
        if self.n_outputs_ == 1:
            outputs = array_namespace(outputs).reshape(outputs, (-1,))
        if not on_host:
            return outputs
        return to_numpy(outputs).astype(np.float32 if float32 else np.float64, copy=False)

    def score(self, X, y, sample_weight=None):
        """R² (uniformly averaged over targets); device arrays are scored on their device."""
        if not (_on_device(X) or _on_device(y)):
            return super().score(X, y, sample_weight=sample_weight)
        predicted = self.predict(X)
        xp = array_namespace(predicted, y)
        reshape = (lambda a: xp.reshape(a, (-1, 1)) if a.ndim == 1 else a)  # noqa: E731
        weights = None if sample_weight is None else xp.asarray(sample_weight, device=device_of(predicted))
        return _r2(reshape(predicted), reshape(xp.astype(y, predicted.dtype)), weights)


MLPClassifier.__doc__ = """A fully connected network classifier: scikit-learn's ``MLPClassifier``, on nnback.
""" + _PARAMETERS_DOC + """    class_weight : None, "balanced" or dict, default None
        Weights per class, multiplied into ``sample_weight``: "balanced" gives class c the weight
        n_samples / (n_classes · count(c)); a dict maps labels to weights (others get 1).
    output : {"softmax", "sigmoid"}, default "softmax"
        nnback's extra. Output activation; sigmoid outputs are normalised to sum to 1 in
        ``predict_proba``. Two classes get two softmax outputs (scikit-learn: one logistic).
    loss : {"cross-entropy", "quadratic"}, default "cross-entropy"
        nnback's extra.
""" + _ATTRIBUTES_DOC + """    classes_ : array of shape (n_classes,)
"""
MLPRegressor.__doc__ = """A fully connected network regressor: scikit-learn's ``MLPRegressor``, on nnback.

    Identity outputs and the squared error ½‖a − y‖², one output per target column (y of shape
    (n,) or (n, k)); ``predict`` returns (n,) when there is one target, as scikit-learn's does,
    and ``score`` is R² (averaged over targets). ``loss_`` is scikit-learn's: the squared error
    averaged over targets as well as samples.
""" + _PARAMETERS_DOC + _ATTRIBUTES_DOC

# The constructor arguments both estimators share, in scikit-learn's order.
_ARGUMENTS = ("hidden_layer_sizes", "activation", "solver", "alpha", "batch_size", "learning_rate",
              "learning_rate_init", "power_t", "max_iter", "shuffle", "random_state", "tol", "verbose", "warm_start",
              "momentum", "nesterovs_momentum", "early_stopping", "validation_fraction", "beta_1", "beta_2",
              "epsilon", "n_iter_no_change", "max_fun", "init", "dropout", "device", "dtype", "optimizer",
              "max_epochs", "weight_decay")


# -- helpers: hyperparameters ------------------------------------------------------------------

# TrainConfig fields → the estimators' parameter names, for error messages.
PARAMETERS = {"lr": "learning_rate_init", "epochs": "max_iter", "output_activation": "output",
              "hidden": "hidden_layer_sizes", "adam_eps": "epsilon", "weight_decay": "alpha"}


def _renamed(old: str, new: str) -> None:
    # stacklevel: the caller of fit or partial_fit (through _former_names_folded, _settings and _fit).
    warnings.warn(f"{old} is nnback's former name; use scikit-learn's {new} (the old name will be removed)",
                  FutureWarning, stacklevel=6)


def _given(estimator, name: str) -> bool:
    """Whether parameter ``name`` differs from its default in ``__init__``: the only trace that
    it was passed, since scikit-learn's ``__init__`` must store parameters as given."""
    default = inspect.signature(type(estimator).__init__).parameters[name].default
    value = getattr(estimator, name)
    return value is not default and value != default


def _refuse_both(estimator, old: str, news: list[str], keep: str) -> None:
    """A ValueError if any of ``news`` was given beside its former name ``old``."""
    for new in news:
        if _given(estimator, new):
            raise ValueError(f"{old}={getattr(estimator, old)!r} and {new}={getattr(estimator, new)!r} set the "
                             f"same thing; keep scikit-learn's {keep} and drop {old}, nnback's former name")


def _choice(name: str, value, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown; choose one of {', '.join(allowed)}")


def _number(name: str, value, low: float | None = None, high: float | None = None, *, strict: bool = False,
            open_right: bool = False, allow_infinite: bool = False) -> float:
    """A real number within [low, high] ((low, … with ``strict``; …, high) with ``open_right``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (allow_infinite or math.isfinite(value))
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if ok and high is not None:
        ok = value < high if open_right else value <= high
    if not ok:
        right = ")" if open_right or high is None else "]"
        span = f"{'(' if strict else '['}{low}, {high if high is not None else 'inf'}{right}"
        raise ValueError(f"{name} must be a real number in {span}, got {value!r}")
    return float(value)


def _glorot(model, backend, rng, logistic: bool) -> None:
    """scikit-learn's initial weights: weights and biases uniform in ±√(factor / (n_in + n_out)),
    factor 6 (2 for logistic units), drawn on the host layer by layer, weights then biases."""
    values = []
    for layer in model.layers:
        n_in, n_out = layer.shape
        bound = math.sqrt((2.0 if logistic else 6.0) / (n_in + n_out))
        values += [backend.asarray(rng.uniform(-bound, bound, (n_in, n_out))),
                   backend.asarray(rng.uniform(-bound, bound, n_out))]
    model.load_parameters(values)


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _hidden_sizes(sizes) -> list[int]:
    """An int or a sequence of positive ints, as scikit-learn's ``hidden_layer_sizes``."""
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
    return [_positive_int("hidden_layer_sizes entries", size) for size in sizes]


def _batch_size_rule(batch_size):
    """n_samples → nnback's batch size: None for full batch, else at most n_samples."""
    if batch_size is None or batch_size == "full":
        return lambda n: None
    if batch_size == "auto":
        return lambda n: min(200, n)
    size = _positive_int("batch_size (or 'auto', 'full')", batch_size)
    return lambda n: min(size, n)


def _class_weight_kind(class_weight):
    if class_weight is None or class_weight == "balanced":
        return class_weight
    if isinstance(class_weight, dict):
        return "dict"
    raise ValueError(f"class_weight must be None, 'balanced' or a dict of label: weight, got {class_weight!r}")


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


def _check_device_weights(weights, n_samples: int):
    """Sample weights on a device: finite, not negative, one per sample."""
    xp = array_namespace(weights)
    if weights.ndim != 1 or int(weights.shape[0]) != n_samples:
        raise ValueError(f"sample_weight.shape == {tuple(weights.shape)}, expected ({n_samples},)!")
    if not xp.isdtype(weights.dtype, ("real floating", "integral")):
        raise ValueError(f"sample_weight has dtype {weights.dtype}; weights are real numbers")
    if not bool(xp.all(xp.isfinite(xp.astype(weights, xp.float64)) & (weights >= 0))):
        raise ValueError("sample_weight must be finite and not negative")
    return weights


def _r2(predicted, targets, weights=None) -> float:
    """R² of (n, k) predictions, uniformly averaged over the k targets, as scikit-learn's r2_score
    (a constant target scores 1 when predicted exactly, else 0), computed on the arrays' device."""
    xp = array_namespace(predicted, targets)
    if weights is None:
        weights = xp.ones((predicted.shape[0],), dtype=predicted.dtype, device=device_of(predicted))
    w = xp.expand_dims(xp.astype(weights, predicted.dtype), axis=1)
    mean = xp.sum(w * targets, axis=0) / xp.sum(w)
    error, deviation = targets - predicted, targets - mean
    residual = xp.sum(w * error * error, axis=0)
    spread = xp.sum(w * deviation * deviation, axis=0)
    residual, spread = to_numpy(residual).astype(np.float64), to_numpy(spread).astype(np.float64)
    scores = np.where(spread > 0, 1.0 - residual / np.where(spread > 0, spread, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(scores))


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


def _times(a, b):
    """a · b where either may be None (meaning all ones)."""
    return b if a is None else a if b is None else a * b


def _split(arrays: list, fraction: float, rng):
    """Random (train, validation) tuples of ``arrays`` (x first; None entries stay None), the last
    ``fraction`` after a shuffle."""
    x = arrays[0]
    n = int(x.shape[0])
    n_val = int(round(fraction * n))
    if not 0 < n_val < n:
        raise ValueError(f"validation_fraction={fraction} of {n} samples leaves an empty training or validation set")
    xp = array_namespace(x)
    order = xp.asarray(rng.permutation(n), device=device_of(x))
    parts = [None if a is None else xp.take(a, order, axis=0) for a in arrays]
    head = tuple(None if a is None else a[: n - n_val, ...] for a in parts)
    tail = tuple(None if a is None else a[n - n_val :, ...] for a in parts)
    return head, tail
