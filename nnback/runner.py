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
from .data import Dataset, load_mnist
from .losses import get_loss
from .model import MLP
from .optimizers import make_optimizer
from .training import Batches, EarlyStopping, Evaluation, Position, fit

SCHEDULES = ("constant", "cosine", "step")


@dataclass
class TrainConfig:
    """Every hyperparameter of a run. The defaults are nnback's default recipe (see README)."""

    layers: list[int] = field(default_factory=lambda: [784, 512, 512, 10])
    activation: str | list[str] = "relu"
    output_activation: str = "softmax"
    loss: str = "cross-entropy"
    init: str = "he"
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    dropout: float | list[float] = 0.0
    input_dropout: float = 0.0
    augment: str = "none"
    batch_size: int | None = 128
    epochs: int = 12
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
    if len(rates) != hidden:
        raise ValueError(f"--dropout needs one rate or {hidden} rates (one per hidden layer), got {rates}")
    return [config.input_dropout] + [float(rate) for rate in rates]


def build(config: TrainConfig, backend, init_rng):
    """The model, loss and optimizer a configuration describes (checked for compatibility)."""
    model = MLP.create(config.layers, backend, init_rng, config.activation, config.output_activation, config.init,
                       dropout_rates(config))
    loss = get_loss(config.loss)
    loss.check_output(model.output)
    adam = {"eps": config.adam_eps} if config.optimizer == "adam" else {}
    optimizer = make_optimizer(config.optimizer, config.lr, config.momentum, config.weight_decay, **adam)
    return model, loss, optimizer


def train(config: TrainConfig | None = None, data: Dataset | None = None, backend=None, on_report=None, on_step=None,
          should_stop=None) -> TrainResult:
    """Train a network as ``config`` says and return it with its history and metrics.

    ``data`` defaults to ``config.data`` (or the bundled MNIST) split by ``config.val_size``;
    ``backend`` defaults to ``get_backend(config.device, config.dtype)``.
    """
    config = config or TrainConfig()
    backend = backend or get_backend(config.device, config.dtype)
    init_rng, shuffle_rng, split_rng = seeded_generators(config.seed)
    check_images(config.layers[0], config.augment)
    if data is None:
        data = load_mnist(config.data, val_size=config.val_size, shuffle_rng=split_rng if config.shuffle_split else None)
    model, loss, optimizer = build(config, backend, init_rng)
    train_x, train_y = backend.asarray(data.train.images), backend.asarray(data.train.labels, backend.xp.int64)
    evaluation = Evaluation({
        name: (backend.asarray(part.images), backend.asarray(part.labels, backend.xp.int64))
        for name, part in (("val", data.val), ("test", data.test))
    })
    batches = Batches(train_x, train_y, config.batch_size, shuffle_rng)
    early_stopping = EarlyStopping(config.patience) if config.patience else None
    history = fit(model, loss, optimizer, batches, config.epochs, evaluation, config.eval_every,
                  learning_rate_schedule(config), on_report, on_step, should_stop, Position(),
                  noise_seed=config.seed, augment=get_augmentation(config.augment), early_stopping=early_stopping)
    metrics = summary(config, backend, data, history)
    if early_stopping is not None and early_stopping.best_epoch != history[-1]["epoch"]:
        metrics.update(best_epoch=early_stopping.best_epoch, **evaluation(model, loss))
    return TrainResult(model, history, metrics)


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
    }
