"""Feature standardisation for tabular data, fitted on the training set and stored with the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """(x − mean) / std per feature; a constant feature gets std 1."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features) -> "Standardizer":
        values = np.asarray(features, dtype=np.float64)
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, features) -> np.ndarray:
        return ((np.asarray(features, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def as_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values) -> "Standardizer":
        try:
            mean, std = (np.asarray(values[key], dtype=np.float64) for key in ("mean", "std"))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"feature standardiser: expected lists 'mean' and 'std' ({error})") from None
        if mean.ndim != 1 or mean.shape != std.shape or not (np.isfinite(mean).all() and np.isfinite(std).all()) \
                or not (std > 0).all():
            raise ValueError("feature standardiser: 'mean' and 'std' must be equal-length lists of finite numbers, std > 0")
        return cls(mean, std)
