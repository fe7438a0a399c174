"""The scikit-learn estimators' hyperparameters: checks that raise scikit-learn's ValueErrors, the
batch-size and class-weight rules, and nnback's former parameter names (a FutureWarning, and an
error when given beside the new name they set)."""

from __future__ import annotations

import inspect
import math
import numbers
import warnings

# TrainConfig fields → the estimators' parameter names, for error messages.
PARAMETERS = {"lr": "learning_rate_init", "epochs": "max_iter", "output_activation": "output",
              "hidden": "hidden_layer_sizes", "adam_eps": "epsilon", "weight_decay": "alpha"}


def renamed(old: str, new: str) -> None:
    # stacklevel: the caller of fit or partial_fit (through _former_names_folded, _settings and _fit).
    warnings.warn(f"{old} is nnback's former name; use scikit-learn's {new} (the old name will be removed)",
                  FutureWarning, stacklevel=6)


def given(estimator, name: str) -> bool:
    """Whether parameter ``name`` differs from its default in ``__init__``: the only trace that
    it was passed, since scikit-learn's ``__init__`` must store parameters as given."""
    default = inspect.signature(type(estimator).__init__).parameters[name].default
    value = getattr(estimator, name)
    return value is not default and value != default


def refuse_both(estimator, old: str, news: list[str], keep: str) -> None:
    """A ValueError if any of ``news`` was given beside its former name ``old``."""
    for new in news:
        if given(estimator, new):
            raise ValueError(f"{old}={getattr(estimator, old)!r} and {new}={getattr(estimator, new)!r} set the "
                             f"same thing; keep scikit-learn's {keep} and drop {old}, nnback's former name")


def choice(name: str, value, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown; choose one of {', '.join(allowed)}")


def number(name: str, value, low: float | None = None, high: float | None = None, *, strict: bool = False,
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


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def hidden_sizes(sizes) -> list[int]:
    """An int or a sequence of positive ints, as scikit-learn's ``hidden_layer_sizes``."""
    sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
    return [positive_int("hidden_layer_sizes entries", size) for size in sizes]


def batch_size_rule(batch_size):
    """n_samples → nnback's batch size: None for full batch, else at most n_samples."""
    if batch_size is None or batch_size == "full":
        return lambda n: None
    if batch_size == "auto":
        return lambda n: min(200, n)
    size = positive_int("batch_size (or 'auto', 'full')", batch_size)
    return lambda n: min(size, n)


def class_weight_kind(class_weight):
    if class_weight is None or class_weight == "balanced":
        return class_weight
    if isinstance(class_weight, dict):
        return "dict"
    raise ValueError(f"class_weight must be None, 'balanced' or a dict of label: weight, got {class_weight!r}")
