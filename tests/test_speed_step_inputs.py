"""A step that can be captured: everything that changes from step to step reaches it through device
buffers refilled in place (the batch's row indices, the noise key, the running loss), and keys
derived on the device are the host's keys bit for bit — so the loop built this way trains exactly
the weights of a loop that hands the step Python ints and fresh slices, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import nnback
from conftest import make_backend
from nnback import rng, training
from nnback.augment import get_augmentation
from nnback.losses import get_loss
from nnback.model import MLP
from nnback.optimizers import make_optimizer
from nnback.training import AUGMENT_STREAM, Batches, Position, train_epoch, train_step

KEY = rng.stream_key(3, 1, 4)


def device_key(backend, key: int, start: int = 0, total: int | None = None) -> rng.DeviceKey:
    device_key = rng.DeviceKey.on(backend.xp, backend.device)
    device_key.set(key)
    return device_key if total is None else device_key.rows(start, total)


@pytest.mark.parametrize("parts", [(), (0,), (7, AUGMENT_STREAM), (2**64 - 1, 5, 6)])
def test_keys_derived_on_the_device_are_the_host_keys(backend_name, parts):
    backend = make_backend(backend_name, "float32")
    host = rng.stream_key(KEY, *parts) if parts else KEY
    derived = rng.stream_key(device_key(backend, KEY), *parts) if parts else device_key(backend, KEY)
    bits = int(nnback.to_numpy(derived.bits)[0])
    assert bits % 2**64 == host  # int64 on torch holds the same 64 bits


@pytest.mark.parametrize("rows", [None, (3, 9)])
def test_every_draw_from_a_device_key_is_the_draw_from_its_host_key(backend_name, rows):
    """Integers, uniforms and dropout masks, for a whole batch and for a shard of one."""
    backend = make_backend(backend_name, "float32")
    start, total = rows or (0, None)
    host = rng.ShardKey(KEY, start, total) if rows else KEY
    device = device_key(backend, KEY, start, total)
    xp, dev = backend.xp, backend.device
    ones = backend.asarray(np.ones((4, 6), np.float32))
    assert isinstance(rng.stream_key(device, 2), rng.DeviceKey)  # derived on the device
    draws = [[nnback.to_numpy(f(k)) for k in (rng.stream_key(host, 2), rng.stream_key(device, 2))] for f in (
        lambda k: rng.random_integers(xp, (2, 4), k, 5, dev, batch_axis=1),
        lambda k: rng.uniform(xp, (4, 6), k, xp.float32, dev),
        lambda k: rng.keep_mask(ones, 0.3, k))]
    for from_host, from_device in draws:
        np.testing.assert_array_equal(from_device, from_host)


def reference_epochs(backend, epochs: int, setup, seed: int = 0) -> list[np.ndarray]:
    """The loop as it was before the step inputs moved to the device: Python-int keys, a fresh
    slice of the permutation per step, the loss summed into a new array each step."""
    model, loss, optimizer, batches, augment, schedule = setup(backend)
    for epoch in range(epochs):
        order = backend.xp.asarray(batches.rng.permutation(batches.n), device=backend.device)
        steps = batches.steps_per_epoch
        for step, start in enumerate(range(0, batches.n, batches.batch_size)):
            optimizer.lr = schedule(epoch + step / steps)
            index = order[start:min(start + batches.batch_size, batches.n)]
            xb, yb = backend.xp.take(batches.x, index, axis=0), backend.xp.take(batches.y, index, axis=0)
            key = rng.stream_key(seed, epoch, step)
            xb = augment(xb, rng.stream_key(key, AUGMENT_STREAM))
            train_step(model, loss, optimizer, xb, yb, key)
    return [nnback.to_numpy(p) for p in model.parameters()]


def noisy_setup(optimizer_name: str):
    def setup(backend):
        data = np.random.default_rng(0)
        x = backend.asarray(data.random((70, 64), dtype=np.float32))
        y = backend.xp.asarray(data.integers(0, 4, 70), device=backend.device)
        model = MLP.create([64, 12, 4], backend, np.random.default_rng(1), dropout=[0.2, 0.3])
        optimizer = make_optimizer(optimizer_name, 0.05, momentum=0.9)
        batches = Batches(x, y, 16, np.random.default_rng(2))  # 5 steps, the last of 6 rows
        return (model, get_loss("cross-entropy"), optimizer, batches, get_augmentation("translate", (8, 8)),
                lambda t: 0.05 * (1.0 - t / 4))
    return setup


@pytest.mark.parametrize("optimizer_name", ["momentum", "adam"])
def test_the_loop_on_device_buffers_trains_the_weights_of_the_host_keyed_loop(backend_name, optimizer_name):
    backend = make_backend(backend_name, "float32")
    setup = noisy_setup(optimizer_name)
    model, loss, optimizer, batches, augment, schedule = setup(backend)
    position = Position()
    for _ in range(2):
        train_epoch(model, loss, optimizer, batches, position, schedule=schedule, augment=augment)
    ours = [nnback.to_numpy(p) for p in model.parameters()]
    for a, b in zip(ours, reference_epochs(backend, 2, setup)):
        np.testing.assert_array_equal(a, b)


def test_every_step_reads_the_same_buffers(monkeypatch):
    """What a captured step would read — the key and the batch's indices — lives at one address
    per batch length for the whole run, and the running loss is one array summed in place."""
    backend = make_backend("numpy", "float32")
    model, loss, optimizer, batches, augment, schedule = noisy_setup("momentum")(backend)
    keys, indices = [], []
    gather = Batches.gather

    def recording_gather(self, index):
        indices.append(index)
        return gather(self, index)

    def recording_step(model, loss, optimizer, x, y, noise_key=None, *args, **kwargs):
        keys.append(noise_key.bits)
        return train_step(model, loss, optimizer, x, y, noise_key, *args, **kwargs)

    monkeypatch.setattr(Batches, "gather", recording_gather)
    monkeypatch.setattr(training, "train_step", recording_step)
    position = Position()
    train_epoch(model, loss, optimizer, batches, position, schedule=schedule, augment=augment)
    assert len(keys) == 5 and all(key is keys[0] for key in keys)
    assert all(index is indices[0] for index in indices[:4]) and indices[4] is not indices[0]
    assert [int(i.shape[0]) for i in indices] == [16, 16, 16, 16, 6]
    total = position.loss_sum
    train_epoch(model, loss, optimizer, batches, position, schedule=schedule, augment=augment)
    assert float(position.loss_sum) > float(total) > 0.0  # summed over both epochs (no report between)


class ReplayGraphs:
    """CUDA-graph semantics on the host, for the loop around a captured step: per batch shape, the
    first step runs as given, the second is recorded and every later one replays the *recorded*
    step — so a value that changes between steps but was handed to the step as a Python value,
    not through a device buffer, replays stale and the weights come out different."""

    def __init__(self):
        self.replays, self.note = 0, None
        self.reset()

    def reset(self):
        self.recorded, self.warm = {}, set()

    def context(self):
        from contextlib import nullcontext

        return nullcontext()

    def run(self, shape, step) -> None:
        if shape not in self.warm:
            self.warm.add(shape)
        elif shape not in self.recorded:
            self.recorded[shape] = step
        else:
            self.replays += 1
        self.recorded.get(shape, step)()


@pytest.mark.parametrize("optimizer_name", ["nesterov", "adam"])
def test_replaying_recorded_steps_trains_the_weights_of_the_plain_loop(backend_name, optimizer_name):
    """Two epochs with dropout, shifts, a schedule and a short last batch, reported every epoch:
    the run whose steps are recorded once per batch shape and replayed is the plain run, bit for
    bit, losses included."""
    backend = make_backend(backend_name, "float32")
    runs = []
    for graphs in (None, ReplayGraphs()):
        model, loss, optimizer, batches, augment, schedule = noisy_setup(optimizer_name)(backend)
        history = training.fit(model, loss, optimizer, batches, 3, schedule=schedule, augment=augment,
                               graphs=graphs, noise_seed=4)
        runs.append(([nnback.to_numpy(p) for p in model.parameters()], [h["train_loss"] for h in history]))
    assert graphs.replays == 3 * 5 - 4  # two shapes: each ran once, was recorded once, replayed after
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]


def test_a_step_value_handed_over_by_python_replays_stale(monkeypatch):
    """The check above can fail: hand the step each batch's own slice of the permutation instead of
    refilling the index buffer, and the replays train on stale batches."""
    backend = make_backend("numpy", "float32")
    load = training.StepInputs.load

    def fresh_index(self, index, key, loss_sum):
        load(self, index, key, loss_sum)
        return index  # a new array every step, not the buffer

    runs = []
    for graphs in (None, ReplayGraphs()):
        model, loss, optimizer, batches, augment, schedule = noisy_setup("momentum")(backend)
        if graphs:
            monkeypatch.setattr(training.StepInputs, "load", fresh_index)
        training.fit(model, loss, optimizer, batches, 2, schedule=schedule, graphs=graphs)
        runs.append(nnback.to_numpy(model.parameters()[0]))
    assert not np.array_equal(runs[0], runs[1])
