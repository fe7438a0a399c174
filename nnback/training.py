"""Training: batch sources, one shared step, the fit loop and evaluation.

Full-batch gradient descent and mini-batch SGD are the same :func:`fit` with a different batch
source. The loop never syncs with the host inside an epoch: step losses are summed on the device
and read once per report. The core never prints; it returns a history and calls ``on_report``.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from array_api_compat import device as device_of

from .arrays import array_namespace
from .rng import DeviceKey, stream_key

AUGMENT_STREAM = 1 << 20  # the augmentation's key within a step's key (dropout uses layer numbers)


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, step: int, lr: float):
        self.epoch, self.step = epoch, step
        super().__init__(
            f"training diverged: the loss is NaN or infinite in epoch {epoch} (by step {step}); "
            f"try a smaller learning rate than {lr:g}"
        )


class TrainingInterrupted(Exception):
    """``should_stop`` asked the loop to stop; the model is consistent after ``position``'s step."""

    def __init__(self, position: "Position"):
        self.position = position
        super().__init__(f"interrupted in epoch {position.epoch + 1} after step {position.step}")


@dataclass
class Position:
    """Where training stands: ``epoch`` rounds completed, ``step`` steps done in the next one, the
    shuffle generator's state at the start of that round (so its batch order can be redrawn), and
    the summed loss of the steps since the last report (so a resumed run reports the same loss; a
    0-d device array while training, read to a float only at a report or an interrupt)."""

    epoch: int = 0
    step: int = 0
    rng_state: dict | None = None
    loss_sum: float = 0.0
    loss_steps: int = 0


@dataclass
class Batches:
    """The training set and how to cut it: ``batch_size=None`` means full batch. ``w`` holds
    optional per-sample loss weights (n,); with them each batch is (xb, yb, wb). ``shuffle=False``
    keeps the data's order in every epoch."""

    x: Any
    y: Any
    batch_size: int | None = None
    rng: Any = None
    shard: tuple[int, int] | None = None  # (rank, ranks): yield only this rank's rows of each batch
    w: Any = None  # per-sample loss weights, cut into batches with x and y
    shuffle: bool = True
    _xp: Any = field(default=None, init=False, repr=False, compare=False)  # the data's namespace, once

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def steps_per_epoch(self) -> int:
        return 1 if self.batch_size is None else math.ceil(self.n / self.batch_size)

    def epoch(self, skip: int = 0):
        """Yield (xb, yb) for one pass, drawing a fresh permutation from the host generator.

        Each mini-batch is gathered by its slice of the permutation. That beat taking one shuffled
        copy of the data per epoch and slicing it by 2-10% per epoch (benchmarks/), and it needs
        no second copy of the training set in memory.
        """
        for index, _, _ in self.plan(skip):
            xb, yb, wb = self.gather(index)
            yield (xb, yb) if wb is None else (xb, yb, wb)

    def plan(self, skip: int = 0):
        """Yield (index, first, rows) for one pass: the device row indices of this rank's part
        ``first .. first + len(index)`` of each batch of ``rows`` (the whole batch unless ``shard``
        is set). In full batch ``index`` is a slice instead (None: every row), as the data needs no
        gather then. Without ``shuffle`` the batches follow the data's order."""
        xp = self._xp = array_namespace(self.x, self.y)
        if self.batch_size is None and self.shard is None:
            yield None, 0, self.n
            return
        if self.batch_size is not None and self.rng is None and self.shuffle:
            raise ValueError("mini-batches need a shuffle generator: Batches(x, y, batch_size, rng)")
        rank, ranks = self.shard or (0, 1)
        if self.batch_size is None:
            first, last = self.n * rank // ranks, self.n * (rank + 1) // ranks
            yield slice(first, last), first, self.n
            return
        order = (xp.asarray(self.rng.permutation(self.n), device=device_of(self.x)) if self.shuffle
                 else xp.arange(self.n, device=device_of(self.x)))
        for start in range(skip * self.batch_size, self.n, self.batch_size):
            rows = min(self.batch_size, self.n - start)
            first, last = rows * rank // ranks, rows * (rank + 1) // ranks
            yield order[start + first : start + last], first, rows

    def gather(self, index) -> tuple:
        """(xb, yb, wb): the rows ``index`` (None: all; or a slice) of the data and the weights
        (wb None without weights)."""
        if index is None:
            return self.x, self.y, self.w
        if isinstance(index, slice):
            return self.x[index, :], self.y[index], None if self.w is None else self.w[index]
        xp = self._xp or array_namespace(self.x, self.y)
        wb = None if self.w is None else xp.take(self.w, index, axis=0)
        return xp.take(self.x, index, axis=0), xp.take(self.y, index, axis=0), wb


