"""Standardising tabular features: fitted on the training split, stored with the model.

Images are already in [0, 1] and are left alone; tabular columns can differ by orders of magnitude
(wine's proline is in the hundreds, its hue near 1), which a plain MLP trains on badly. The mean and
standard deviation are computed in float64 and a constant column (std 0) is divided by 1, not 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(x - mean) / std``, with the statistics of the data it was fitted on."""

    mean: np.ndarray  # (d,) float64
    std: np.ndarray  # (d,) float64, never 0

    @classmethod
    def fit(cls, train_features) -> Standardizer:
        """Mean and std per column of ``train_features`` (n, d), n >= 1."""
        x = np.asarray(train_features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"features of shape {x.shape}; expected (n, d) with n >= 1")
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, x) -> np.ndarray:
        """``x`` (n, d) standardised, as float32."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"features of shape {x.shape}; this standardizer expects (n, {self.mean.shape[0]})")
        return ((x - self.mean) / self.std).astype(np.float32)

    def as_dict(self) -> dict:
        """JSON-ready: ``{"mean": [...], "std": [...]}``."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d) -> Standardizer:
        """The inverse of :meth:`as_dict`; lists of equal length of finite numbers, std > 0."""
        if not isinstance(d, dict) or set(d) != {"mean", "std"}:
            raise ValueError("a standardizer is a dict with exactly the keys 'mean' and 'std'")
        columns = []
        for key in ("mean", "std"):
            values = d[key]
            if not isinstance(values, list) or not values or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
                raise ValueError(f"standardizer {key}: expected a non-empty list of finite numbers")
            columns.append(np.array(values, dtype=np.float64))
        mean, std = columns
        if mean.shape != std.shape:
            raise ValueError(f"standardizer mean has {mean.size} values but std has {std.size}")
        if (std <= 0).any():
            raise ValueError("standardizer std must be positive")
        return cls(mean, std)
