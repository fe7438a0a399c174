"""Arrays as the scikit-learn estimators take them: host (NumPy) or device (CuPy, any Array API
array) input checked in its own namespace, labels encoded to class indices and back, sample
weights, R², and a seeded train/validation split, all without a trip through the host for
device input."""

from __future__ import annotations

import dataclasses

import numpy as np
from array_api_compat import is_cupy_array, is_torch_array
from array_api_compat import device as device_of

from .arrays import array_namespace
from .backend import to_numpy


def on_device(array) -> bool:
    """A non-NumPy array nnback can train on in place (CuPy, or any Array API array such as
    array-api-strict's): checked and kept in its own namespace, never copied to the host."""
    return (is_cupy_array(array) or is_torch_array(array)
            or (hasattr(array, "__array_namespace__") and not isinstance(array, np.ndarray)))


def where(X, backend):
    """The backend on the device of X (data or a parameter) when X already lives in the backend's
    namespace, so host data joins the network where it is (say, on a second GPU)."""
    return dataclasses.replace(backend, device=device_of(X)) if on_device(X) else backend


def upload(array, backend, dtype=None):
    """The array on ``backend`` in ``dtype`` (default: the network's): cast in place if it is
    already in the backend's namespace (no host trip for CuPy), else uploaded from the host."""
    if array_namespace(array) is backend.xp:
        return backend.xp.astype(array, backend.dtype if dtype is None else dtype, copy=False)
    return backend.asarray(to_numpy(array), dtype)


def check_device_X(X):
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


def check_device_labels(y, n_samples: int):
    """Class labels on a device: integers (or integral floats), one per sample."""
    if not on_device(y):
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


def check_device_weights(weights, n_samples: int):
    """Sample weights on a device: finite, not negative, one per sample."""
    xp = array_namespace(weights)
    if weights.ndim != 1 or int(weights.shape[0]) != n_samples:
        raise ValueError(f"sample_weight.shape == {tuple(weights.shape)}, expected ({n_samples},)!")
    if not xp.isdtype(weights.dtype, ("real floating", "integral")):
        raise ValueError(f"sample_weight has dtype {weights.dtype}; weights are real numbers")
    if not bool(xp.all(xp.isfinite(xp.astype(weights, xp.float64)) & (weights >= 0))):
        raise ValueError("sample_weight must be finite and not negative")
    return weights


def r2(predicted, targets, weights=None) -> float:
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


def unique(labels):
    """The sorted distinct labels, in the labels' own namespace."""
    return array_namespace(labels).unique_values(labels)


def same_namespace(classes, like):
    """``classes`` (any sequence) in the namespace and on the device of ``like``."""
    if on_device(like):
        classes = classes if on_device(classes) else np.asarray(classes)
        return array_namespace(like).asarray(classes, device=device_of(like))
    return np.asarray(to_numpy(classes) if on_device(classes) else classes)


def same_labels(classes, known) -> bool:
    given = np.unique(to_numpy(classes) if on_device(classes) else np.asarray(classes))
    known = to_numpy(known)
    return given.shape == known.shape and bool(np.all(given == known))


def encode(labels, classes):
    """Labels → int64 indices into the sorted ``classes``, refusing labels not among them."""
    classes = same_namespace(classes, labels)
    xp = array_namespace(labels, classes)
    codes = xp.clip(xp.searchsorted(classes, labels), 0, int(classes.shape[0]) - 1)
    if not bool(xp.all(xp.take(classes, codes) == labels)):
        raise ValueError(f"y contains labels not in classes {classes!r}")
    return xp.astype(codes, xp.int64)


def decode(classes, codes, on_host: bool):
    """Class indices → labels, on the host for host input, else on the indices' device (labels
    that cannot live there, e.g. strings, come back on the host)."""
    xp = array_namespace(codes)
    if on_device(classes) and not on_host:
        return xp.take(classes, codes)
    if on_host or classes.dtype.kind not in "biuf":
        return to_numpy(classes)[to_numpy(codes)]
    return xp.take(xp.asarray(classes, device=device_of(codes)), codes)


def times(a, b):
    """a · b where either may be None (meaning all ones)."""
    return b if a is None else a if b is None else a * b


def split(arrays: list, fraction: float, rng):
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
