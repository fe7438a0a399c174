"""The configuration of a run: every hyperparameter, checked and resolved when it is built.

A :class:`TrainConfig` is plain data (it round-trips through JSON in checkpoints and metrics). It
refuses impossible values at construction with a :class:`ConfigError` naming the field, and resolves
the defaults that depend on another setting (Adam's learning rate) there too, so every door into
nnback — the CLI, ``nnback.train``, the estimator, a resumed checkpoint — trains the same run for the
same settings. Defaults that depend on the data (input and output sizes, the validation split, the
augmentation, a batch larger than the data) are decided by the run itself (``runner.py``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

ACTIVATION_NAMES = ("sigmoid", "relu", "tanh", "identity", "softmax")
LOSS_NAMES = ("quadratic", "cross-entropy")
INIT_NAMES = ("normal", "uniform", "xavier", "he")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "cosine", "step")
AUGMENT_NAMES = ("auto", "none", "translate", "elastic")
DTYPE_NAMES = ("float32", "float64")
DEFAULT_HIDDEN = (800, 800)
DEFAULT_DROPOUT = 0.2
DEFAULT_LR = {"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adam": 1e-3}


# True while from_preset, from_dict or replace builds a configuration: only they may set ``preset``.
_CARRYING_PRESET: ContextVar[bool] = ContextVar("nnback_carrying_preset", default=False)


@contextmanager
def _carrying_preset():
    token = _CARRYING_PRESET.set(True)
    try:
        yield
    finally:
        _CARRYING_PRESET.reset(token)


class ConfigError(ValueError):
    """A configuration value that cannot work; ``field`` names the TrainConfig field."""

    def __init__(self, field_name: str, reason: str):
        self.field = field_name
        super().__init__(f"{field_name} {reason}")


@dataclass
class TrainConfig:
    """Every hyperparameter of a run. The defaults are nnback's default recipe, the ``fast`` preset
    (98.8% on MNIST in under a minute on a 2-core CPU); on other data the network's input and output
    sizes follow the data.

    ``layers`` is the full list of sizes (checked against the data); ``hidden`` only the hidden
    ones (the default recipe's are 800, 800). ``lr=None`` is the optimizer's own default (0.05 for
    SGD, 1e-3 for Adam). ``val_size=None`` holds out min(10,000, n/6) training samples.
    ``test_fraction=None`` holds out 20% of a single data file as the test set.
    ``preset`` records the recipe the configuration started from; only :meth:`from_preset` (and
    :meth:`from_dict`, :meth:`replace` of such a configuration) set it: named here alone it would
    set none of the recipe's values, so that is refused.
    NumPy scalars are taken as the Python numbers they hold, and ``data`` may be any path-like.
    ``augment="auto"`` shifts images of at least 16 pixels a side by up to side/14 pixels and leaves
    smaller images and tabular data alone.
    """

    layers: list[int] | None = None
    hidden: list[int] | None = None
    activation: str | list[str] = "relu"
    output_activation: str = "softmax"
    loss: str = "cross-entropy"
    init: str = "he"
    optimizer: str = "momentum"
    lr: float = None  # type: ignore[assignment]  # None: the optimizer's default, resolved when built
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    dropout: float | list[float] = DEFAULT_DROPOUT
    input_dropout: float = 0.0
    augment: str = "auto"
    batch_size: int | None = 128
    epochs: int = 15
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    eval_every: int = 1
    patience: int | None = None
    val_size: int | None = None
    shuffle_split: bool = False
    seed: int = 0
    data: str | None = None
    label_column: str | int | None = None
    image_shape: str | list[int] | None = "auto"
    test_fraction: float | None = None
    dtype: str = "float32"
    device: str = "cpu"
    preset: str | None = None
    lr_is_default: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            plain = [_plain(v) for v in value] if isinstance(value, (list, tuple)) else _plain(value)
            setattr(self, item.name, type(value)(plain) if isinstance(value, tuple) else plain)
        self.lr_is_default = self.lr is None
        if self.lr is None:
            self.lr = DEFAULT_LR.get(self.optimizer, 0.05)
        _validate(self)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with ``changes``; a defaulted lr is re-resolved (so switching to Adam takes Adam's)."""
        if self.lr_is_default and "lr" not in changes:
            changes["lr"] = None
        with _carrying_preset():
            return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values.pop("lr_is_default")
        return values

    @classmethod
    def from_dict(cls, values: object) -> "TrainConfig":
        """A configuration from stored JSON; keys this version does not know are ignored, and every
        known value is validated as if typed in (ConfigError otherwise)."""
        if not isinstance(values, dict):
            raise ConfigError("config", f"must be an object, got {type(values).__name__}")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        with _carrying_preset():
            return cls(**{name: value for name, value in values.items() if name in known})

    @classmethod
    def from_preset(cls, name: str | None, **changes) -> "TrainConfig":
        """The named recipe (``nnback presets``) with ``changes`` over it; None: the defaults."""
        if name is None:
            return cls(**changes)
        from .presets import get_preset

        try:
            values = get_preset(name).values
        except ValueError as error:
            raise ConfigError("preset", f"{name!r} is unknown; {str(error).split('; ', 1)[-1]}") from None
        if "layers" in changes:  # full sizes given: they replace the recipe's hidden sizes
            values = {key: value for key, value in values.items() if key != "hidden"}
        with _carrying_preset():
            return cls(**{**values, **changes, "preset": name})

    def network_sizes(self, n_features: int, n_classes: int) -> list[int]:
        """The full list of layer sizes for data of ``n_features`` inputs and ``n_classes`` classes."""
        if self.layers is not None:
            if self.layers[0] != n_features:
                raise ConfigError("layers", f"start with {self.layers[0]} inputs but the data has {n_features} "
                                            f"features; make the first size {n_features} (or give only hidden sizes)")
            if self.layers[-1] != n_classes:
                raise ConfigError("layers", f"end with {self.layers[-1]} outputs but the data has {n_classes} "
                                            f"classes; make the last size {n_classes} (or give only hidden sizes)")
            return list(self.layers)
        hidden = list(DEFAULT_HIDDEN if self.hidden is None else self.hidden)
        return [n_features, *hidden, n_classes]

    @property
    def n_hidden(self) -> int:
        if self.layers is not None:
            return len(self.layers) - 2
        return len(DEFAULT_HIDDEN if self.hidden is None else self.hidden)

    @property
    def unit(self) -> str:
        """What one round of ``epochs`` is: an epoch, or one full-batch iteration."""
        return "iter" if self.batch_size is None else "epoch"


def _plain(value):
    """A NumPy scalar as the Python number it holds (np.int64(3) is 3), a path-like as its string:
    what a user computes with NumPy or pathlib is what they meant."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if getattr(getattr(value, "dtype", None), "kind", None) == "b" and getattr(value, "shape", None) == ():
        return bool(value)  # np.True_
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise ConfigError(name, message)


def _one_of(config: TrainConfig, name: str, allowed) -> None:
    value = getattr(config, name)
    _require(isinstance(value, str) and value in allowed, name,
             f"{value!r} is unknown; choose one of {', '.join(allowed)}")


def _sizes(value, name: str, minimum: int) -> None:
    _require(isinstance(value, (list, tuple)) and len(value) >= minimum and all(_is_int(n) and n >= 1 for n in value),
             name, f"need {'at least ' + str(minimum) + ' ' if minimum else ''}positive integer sizes, got {value!r}")


def _validate(c: TrainConfig) -> None:
    """Refuse every value that cannot work, before any data is read."""
    if c.layers is not None and c.hidden is not None:
        raise ConfigError("hidden", "cannot be given together with layers: give the full layer sizes or only the "
                                    "hidden ones")
    if c.layers is not None:
        _sizes(c.layers, "layers", 2)
        c.layers = list(c.layers)
    if c.hidden is not None:
        _sizes(c.hidden, "hidden", 0)
        c.hidden = list(c.hidden)
    for name, allowed in (("output_activation", ACTIVATION_NAMES), ("loss", LOSS_NAMES), ("init", INIT_NAMES),
                          ("optimizer", OPTIMIZER_NAMES), ("schedule", SCHEDULES), ("augment", AUGMENT_NAMES),
                          ("dtype", DTYPE_NAMES)):
        _one_of(c, name, allowed)
    hidden = [c.activation] if isinstance(c.activation, str) else c.activation
    _require(isinstance(hidden, (list, tuple)) and all(isinstance(a, str) and a in ACTIVATION_NAMES for a in hidden),
             "activation", f"{c.activation!r} is unknown; choose from {', '.join(ACTIVATION_NAMES)}")
    if not isinstance(c.activation, str):
        _require(len(c.activation) == c.n_hidden, "activation",
                 f"{c.n_hidden} hidden layers need one activation or {c.n_hidden}, got {len(c.activation)}")
    _require(_is_number(c.lr) and c.lr > 0, "lr", f"must be a positive number, got {c.lr!r}")
    _require(_is_number(c.momentum) and 0 <= c.momentum < 1, "momentum", f"must be at least 0 and below 1, got {c.momentum!r}")
    if c.optimizer == "nesterov":
        _require(c.momentum > 0, "momentum", "must be above 0 for Nesterov momentum")
    _require(_is_number(c.weight_decay) and c.weight_decay >= 0, "weight_decay", f"must be 0 or more, got {c.weight_decay!r}")
    _require(_is_number(c.adam_eps) and c.adam_eps > 0, "adam_eps", f"must be a positive number, got {c.adam_eps!r}")
    _check_dropout(c)
    _require(c.batch_size is None or (_is_int(c.batch_size) and c.batch_size >= 1), "batch_size",
             f"must be at least 1 (or None for full batch), got {c.batch_size!r}")
    for name in ("epochs", "eval_every"):
        _require(_is_int(getattr(c, name)) and getattr(c, name) >= 1, name, f"must be at least 1, got {getattr(c, name)!r}")
    _require(_is_number(c.warmup_epochs) and c.warmup_epochs >= 0, "warmup_epochs", f"must be 0 or more, got {c.warmup_epochs!r}")
    _require(c.patience is None or (_is_int(c.patience) and c.patience >= 1), "patience",
             f"must be at least 1 report, got {c.patience!r}")
    _require(c.val_size is None or (_is_int(c.val_size) and c.val_size >= 0), "val_size", f"must be 0 or more, got {c.val_size!r}")
    if c.patience is not None:
        _require(c.val_size != 0, "patience", "needs a validation set (val_size above 0)")
    _require(isinstance(c.shuffle_split, bool), "shuffle_split", f"must be true or false, got {c.shuffle_split!r}")
    _require(_is_int(c.seed) and 0 <= c.seed < 2**63, "seed", f"must be an integer from 0 to 2**63 - 1, got {c.seed!r}")
    _require(c.data is None or isinstance(c.data, str), "data", f"must be a path, got {c.data!r}")
    _require(c.label_column is None or isinstance(c.label_column, str) or _is_int(c.label_column),
             "label_column", f"must be a column name or a 0-based index (-1: the last), got {c.label_column!r}")
    if isinstance(c.image_shape, str):
        _require(c.image_shape == "auto", "image_shape", f"must be 'auto', None or a shape such as [28, 28], got {c.image_shape!r}")
    elif c.image_shape is not None:
        _sizes(c.image_shape, "image_shape", 2)
        _require(len(c.image_shape) <= 3, "image_shape", f"must be (height, width) or (height, width, channels), got {c.image_shape!r}")
        c.image_shape = list(c.image_shape)
    _require(c.test_fraction is None or (_is_number(c.test_fraction) and 0 < c.test_fraction < 1), "test_fraction",
             f"must lie between 0 and 1, got {c.test_fraction!r}")
    if c.preset is not None:
        from .presets import PRESETS

        _require(c.preset in PRESETS, "preset", f"{c.preset!r} is unknown; choose one of {', '.join(PRESETS)}")
        _require(_CARRYING_PRESET.get(), "preset", f"{c.preset!r} is set by TrainConfig.from_preset({c.preset!r}, ...), "
                                                   "which applies the recipe; named here alone it would set none of it")
    _require(isinstance(c.device, str) and c.device in ("cpu", "cuda"), "device", f"must be cpu or cuda, got {c.device!r}")
    if c.loss == "cross-entropy":
        _require(c.output_activation in ("softmax", "sigmoid"), "loss",
                 f"cross-entropy needs a softmax or sigmoid output activation, not {c.output_activation}")


def _check_dropout(c: TrainConfig) -> None:
    rates = [c.dropout] if not isinstance(c.dropout, (list, tuple)) else list(c.dropout)
    _require(all(_is_number(r) and 0 <= r < 1 for r in rates), "dropout", f"rates must lie in [0, 1), got {c.dropout!r}")
    if isinstance(c.dropout, (list, tuple)):
        _require(len(rates) == c.n_hidden, "dropout",
                 f"needs one rate per hidden layer ({c.n_hidden}) or a single rate for all, got {len(rates)}")
        c.dropout = [float(r) for r in rates]
    elif c.n_hidden == 0 and c.dropout not in (0.0, DEFAULT_DROPOUT):  # the default recipe's rate has nothing to act on
        raise ConfigError("dropout", "must be 0 for a network without hidden layers")
    _require(_is_number(c.input_dropout) and 0 <= c.input_dropout < 1, "input_dropout",
             f"must lie in [0, 1), got {c.input_dropout!r}")


def dropout_rates(config: TrainConfig) -> list[float]:
    """One dropout rate per layer input: the features, then each hidden layer's output."""
    hidden = config.n_hidden
    rates = list(config.dropout) if isinstance(config.dropout, list) else [float(config.dropout)] * hidden
    return [float(config.input_dropout)] + rates
