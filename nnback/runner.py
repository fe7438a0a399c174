"""One training run from a plain configuration: what ``nnback train`` and ``nnback.train`` share.

It wires the parts together (backend, data, model, loss, optimizer, schedule, fit) and returns
the trained model with a JSON-ready summary. It never prints; callers pass ``on_report``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .augment import check_images, get_augmentation
from .backend import get_backend, seeded_generators
from .data import N_CLASSES, Dataset
from .environment import environment
from .formats import load_dataset
from .losses import get_loss
from .model import MLP
from .optimizers import make_optimizer
from .training import Batches, EarlyStopping, Evaluation, Position, fit

SCHEDULES = ("constant", "cosine", "step")


@dataclass
class TrainConfig:
    """Every hyperparameter of a run. The defaults are nnback's default recipe, the ``fast`` preset:
    98.8% test accuracy in under a minute of training on a 2-core CPU (see README)."""

    layers: list[int] = field(default_factory=lambda: [784, 800, 800, 10])
    activation: str | list[str] = "relu"
    output_activation: str = "softmax"
    loss: str = "cross-entropy"
    init: str = "he"
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    dropout: float | list[float] = 0.2
    input_dropout: float = 0.0
    augment: str = "translate"
    batch_size: int | None = 128
    epochs: int = 15
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    eval_every: int = 1
    patience: int | None = None
    val_size: int = 10_000
    shuffle_split: bool = False
    seed: int = 0
    data: str | None = None
    dtype: str = "float32"
    device: str = "cpu"

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    model: MLP
    history: list[dict]
    metrics: dict


def learning_rate_schedule(config: TrainConfig):
    """Fractional epoch → learning rate: constant, cosine to zero, or ×0.1 at 50% and 75%,
    each after an optional linear warm-up."""
    if config.schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    base, total, warmup = config.lr, float(config.epochs), config.warmup_epochs

    def lr_at(epoch: float) -> float:
        if epoch < warmup:
            return base * epoch / warmup
        progress = min((epoch - warmup) / max(total - warmup, 1e-9), 1.0)
        if config.schedule == "cosine":
            return base * 0.5 * (1.0 + math.cos(math.pi * progress))
        if config.schedule == "step":
            return base * 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
        return base

    return None if config.schedule == "constant" and not warmup else lr_at


def dropout_rates(config: TrainConfig) -> list[float]:
    """One dropout rate per layer input: the pixels, then each hidden layer's output."""
    hidden = len(config.layers) - 2
    rates = [config.dropout] * hidden if isinstance(config.dropout, (int, float)) else list(config.dropout)
    if len(rates) != hidden or (hidden == 0 and config.dropout):
        raise ValueError(f"--dropout needs one rate or {hidden} rates (one per hidden layer), got {config.dropout}")
    return [config.input_dropout] + [float(rate) for rate in rates]


def build(config: TrainConfig, backend, init_rng):
    """The model, loss and optimizer a configuration describes (checked for compatibility)."""
    model = MLP.create(config.layers, backend, init_rng, config.activation, config.output_activation, config.init,
                       dropout_rates(config))
    loss = get_loss(config.loss)
    loss.check_output(model.output)
    return model, loss, optimizer_for(config)


def optimizer_for(config: TrainConfig):
    """A fresh optimizer with the configuration's hyperparameters (its state comes later)."""
    adam = {"eps": config.adam_eps} if config.optimizer == "adam" else {}
    return make_optimizer(config.optimizer, config.lr, config.momentum, config.weight_decay, **adam)


@dataclass
class Run:
    """Everything one run trains with, kept together so that a caller can checkpoint it at any
    point (say, on Ctrl-C) and resume it later. ``history`` holds every report so far, including
    those of earlier sessions of a resumed run."""

    config: TrainConfig
    backend: object
    data: Dataset
    model: MLP
    loss: object
    optimizer: object
    batches: Batches
    evaluation: Evaluation
    position: Position
    history: list[dict] = field(default_factory=list)

    @property
    def shuffle_rng(self):
        return self.batches.rng

    def fit(self, on_report=None, on_step=None, should_stop=None) -> TrainResult:
        """Train up to ``config.epochs`` rounds in total; raises ``TrainingInterrupted`` when
        ``should_stop`` asks, with the run left consistent for a checkpoint."""
        def report(stats: dict) -> None:
            self.history.append(stats)
            if on_report is not None:
                on_report(stats)

        config = self.config
        early_stopping = EarlyStopping(config.patience) if config.patience else None
        fit(self.model, self.loss, self.optimizer, self.batches, config.epochs, self.evaluation, config.eval_every,
            learning_rate_schedule(config), report, on_step, should_stop, self.position, noise_seed=config.seed,
            augment=get_augmentation(config.augment), early_stopping=early_stopping)
        metrics = summary(config, self.backend, self.data, self.history)
        if early_stopping is not None and early_stopping.best_epoch != self.history[-1]["epoch"]:
            # The best report's weights were put back: the final figures are theirs.
            metrics.update(best_epoch=early_stopping.best_epoch, **self.evaluation(self.model, self.loss))
        return TrainResult(self.model, self.history, metrics)


