"""Checkpoints: exact round trips across backends, exact resumption, and refusal of every damaged,
foreign or malicious file with a message naming what is wrong."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import nnback
from nnback.checkpoint import INFO_KEY, CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from nnback.runner import ResumeError, TrainConfig, prepare
from nnback.training import TrainingInterrupted

from conftest import make_backend

SMALL = TrainConfig(layers=[784, 16, 10], epochs=3, batch_size=100, lr=0.05, val_size=0)


@pytest.fixture(scope="module")
def tiny_data(mnist_small):
    """600 training and 200 test images: enough for six steps an epoch at batch size 100."""
    cut = lambda split, n: nnback.data.Split(split.images[:n], split.labels[:n])  # noqa: E731
    return nnback.Dataset(cut(mnist_small.train, 600), cut(mnist_small.val, 0), cut(mnist_small.test, 200), "tiny")


def host_parameters(model) -> list[np.ndarray]:
    return [np.array(nnback.to_numpy(p)) for p in model.parameters()]


def save_run(path, run) -> None:
    run.save(path)


def stop_after(n_steps: int):
    calls = iter(range(1, 10**9))
    return lambda: next(calls) >= n_steps


def interrupted_run(config, data, backend, n_steps):
    run = prepare(config, data, backend=backend)
    with pytest.raises(TrainingInterrupted):
        run.fit(should_stop=stop_after(n_steps))
    return run


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_round_trip_across_backends_is_exact(tmp_path, tiny_data, backend, optimizer):
    """Saved on one backend (strict stands in for a GPU: its device is not the CPU), loaded on
    NumPy and back on the first backend, every weight and optimizer array is bit-identical."""
    config = SMALL.replace(optimizer=optimizer, dtype="float64")
    run = interrupted_run(config, tiny_data, backend, n_steps=4)
    save_run(tmp_path / "run.npz", run)
    on_numpy = load_checkpoint(tmp_path / "run.npz")
    again = load_checkpoint(tmp_path / "run.npz", backend)
    for original, host, moved in zip(run.model.parameters(), on_numpy.model.parameters(), again.model.parameters()):
        np.testing.assert_array_equal(nnback.to_numpy(original), host)
        np.testing.assert_array_equal(nnback.to_numpy(original), nnback.to_numpy(moved))
    state, loaded = run.optimizer.state(), again.optimizer_state
    for key, value in state.items():
        if isinstance(value, list):
            assert len(value) == 4 and len(loaded[key]) == 4
            for a, b in zip(value, loaded[key]):
                np.testing.assert_array_equal(nnback.to_numpy(a), nnback.to_numpy(b))
        else:
            assert loaded[key] == value  # Adam's step count t
    assert (again.position.epoch, again.position.step) == (run.position.epoch, run.position.step) == (0, 4)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("n_steps", [4, 6, 9])  # mid-epoch, at the end of epoch 1, mid-epoch 2
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, tiny_data, optimizer, n_steps):
    config = SMALL.replace(optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.05, dtype="float64")
    backend = make_backend("numpy", "float64")
    uninterrupted = prepare(config, tiny_data, backend=backend).fit()
    run = interrupted_run(config, tiny_data, backend, n_steps)
    save_run(tmp_path / "half.npz", run)
    resumed = prepare(data=tiny_data, backend=backend, resume=tmp_path / "half.npz").fit()
    for a, b in zip(host_parameters(uninterrupted.model), host_parameters(resumed.model)):
        np.testing.assert_array_equal(a, b)  # bit-exact: the same operations in the same order
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    # The reports match too, the interrupted epoch's mean training loss included.
    for a, b in zip(uninterrupted.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


def test_resume_is_exact_on_array_api_strict(tmp_path, tiny_data):
    backend = make_backend("array_api_strict", "float32")
    config = SMALL.replace(optimizer="adam", lr=0.01)
    uninterrupted = prepare(config, tiny_data, backend=backend).fit()
    run = interrupted_run(config, tiny_data, backend, n_steps=8)
    save_run(tmp_path / "half.npz", run)
    resumed = prepare(data=tiny_data, backend=backend, resume=load_checkpoint(tmp_path / "half.npz", backend)).fit()
    for a, b in zip(host_parameters(uninterrupted.model), host_parameters(resumed.model)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- damaged and foreign files


@pytest.fixture
def saved(tmp_path, tiny_data):
    """A valid checkpoint's path, its description and its arrays (NumPy, float32, Adam state)."""
    run = interrupted_run(SMALL.replace(optimizer="adam"), tiny_data, make_backend("numpy", "float32"), 3)
    path = tmp_path / "good.npz"
    save_run(path, run)
    info, arrays = read_checkpoint(path)
    return path, info, arrays


