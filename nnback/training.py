"""Training: batch sources, one shared step, the fit loop and evaluation.

Full-batch gradient descent and mini-batch SGD are the same :func:`fit` with a different batch
source. The loop never syncs with the host inside an epoch: step losses are summed on the device
and read once per report. The core never prints; it returns a history and calls ``on_report``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from array_api_compat import array_namespace
from array_api_compat import device as device_of

from .rng import ShardKey, stream_key

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
        for xb, yb, wb, _, _ in self.shards(skip):
            yield (xb, yb) if wb is None else (xb, yb, wb)

    def shards(self, skip: int = 0):
        """Yield (xb, yb, wb, first, rows) for one pass: this rank's rows ``first .. first + len(xb)``
        of each batch of ``rows`` (the whole batch unless ``shard`` is set); ``wb`` is None without
        weights. Without ``shuffle`` the batches follow the data's order."""
        xp = array_namespace(self.x, self.y)
        if self.batch_size is None and self.shard is None:
            yield self.x, self.y, self.w, 0, self.n
            return
        if self.batch_size is not None and self.rng is None and self.shuffle:
            raise ValueError("mini-batches need a shuffle generator: Batches(x, y, batch_size, rng)")
        size = self.n if self.batch_size is None else self.batch_size
        order = None
        if self.batch_size is not None:
            order = (xp.asarray(self.rng.permutation(self.n), device=device_of(self.x)) if self.shuffle
                     else xp.arange(self.n, device=device_of(self.x)))
        rank, ranks = self.shard or (0, 1)
        for start in range(skip * size, self.n, size):
            rows = min(size, self.n - start)
            first, last = rows * rank // ranks, rows * (rank + 1) // ranks
            if order is None:
                wb = None if self.w is None else self.w[first:last]
                yield self.x[first:last, :], self.y[first:last], wb, first, rows
                continue
            index = order[start + first : start + last]
            wb = None if self.w is None else xp.take(self.w, index, axis=0)
            yield xp.take(self.x, index, axis=0), xp.take(self.y, index, axis=0), wb, first, rows


def train_step(model, loss, optimizer, x, y, noise_key: int | None = None, reduce=None, share: float = 1.0, *,
               weights=None):
    """One forward, backward and update; returns the batch loss as a 0-d device array.

    ``noise_key`` seeds this step's dropout masks (see ``rng.py``); None means no dropout.
    ``reduce(model, value, share)``, in data-parallel training, combines the gradients and loss of
    this shard (``share`` of the batch's rows; it may have none) with the other ranks' before the
    update and returns the batch loss. ``weights`` (batch,) multiply each sample's loss in the
    batch mean (see ``losses.py``).
    """
    value = None
    if x.shape[0] or reduce is None:
        z = model.forward(x, train=True, noise_key=noise_key)
        value, dz = loss.value_and_grad(z, y, model.output) if weights is None else \
            loss.value_and_grad(z, y, model.output, weights)
        model.backward(dz)
    if reduce is not None:
        value = reduce(model, value, share)
    optimizer.step(model)
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
) -> list[dict]:
    """Train for ``epochs`` rounds (passes over the data; iterations when full batch).

    Every ``report_every`` rounds (and after the last) it evaluates, appends
    ``{"epoch", "train_loss", "<set>_accuracy", "<set>_loss", "seconds", "lr"}`` to the history and
    calls ``on_report``. ``seconds`` is the wall time of the training steps alone. ``schedule``
    maps the fractional epoch to a learning rate. ``position`` resumes a run mid-way and is kept
    current, so an interrupted run can be saved and resumed exactly. Dropout masks and
    ``augment(x, key)`` draw from keys of (``noise_seed``, epoch, step), so they too resume exactly.
    ``reduce`` combines the ranks' gradients in data-parallel training (see :func:`train_step`).
    """
    position = position if position is not None else Position()
    evaluation = evaluation or Evaluation()
    history: list[dict] = []
    seconds = 0.0
    while position.epoch < epochs:
        started = time.perf_counter()
        train_epoch(model, loss, optimizer, batches, position, schedule=schedule, noise_seed=noise_seed,
                    augment=augment, on_step=on_step, should_stop=should_stop, reduce=reduce)
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
                augment=None, on_step=None, should_stop=None, reduce=None) -> None:
    """The rest of the epoch ``position`` stands in: one :func:`train_step` per batch, the learning
    rate from ``schedule``, noise keyed by (seed, epoch, step). Step losses are summed on the device
    into ``position.loss_sum``; the host reads them only when ``should_stop`` interrupts."""
    if batches.rng is not None:
        if position.step == 0 or position.rng_state is None:
            position.rng_state = batches.rng.bit_generator.state
        else:
            batches.rng.bit_generator.state = position.rng_state
    steps = batches.steps_per_epoch
    total = position.loss_sum
    for xb, yb, wb, first, rows in batches.shards(skip=position.step):
        if schedule is not None:
            optimizer.lr = schedule(position.epoch + position.step / steps)
        key = stream_key(noise_seed, position.epoch, position.step)
        if batches.shard is not None:  # a shard's rows draw the noise they get in the whole batch
            key = ShardKey(key, first, rows)
        if augment is not None and xb.shape[0]:
            xb = augment(xb, stream_key(key, AUGMENT_STREAM))
        share = xb.shape[0] / rows
        total = total + train_step(model, loss, optimizer, xb, yb, key, reduce, share, weights=wb)
        position.loss_steps += 1
        position.step += 1
        if on_step is not None:
            on_step(position.step, steps)
        if should_stop is not None and should_stop() and position.step < steps:
            position.loss_sum = float(total)  # one sync, on the way out
            raise TrainingInterrupted(position)
    position.loss_sum = total
    position.epoch, position.step = position.epoch + 1, 0