def prepare(config: TrainConfig | None = None, data: Dataset | None = None, backend=None, resume=None) -> Run:
    """Build a run: backend, data on the device, model, loss, optimizer and batch source.

    ``data`` defaults to ``config.data`` (or the bundled MNIST) split by ``config.val_size``;
    ``backend`` defaults to ``get_backend(config.device, config.dtype)``. ``resume`` (a loaded
    checkpoint: ``model``, ``optimizer``, ``position``, ``shuffle_state``, ``history``) continues
    a run where it stopped.
    """
    config = config or TrainConfig()
    backend = backend or get_backend(config.device, config.dtype)
    init_rng, shuffle_rng, split_rng = seeded_generators(config.seed)
    check_images(config.layers[0], config.augment)
    if data is None:
        data = load_dataset(config.data, config.val_size, split_rng if config.shuffle_split else None)
    if resume is None:
        model, loss, optimizer = build(config, backend, init_rng)
        position, history = Position(), []
    else:
        model, loss, optimizer = rebuild(config, resume, shuffle_rng)
        position, history = resume.position, list(resume.history)
    check_fits(model.sizes, config, data)
    train_x, train_y = backend.asarray(data.train.images), backend.asarray(data.train.labels, backend.xp.int64)
    evaluation = Evaluation({
        name: (backend.asarray(part.images), backend.asarray(part.labels, backend.xp.int64))
        for name, part in (("val", data.val), ("test", data.test))
    })
    batches = Batches(train_x, train_y, config.batch_size, shuffle_rng)
    check_position(position, config, batches)
    return Run(config, backend, data, model, loss, optimizer, batches, evaluation, position, history)


def rebuild(config: TrainConfig, resume, shuffle_rng):
    """The model, loss and optimizer of a resumed run, with the batch order put back where it was.

    Hyperparameters come from ``config`` (a resumed run may lower --lr, as the notebooks did);
    the optimizer's state (momentum, Adam's moments and step count) from the checkpoint. The
    checkpoint's arrays must already be on the run's backend (``load_checkpoint(path, backend)``).
    """
    loss, optimizer = get_loss(config.loss), optimizer_for(config)
    loss.check_output(resume.model.output)
    resume.model.set_dropout(dropout_rates(config))  # a hyperparameter, like lr: the config's applies
    optimizer.load_state(resume.optimizer.state())
    if resume.shuffle_state is not None:
        shuffle_rng.bit_generator.state = resume.shuffle_state
    return resume.model, loss, optimizer


def train(config: TrainConfig | None = None, data: Dataset | None = None, backend=None, on_report=None, on_step=None,
          should_stop=None, resume=None) -> TrainResult:
    """Train a network as ``config`` says and return it with its history and metrics
    (see :func:`prepare` for the arguments)."""
    return prepare(config, data, backend, resume).fit(on_report, on_step, should_stop)


def check_fits(sizes: list[int], config: TrainConfig, data: Dataset) -> None:
    """Refuse a network or batch size that cannot fit the data, before anything trains."""
    n_train, n_pixels = data.train.images.shape
    if n_train == 0:
        raise ValueError(f"{data.source}: the training set is empty")
    if sizes[0] != n_pixels:
        raise ValueError(f"the network takes {sizes[0]} inputs but the images have {n_pixels} pixels; "
                         f"make the first layer size {n_pixels}")
    if sizes[-1] != N_CLASSES:
        raise ValueError(f"the network has {sizes[-1]} outputs but there are {N_CLASSES} classes; "
                         f"make the last layer size {N_CLASSES}")
    if config.batch_size is not None and config.batch_size > n_train:
        raise ValueError(f"batch size {config.batch_size} is larger than the training set ({n_train} images)")


def check_position(position: Position, config: TrainConfig, batches: Batches) -> None:
    """A resumed position must lie inside this run (``config.epochs`` is the total target)."""
    if position.epoch >= config.epochs:
        raise ValueError(f"the run has already trained {position.epoch} of {config.epochs} epochs; "
                         f"ask for more epochs in total to continue it")
    if position.step >= batches.steps_per_epoch:
        raise ValueError(f"the saved position (step {position.step}) does not fit "
                         f"{batches.steps_per_epoch} steps per epoch; is this the same data and batch size?")


def summary(config: TrainConfig, backend, data: Dataset, history: list[dict]) -> dict:
    """The ``--metrics-out`` JSON: configuration, sizes, per-report history and final figures."""
    final = history[-1] if history else {}
    return {
        "device": config.device,
        "backend": backend.name,
        "dtype": backend.dtype_name,
        "config": config.as_dict(),
        "train_size": len(data.train),
        "val_size": len(data.val),
        "test_size": len(data.test),
        "epochs": history,
        "test_accuracy": final.get("test_accuracy"),
        "val_accuracy": final.get("val_accuracy"),
        "train_seconds": sum(entry["seconds"] for entry in history),
        "environment": environment(),
    }