def rewrite(path, info: dict, arrays: dict) -> None:
    """Write a checkpoint-like npz with a chosen description and arrays (to damage it on purpose)."""
    payload = dict(arrays)
    payload[INFO_KEY] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    np.savez(path, **payload)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda info, a: a.pop("layers.1.b"), "array 'layers.1.b' is missing (expected shape (10,))"),
        (lambda info, a: a.update({"spare": np.zeros(3, np.float32)}), "unexpected array 'spare' of shape (3,)"),
        (lambda info, a: a.update({"layers.0.w": np.zeros((784, 15), np.float32)}),
         "array 'layers.0.w' has shape (784, 15), expected (784, 16)"),
        (lambda info, a: a.update({"optimizer.m.2": np.zeros((16, 10), np.float64)}),
         "array 'optimizer.m.2' has dtype float64, expected float32"),
        (lambda info, a: info["model"].update(sizes=[784, 32, 10]),
         "array 'layers.0.w' has shape (784, 16), expected (784, 32)"),
        (lambda info, a: info["optimizer"]["arrays"].update(m=3), "optimizer state 'm' has 3 arrays; expected 0 or 4"),
        (lambda info, a: info["model"].update(hidden=["swish"]), "unknown activation 'swish'"),
        (lambda info, a: info.update(format_version=99), "format version 99"),
        (lambda info, a: info.update(format="something-else"), "not an nnback checkpoint"),
        (lambda info, a: info["position"].update(step=-1), "position"),
        (lambda info, a: info.update(shuffle_rng_state={"bit_generator": "PCG64"}), "invalid random generator state"),
        (lambda info, a: info.update(meta=[]), "meta must be an object"),
        (lambda info, a: info.pop("model"), "missing 'model'"),
    ],
)
def test_mismatches_are_refused_naming_the_problem(saved, tmp_path, damage, message):
    path, info, arrays = saved
    damage(info, arrays)
    rewrite(tmp_path / "bad.npz", info, arrays)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "bad.npz")
    assert message in str(error.value)
    assert str(tmp_path / "bad.npz") in str(error.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable nnback checkpoint"),
        (b"PK\x03\x04 truncated zip", "not a readable nnback checkpoint"),
        (b"\x93NUMPY garbage", "not a readable nnback checkpoint"),
        (b"just some text\n", "not a readable nnback checkpoint"),
    ],
)
def test_garbage_files_are_refused(tmp_path, content, message):
    (tmp_path / "junk.npz").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path / "junk.npz")


def test_missing_file_and_missing_description(tmp_path, saved):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.npz")
    _, _, arrays = saved
    np.savez(tmp_path / "plain.npz", **arrays)
    with pytest.raises(CheckpointError, match=f"no {INFO_KEY} entry"):
        load_checkpoint(tmp_path / "plain.npz")


def test_truncated_checkpoint_is_refused(saved, tmp_path):
    path, _, _ = saved
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="not a readable nnback checkpoint"):
        load_checkpoint(tmp_path / "cut.npz")