@dataclass
class StepInputs:
    """What changes from one training step to the next, held in device arrays that are refilled in
    place before each step, so that a captured step (a CUDA graph) reads them by address: the
    batch's row indices (one buffer per batch length), the noise key, and the running loss, summed
    in place. The learning rate and Adam's factors are the optimizer's own device scalars. One
    object serves a whole :func:`fit`; ``graphs`` is the backend's step capture, if any."""

    key: DeviceKey
    loss_sum: Any
    index: dict = field(default_factory=dict)
    graphs: Any = None

    @classmethod
    def like(cls, parameter, graphs=None) -> "StepInputs":
        """Buffers on the device of the model's ``parameter``, the running loss in its dtype.
        ``graphs`` is reset: graphs captured with other buffers must never replay with these."""
        xp, device = array_namespace(parameter), device_of(parameter)
        if graphs is not None:
            graphs.reset()
        return cls(DeviceKey.on(xp, device), xp.zeros((), dtype=parameter.dtype, device=device), graphs=graphs)

    def load(self, index, key: int, loss_sum):
        """Refill the buffers for the next step: ``index`` (None or a slice: no gather needed), the
        host key, and the running loss when the caller's sum (``position.loss_sum``) is not this
        one (a new run, or a report that set it to 0.0); return the index buffer."""
        self.key.set(key)
        if loss_sum is not self.loss_sum:
            self.loss_sum[...] = loss_sum
        if index is None or isinstance(index, slice):
            return index
        buffer = self.index.get(int(index.shape[0]))
        if buffer is None:
            buffer = self.index[int(index.shape[0])] = array_namespace(index).empty_like(index)
        buffer[...] = index
        return buffer


def train_step(model, loss, optimizer, x, y, noise_key=None, reduce=None, share: float = 1.0, *, weights=None):
    """One forward, backward and update; returns the batch loss as a 0-d device array.

    ``noise_key`` (an int or a ``rng.DeviceKey``) seeds this step's dropout masks; None means no
    dropout.
    ``reduce(model, value, share)``, in data-parallel training, combines the gradients and loss of
    this shard (``share`` of the batch's rows; it may have none) with the other ranks' before the
    update and returns the batch loss. ``weights`` (batch,) multiply each sample's loss in the
    batch mean (see ``losses.py``).
    """
    optimizer.begin_step(model.parameters())
    return device_step(model, loss, optimizer, x, y, noise_key, reduce, share, weights=weights)


def device_step(model, loss, optimizer, x, y, noise_key=None, reduce=None, share: float = 1.0, *, weights=None):
    """:func:`train_step` after the optimizer's host part (``optimizer.begin_step``): only device
    work, which a CUDA graph can capture and replay."""
    value = None
    if x.shape[0] or reduce is None:
        z = model.forward(x, train=True, noise_key=noise_key)
        value, dz = loss.value_and_grad(z, y, model.output) if weights is None else \
            loss.value_and_grad(z, y, model.output, weights)
        model.backward(dz)
    if reduce is not None:
        value = reduce(model, value, share)
    optimizer.update(model.parameters(), model.gradients())
    return value


