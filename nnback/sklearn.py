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
import math
import warnings

import numpy as np
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
from . import estimator_arrays as inputs
from . import estimator_params as hyper
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
            backend = inputs.where(self._placed_trainer(backend).model.layers[0].w, backend)
        else:
            backend = inputs.where(X, backend)
        targets = self._fit_targets(y, backend, first=not continuing, classes=classes, incremental=incremental)
        x = inputs.upload(X, backend)
        sample_weight = self._weights(sample_weight, X, backend)
        class_weights = self._class_weights(targets, backend)
        weights = inputs.times(sample_weight, class_weights)
        early = self.early_stopping and not incremental
        if not continuing:
            split_rng = self._start(backend, int(X.shape[1]), settings)
        elif not incremental:
            self._install_optimizer(self._trainer, settings, keep_state=False)  # scikit-learn: a fresh optimizer
        if validation[0] is not None:
            validation = self._validation_set(validation, backend)
        elif early:
            # The held-out part is scored with its sample weights only, as in scikit-learn.
            (x, targets, weights, _), validation = inputs.split([x, targets, weights, sample_weight],
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
        self.n_layers_ = len(hyper.hidden_sizes(self.hidden_layer_sizes)) + 2
        return seeded_generators(seed)[2]

    def _config(self, seed: int, settings: dict) -> TrainConfig:
        """The hyperparameters as nnback's validated configuration (a ValueError naming the
        estimator's parameter when one cannot work)."""
        activation = "sigmoid" if self.activation == "logistic" else self.activation
        try:
            return TrainConfig(
                hidden=hyper.hidden_sizes(self.hidden_layer_sizes), activation=activation, output_activation=self._output,
                loss=self._loss, init="xavier" if self.init == "glorot" else self.init,
                optimizer=settings["optimizer"], lr=settings["lr"], momentum=settings["momentum"], adam_eps=self.epsilon, dropout=self.dropout, augment="none",
                batch_size=None, epochs=settings["max_iter"], schedule="constant", seed=seed, dtype=self.dtype,
                device=self.device if self.device in ("cpu", "cuda") else "cpu")
        except ConfigError as error:
            name = hyper.PARAMETERS.get(error.field, error.field)
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
            hyper.renamed("learning_rate=<float>", "learning_rate_init=<float>")
            hyper.refuse_both(self, "learning_rate", ["learning_rate_init"], "learning_rate_init")
            values.update(lr=self.learning_rate, schedule="constant")
        if self.optimizer is not None:
            hyper.renamed("optimizer", "solver, momentum and nesterovs_momentum")
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(f"optimizer={self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
            solver, fixed, nesterov = OPTIMIZERS[self.optimizer]
            momentum = self.momentum if fixed is None else fixed
            # Only what the optimizer decides: "momentum" and "nesterov" keep ``momentum``, and
            # Nesterov matters only for SGD with momentum.
            overridden = ["solver"] + ["momentum"] * (fixed is not None)
            overridden += ["nesterovs_momentum"] * (solver == "sgd" and momentum != 0)
            hyper.refuse_both(self, "optimizer", overridden, "solver, momentum and nesterovs_momentum")
            values.update(solver=solver, momentum=momentum, nesterov=nesterov)
        if self.max_epochs is not None:
            hyper.renamed("max_epochs", "max_iter")
            hyper.refuse_both(self, "max_epochs", ["max_iter"], "max_iter")
            values["max_iter"] = self.max_epochs
        if self.weight_decay is not None:
            hyper.renamed("weight_decay", "alpha")
            hyper.refuse_both(self, "weight_decay", ["alpha"], "alpha")
            values["decay"] = hyper.number("weight_decay", self.weight_decay, 0.0)
        return values

    def _settings(self) -> dict:
        """scikit-learn's parameters checked, with nnback's former names folded in."""
        values = self._former_names_folded()
        solver, momentum, nesterov = values["solver"], values["momentum"], values["nesterov"]
        lr, schedule, max_iter, decay = values["lr"], values["schedule"], values["max_iter"], values["decay"]
        if solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not available: nnback trains by stochastic gradients; "
                             "use solver='adam' or 'sgd'")
        hyper.choice("solver", solver, SOLVERS)
        hyper.choice("learning_rate", schedule, LEARNING_RATES)
        alpha = hyper.number("alpha", self.alpha, 0.0)
        hyper.number("momentum", momentum, 0.0, 1.0)
        for name in ("beta_1", "beta_2"):
            hyper.number(name, getattr(self, name), 0.0, 1.0, open_right=True)
        hyper.number("epsilon", self.epsilon, 0.0, strict=True)
        hyper.number("power_t", self.power_t)
        hyper.number("tol", self.tol, allow_infinite=True)
        for name in ("n_iter_no_change", "max_fun"):
            hyper.positive_int(name, getattr(self, name))
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        hyper.hidden_sizes(self.hidden_layer_sizes)
        batch_size = hyper.batch_size_rule(self.batch_size)
        def decay_rule(batch: int, mean_weight: float) -> float:
            """alpha / Σw of an average batch (scikit-learn's L2 term), or the former raw decay."""
            return alpha / (batch * mean_weight) if decay is None else decay
        sgd_kind = "sgd" if momentum == 0 else "nesterov" if nesterov else "momentum"
        return {"solver": solver, "optimizer": "adam" if solver == "adam" else sgd_kind, "momentum": float(momentum),
                "lr": hyper.number("learning_rate_init", lr, 0.0, strict=True), "learning_rate": schedule,
                "max_iter": hyper.positive_int("max_iter", max_iter), "batch_size": batch_size, "decay": decay_rule}

    def _weights(self, sample_weight, X, backend):
        """Checked sample weights on the backend (None stays None)."""
        if sample_weight is None:
            return None
        n = int(X.shape[0])
        if inputs.on_device(sample_weight):
            weights = inputs.upload(inputs.check_device_weights(sample_weight, n), backend)
        else:
            host = X if not inputs.on_device(X) else np.empty((n, 0))
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
        return inputs.upload(X_val, backend), targets, weights

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
        if inputs.on_device(X) or inputs.on_device(y):
            X = self._check_X(X, backend, reset)
            return X, self._check_device_targets(y, int(X.shape[0]))
        return self._check_host_data(X, y, backend, reset)

    def _check_targets(self, X, y):
        if inputs.on_device(X) or inputs.on_device(y):
            return self._check_device_targets(y, int(X.shape[0]))
        return self._check_host_targets(y, int(X.shape[0]))

    def _check_X(self, X, backend, reset: bool):
        if not inputs.on_device(X):
            return validate_data(self, X, reset=reset, dtype=host_dtype(backend.dtype))
        if array_namespace(X) is not backend.xp:
            raise ValueError(f"X is a {type(X).__module__} array but device={self.device!r}; "
                             "use device='cuda' for CuPy arrays, or pass NumPy arrays")
        X = inputs.check_device_X(X)
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
        X, on_host = self._check_X(X, backend, reset=False), not inputs.on_device(X)
        model = self._placed_trainer(backend).model
        return model.predict_proba(inputs.upload(X, inputs.where(model.layers[0].w, backend))), on_host


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
        return inputs.check_device_labels(y, n_samples)

    def _fit_targets(self, y, backend, first: bool, classes=None, incremental: bool = False):
        """Class indices of y on the backend; sets ``classes_`` on a fresh start."""
        if self.output not in OUTPUTS:
            raise ValueError(f"output={self.output!r}: a classifier needs one of {', '.join(OUTPUTS)}")
        hyper.class_weight_kind(self.class_weight)
        if first:
            self.classes_ = inputs.unique(y if classes is None else inputs.same_namespace(classes, y))
        elif classes is not None and not inputs.same_labels(classes, self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, {self.classes_!r}")
        elif not incremental and not inputs.same_labels(inputs.unique(y), self.classes_):
            raise ValueError("warm_start can only be used where y has the same classes as in the previous "
                             "call to fit")
        return self._targets(y, backend)

    def _targets(self, y, backend):
        return inputs.upload(inputs.encode(y, self.classes_), backend, backend.xp.int64)

    def _class_weights(self, codes, backend):
        """Each sample's class weight (n,) on the backend, or None without ``class_weight``."""
        kind = hyper.class_weight_kind(self.class_weight)
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
        return inputs.decode(self.classes_, codes, on_host)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; device arrays are scored on their device (scikit-learn's metric would
        pull them to the host)."""
        if not (inputs.on_device(X) or inputs.on_device(y)):
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
        if not inputs.on_device(y):
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
        y = inputs.upload(y, backend, backend.dtype)
        return backend.xp.reshape(y, (-1, 1)) if y.ndim == 1 else y

    def _score_on_device(self, model, x, targets, weights=None) -> float:
        return inputs.r2(model.forward(x), targets, weights)

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
        if not (inputs.on_device(X) or inputs.on_device(y)):
            return super().score(X, y, sample_weight=sample_weight)
        predicted = self.predict(X)
        xp = array_namespace(predicted, y)
        reshape = (lambda a: xp.reshape(a, (-1, 1)) if a.ndim == 1 else a)  # noqa: E731
        weights = None if sample_weight is None else xp.asarray(sample_weight, device=device_of(predicted))
        return inputs.r2(reshape(predicted), reshape(xp.astype(y, predicted.dtype)), weights)


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