class _Payload:
    """Unpickling this would create a file: the proof that a loader ran stored code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_object_array_is_refused_without_running_it(saved, tmp_path):
    _, info, arrays = saved
    marker = tmp_path / "pwned"
    arrays["layers.0.b"] = np.array([_Payload(str(marker))], dtype=object)
    rewrite(tmp_path / "evil.npz", info, arrays)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.npz")
    assert not marker.exists()


def test_saving_is_atomic_and_keeps_the_old_file_on_failure(saved, tmp_path, monkeypatch):
    path, _, _ = saved
    before = path.read_bytes()
    run_model = load_checkpoint(path)

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, run_model.model, run_model.optimizer_state)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.npz"]


def test_non_finite_weights_are_not_saved(saved, tmp_path):
    path, _, _ = saved
    checkpoint = load_checkpoint(path)
    checkpoint.model.layers[0].w[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        save_checkpoint(tmp_path / "nan.npz", checkpoint.model, checkpoint.optimizer_state)
    assert not (tmp_path / "nan.npz").exists()


def test_the_file_is_one_npz_of_plain_arrays_with_a_json_description(saved):
    path, info, arrays = saved
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == sorted(f"{name}.npy" for name in [*arrays, INFO_KEY])
    for name in names:  # every entry is a plain .npy array, readable without pickle
        with zipfile.ZipFile(path) as archive:
            array = np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
        assert array.dtype != object
    assert info["model"] == {"sizes": [784, 16, 10], "hidden": ["relu"], "output": "softmax"}
    assert info["optimizer"]["scalars"] == {"t": 3}
    assert info["nnback_version"] == nnback.__version__ and info["dtype"] == "float32"
    assert info["shuffle_rng_state"]["bit_generator"] == "PCG64"


def test_a_resumed_run_takes_its_hyperparameters_from_the_new_config(tmp_path, tiny_data):
    """The checkpoint restores optimizer *state*; --lr on resume (the notebooks' "then 0.5") applies."""
    config = SMALL.replace(schedule="constant", dtype="float64")
    backend = make_backend("numpy", "float64")
    save_run(tmp_path / "half.npz", interrupted_run(config, tiny_data, backend, n_steps=6))
    same = prepare(data=tiny_data, backend=backend, resume=tmp_path / "half.npz")
    slower = prepare(data=tiny_data, backend=backend, resume=tmp_path / "half.npz", changes={"lr": 0.005})
    assert (same.optimizer.lr, slower.optimizer.lr) == (0.05, 0.005)
    same.fit(), slower.fit()
    assert not np.array_equal(host_parameters(same.model)[0], host_parameters(slower.model)[0])


def test_resume_rules_hold_whichever_door(saved, tiny_data):
    """The library refuses what the CLI refuses: another optimizer, network, dtype or data."""
    path = saved[0]  # an Adam run of [784, 16, 10] in float32
    for changes, message in [({"optimizer": "momentum"}, "optimizer momentum differs"),
                             ({"layers": [784, 32, 10]}, "layers 784,32,10 differs"),
                             ({"dtype": "float64"}, "dtype float64 differs"),
                             ({"seed": 3}, "seed 3 differs")]:
        with pytest.raises(ResumeError, match=message):
            prepare(data=tiny_data, resume=path, changes=changes)
    other = nnback.Dataset(tiny_data.train, tiny_data.val, nnback.data.Split(tiny_data.test.images[:100],
                                                                            tiny_data.test.labels[:100]), "other")
    with pytest.raises(ResumeError, match="differs from the data the checkpoint was trained on"):
        prepare(data=other, resume=path)
    with pytest.raises(ValueError, match="empty path"):
        prepare(resume="")


def test_a_forged_configuration_is_refused_on_resume(saved, tmp_path, tiny_data):
    path, info, arrays = saved
    info["meta"]["config"]["lr"] = "fast"
    rewrite(tmp_path / "lr.npz", info, arrays)
    with pytest.raises(CheckpointError, match=r"damaged configuration \(lr must be a positive number, got 'fast'\)"):
        prepare(data=tiny_data, resume=tmp_path / "lr.npz")
    info["meta"]["config"].update(lr=0.01, optimizer="momentum")  # Adam's state under a momentum config
    rewrite(tmp_path / "kind.npz", info, arrays)
    with pytest.raises((CheckpointError, ResumeError), match="momentum"):
        prepare(data=tiny_data, resume=tmp_path / "kind.npz")
