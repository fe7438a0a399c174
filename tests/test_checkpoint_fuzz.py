"""Property tests: random, mutated and truncated checkpoint files, and checkpoints whose description
has one value replaced by arbitrary JSON, either load or raise CheckpointError; nothing else.

Run with ``--hypothesis-show-statistics`` to see the case counts and outcomes.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import nnback
from conftest import draw_mutation
from nnback.checkpoint import INFO_KEY, Checkpoint, CheckpointError, load_checkpoint, read_checkpoint
from nnback.runner import TrainConfig, prepare
from nnback.training import TrainingInterrupted

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
EXAMPLES = int(os.environ.get("NNBACK_FUZZ_EXAMPLES", "150"))
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, deadline=None,
                               suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def valid(mnist_small, tmp_path_factory):
    """A small valid checkpoint (Adam, mid-epoch): its bytes, description and arrays."""
    config = TrainConfig(layers=[784, 4, 10], epochs=2, batch_size=200, optimizer="adam", lr=0.01, val_size=0)
    run = prepare(config, mnist_small)  # the front door, as the CLI and nnback.train use it
    steps = iter(range(100))
    with pytest.raises(TrainingInterrupted):
        run.fit(should_stop=lambda: next(steps) >= 3)
    path = tmp_path_factory.mktemp("valid") / "valid.npz"
    run.save(path)
    info, arrays = read_checkpoint(path)
    return path.read_bytes(), info, arrays


def loads_or_refuses(path) -> str:
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return "refused"
    assert isinstance(checkpoint, Checkpoint)
    return "loaded"


@SETTINGS
@hypothesis.given(data=st.data())
def test_mutated_bytes_load_or_are_refused(valid, tmp_path, data):
    kind, raw = draw_mutation(data, valid[0], max_flips=8, max_random=2000)
    path = tmp_path / "mutated.npz"
    path.write_bytes(raw)
    hypothesis.event(f"{kind}: {loads_or_refuses(path)}")


def _paths(value, prefix=()):
    """Every key path into a JSON value (dict keys and list indices)."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*prefix, key))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**130), 2**130) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)


@SETTINGS
@hypothesis.given(data=st.data())
def test_a_description_with_any_value_replaced_loads_or_is_refused(valid, tmp_path, data):
    _, info, arrays = valid
    info = json.loads(json.dumps(info))
    path = data.draw(st.sampled_from([p for p in _paths(info) if p]))
    parent = info
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = data.draw(json_values)
    payload = {**arrays, INFO_KEY: np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)}
    np.savez(tmp_path / "edited.npz", **payload)
    hypothesis.event(f"{path[0]}: {loads_or_refuses(tmp_path / 'edited.npz')}")
    assert nnback.__version__  # the package is intact after whatever was loaded
