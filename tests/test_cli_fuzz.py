"""Property test: random values for ``nnback train``'s options end in success, a one-line input error
(exit 2), or a one-line divergence message; never a traceback or an unexplained failure.

Run with ``--hypothesis-show-statistics`` to see how many cases ran and how they ended.
"""

from __future__ import annotations

import math
import os

import pytest
from click.testing import CliRunner

from nnback.activations import ACTIVATIONS
from nnback.cli import main
from nnback.initializers import INITIALIZERS
from nnback.losses import LOSSES
from nnback.optimizers import OPTIMIZERS

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

junk = st.text(max_size=6)
finite = st.floats(-10.0, 10.0) | st.sampled_from([0.0, 1e-3, 0.05, 1e6, -1e-9])
anything_float = finite | st.sampled_from([math.nan, math.inf, -math.inf])


def option(strategy):
    """Mostly a value of the right type, sometimes arbitrary text."""
    return st.one_of(strategy.map(str), strategy.map(str), strategy.map(str), junk)


def names(valid):
    return st.sampled_from([*valid, "nonsense", ""])


layer_sizes = st.one_of(
    st.lists(st.integers(1, 24), max_size=2).map(lambda hidden: ",".join(map(str, [784, *hidden, 10]))),
    st.lists(st.integers(-3, 800), max_size=4).map(lambda sizes: ",".join(map(str, sizes))),
    junk,
)

OPTIONS = {
    "--layers": layer_sizes,
    "--epochs": option(st.integers(-2, 2)),
    "--batch-size": option(st.integers(-3, 1300)),
    "--val-size": option(st.integers(-3, 1300)),
    "--eval-every": option(st.integers(-1, 3)),
    "--seed": option(st.integers(-3, 2**70)),
    "--lr": option(anything_float),
    "--momentum": option(anything_float),
    "--weight-decay": option(anything_float),
    "--activation": names(ACTIVATIONS),
    "--output-activation": names(ACTIVATIONS),
    "--loss": names(LOSSES),
    "--init": names(INITIALIZERS),
    "--optimizer": names(OPTIMIZERS),
    "--schedule": names(["constant", "cosine", "step"]),
    "--dtype": names(["float32", "float64", "float16"]),
}


@st.composite
def train_options(draw) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), unique=True, max_size=7))
    args = []
    for name in chosen:
        args += [name, draw(OPTIONS[name])]
    if draw(st.booleans()):
        args += ["--val-size", str(draw(st.integers(0, 300)))]  # usually a size the small data set allows
    if draw(st.integers(0, 9)) == 0:
        args.append("--full-batch")
    return args


def outcome(result) -> str:
    """Classify a run; fail on anything that is not a clean outcome."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 0:
        assert "test accuracy" in result.output
        return "success"
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    if result.exit_code == 1:
        assert "training diverged" in errors[0], result.output
        return "diverged"
    assert result.exit_code == 2, result.output
    assert "debug" not in errors[0], result.output  # an unexpected exception would suggest --debug
    return "input error"


# NNBACK_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite quick.
EXAMPLES = int(os.environ.get("NNBACK_FUZZ_EXAMPLES", "120"))


@hypothesis.settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(args=train_options())
def test_random_train_options_end_cleanly(small_mnist_dir, args):
    base = ["train", "--data", str(small_mnist_dir), "--layers", "784,8,10", "--epochs", "1", "--quiet"]
    result = CliRunner().invoke(main, base + args)
    hypothesis.event(outcome(result))