def evaluate(model, loss, x, y, chunk: int = 10_000) -> dict:
    """Mean loss and accuracy over (x, y), in chunks to bound memory; reads the host once."""
    xp = array_namespace(x, y)
    n = int(x.shape[0])
    if n == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    total_loss, total_correct = 0.0, 0  # an int start: strict refuses float + int64 array
    for start in range(0, n, chunk):
        xb, yb = x[start : min(start + chunk, n), :], y[start : min(start + chunk, n)]
        z = model.forward(xb)
        value, _ = loss.value_and_grad(z, yb, model.output)
        total_loss = total_loss + value * yb.shape[0]
        predicted = xp.argmax(model.output.forward(z), axis=1)
        total_correct = total_correct + xp.sum(xp.astype(predicted == yb, xp.int64))
    return {"loss": float(total_loss) / n, "accuracy": float(total_correct) / n}


class EarlyStopping:
    """Stop when validation accuracy has not improved for ``patience`` reports, and put back the
    parameters of the best report (copied on the device, so no host round trip)."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.waited = patience, -1.0, 0, 0
        self.best_parameters: list = []
        self.stopped = False

    def update(self, model, stats: dict) -> bool:
        """Record a report; True when it is time to stop."""
        accuracy = stats.get("val_accuracy")
        if accuracy is None:
            return False
        if accuracy > self.best:
            self.best, self.best_epoch, self.waited = accuracy, stats["epoch"], 0
            self.best_parameters = model.copy_parameters()
            return False
        self.waited += 1
        self.stopped = self.waited >= self.patience
        return self.stopped

    def restore(self, model) -> None:
        """Copy the best parameters back into the model's own arrays."""
        if self.best_parameters:
            model.load_parameters(self.best_parameters)


@dataclass
class Evaluation:
    """Named (x, y) sets evaluated at each report, e.g. {"val": (x, y), "test": (x, y)}."""

    sets: dict = field(default_factory=dict)

    def __call__(self, model, loss) -> dict:
        stats = {}
        for name, (x, y) in self.sets.items():
            if int(x.shape[0]):
                result = evaluate(model, loss, x, y)
                stats[f"{name}_loss"], stats[f"{name}_accuracy"] = result["loss"], result["accuracy"]
        return stats


def fit(
    model,
    loss,
    optimizer,
    batches: Batches,
    epochs: int,
    *,
    evaluation: Evaluation | None = None,
    report_every: int = 1,
    schedule: Callable[[float], float] | None = None,
    on_report: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    position: Position | None = None,
    noise_seed: int = 0,
    augment: Callable | None = None,
    early_stopping: EarlyStopping | None = None,
    reduce: Callable | None = None,
    graphs=None,
) -> list[dict]:
    """Train for ``epochs`` rounds (passes over the data; iterations when full batch).

    Every ``report_every`` rounds (and after the last) it evaluates, appends
    ``{"epoch", "train_loss", "<set>_accuracy", "<set>_loss", "seconds", "lr"}`` to the history and
    calls ``on_report``. ``seconds`` is the wall time of the training steps alone. ``schedule``
    maps the fractional epoch to a learning rate. ``position`` resumes a run mid-way and is kept
    current, so an interrupted run can be saved and resumed exactly. Dropout masks and
    ``augment(x, key)`` draw from keys of (``noise_seed``, epoch, step), so they too resume exactly.
    ``reduce`` combines the ranks' gradients in data-parallel training (see :func:`train_step`).
    ``graphs`` (a backend's step capture, ``Backend.step_graphs()``) replays each step's device
    work as a captured graph; the loop around it is the same.
    """
    position = position if position is not None else Position()
    evaluation = evaluation or Evaluation()
    history: list[dict] = []
    seconds = 0.0
    with graphs.context() if graphs is not None else nullcontext():
        inputs = StepInputs.like(model.parameters()[0], graphs)
        while position.epoch < epochs:
            started = time.perf_counter()
            train_epoch(model, loss, optimizer, batches, position, schedule=schedule, noise_seed=noise_seed,
                        augment=augment, on_step=on_step, should_stop=should_stop, reduce=reduce, inputs=inputs)
            if position.epoch % report_every and position.epoch < epochs:
                seconds += time.perf_counter() - started
                continue
            train_loss = float(position.loss_sum) / position.loss_steps  # the one host sync per report
            seconds += time.perf_counter() - started
            if not math.isfinite(train_loss):
                raise TrainingDiverged(position.epoch, position.loss_steps, optimizer.lr)
            stats = {"epoch": position.epoch, "train_loss": train_loss, **evaluation(model, loss)}
            stats.update(seconds=seconds, lr=optimizer.lr)
            history.append(stats)
            if on_report is not None:
                on_report(stats)
            seconds, position.loss_sum, position.loss_steps = 0.0, 0.0, 0
            if early_stopping is not None and early_stopping.update(model, stats):
                break
            if should_stop is not None and should_stop() and position.epoch < epochs:
                raise TrainingInterrupted(position)
    if early_stopping is not None:
        early_stopping.restore(model)
    return history


