"""Standardizer: fitted statistics, float32 output, and a JSON round trip that refuses bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnback.features import Standardizer


def test_fit_and_apply_give_zero_mean_unit_std_and_leave_constant_columns_finite():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(1000, 300, 50), rng.normal(0.5, 0.01, 50), np.full(50, 7.0)]).astype(np.float32)
    scaler = Standardizer.fit(x)
    z = scaler.apply(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-5)  # float32 output of float64 statistics
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(z[:, 2], 0)  # std 0 divides by 1


def test_json_round_trip_is_exact():
    scaler = Standardizer.fit(np.random.default_rng(1).normal(size=(20, 4)))
    again = Standardizer.from_dict(json.loads(json.dumps(scaler.as_dict())))
    np.testing.assert_array_equal(again.mean, scaler.mean)
    np.testing.assert_array_equal(again.std, scaler.std)


@pytest.mark.parametrize("d, fragment", [
    ({"mean": [0.0, 1.0], "std": [1.0]}, "2 values but std has 1"),
    ({"mean": [0.0, float("nan")], "std": [1.0, 1.0]}, "finite numbers"),
    ({"mean": [0.0], "std": [0.0]}, "positive"),
    ({"mean": ["0"], "std": [1.0]}, "finite numbers"),
    ({"mean": []}, "exactly the keys"),
    ([1, 2], "exactly the keys"),
])
def test_from_dict_refuses_bad_input(d, fragment):
    with pytest.raises(ValueError, match=fragment):
        Standardizer.from_dict(d)


def test_apply_refuses_the_wrong_width():
    with pytest.raises(ValueError, match=r"expects \(n, 3\)"):
        Standardizer.fit(np.ones((4, 3))).apply(np.ones((2, 2)))