def train_epoch(model, loss, optimizer, batches: Batches, position: Position, *, schedule=None, noise_seed: int = 0,
                augment=None, on_step=None, should_stop=None, reduce=None, inputs: StepInputs | None = None) -> None:
    """The rest of the epoch ``position`` stands in: one :func:`train_step` per batch, the learning
    rate from ``schedule``, noise keyed by (seed, epoch, step). What changes from step to step is
    written into device buffers (``inputs``, made here if not given) before the step reads it.
    Step losses are summed on the device into ``position.loss_sum``; the host reads them only when
    ``should_stop`` interrupts."""
    if batches.rng is not None:
        if position.step == 0 or position.rng_state is None:
            position.rng_state = batches.rng.bit_generator.state
        else:
            batches.rng.bit_generator.state = position.rng_state
    steps = batches.steps_per_epoch
    inputs = inputs if inputs is not None else StepInputs.like(model.parameters()[0])
    for index, first, rows in batches.plan(skip=position.step):
        if schedule is not None:
            optimizer.lr = schedule(position.epoch + position.step / steps)
        index = inputs.load(index, stream_key(noise_seed, position.epoch, position.step), position.loss_sum)
        position.loss_sum = inputs.loss_sum
        if inputs.graphs is None:
            _step(model, loss, optimizer, batches, inputs, index, first, rows, augment, reduce, train_step)
        else:  # the host's part here, the device's part captured once per batch shape, then replayed
            optimizer.begin_step(model.parameters())
            shape = (None if index is None else (index.start, index.stop) if isinstance(index, slice)
                     else int(index.shape[0]))  # hashable: a slice is not before Python 3.12
            inputs.graphs.run((shape, first, rows), partial(_step, model, loss, optimizer, batches, inputs, index,
                                                           first, rows, augment, reduce, device_step))
        position.loss_steps += 1
        position.step += 1
        if on_step is not None:
            on_step(position.step, steps)
        if should_stop is not None and should_stop() and position.step < steps:
            position.loss_sum = float(inputs.loss_sum)  # one sync, on the way out
            raise TrainingInterrupted(position)
    position.epoch, position.step = position.epoch + 1, 0


def _step(model, loss, optimizer, batches: Batches, inputs: StepInputs, index, first: int, rows: int, augment, reduce,
          step_function) -> None:
    """One step that reads everything that changes between steps from ``inputs``' buffers: the
    gather of the batch, its augmentation and noise, ``step_function`` (:func:`train_step`, or
    :func:`device_step` under a graph), and the running loss, summed in place."""
    xb, yb, wb = batches.gather(index)
    # A shard's rows draw the noise they get in the whole batch.
    key = inputs.key if batches.shard is None else inputs.key.rows(first, rows)
    if augment is not None and xb.shape[0]:
        xb = augment(xb, stream_key(key, AUGMENT_STREAM))
    share = xb.shape[0] / rows
    inputs.loss_sum += step_function(model, loss, optimizer, xb, yb, key, reduce, share, weights=wb)
