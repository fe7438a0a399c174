"""The front door: the one place where a run is assembled from a validated :class:`TrainConfig`.

:class:`Trainer` builds everything a run trains with — backend, model, loss, optimizer, schedule,
augmentation, batch order, position — for data it knows only through a :class:`DataInfo` (feature
count, class names, image shape, feature transform), and continues a checkpoint under the resume
rules. ``nnback.train``, the CLI, the scikit-learn estimator and the benchmarks all build one.
:func:`prepare` adds the dataset: it loads it, decides the defaults that depend on it, standardises
tabular features, puts the arrays on the device and returns a :class:`Run`. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from dataclasses import dataclass, field

from .augment import automatic, get_augmentation
from .backend import get_backend, seeded_generators, to_numpy
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, read_checkpoint, restore, save_checkpoint
from .config import SCHEDULES, ConfigError, TrainConfig, dropout_rates
from .data import DataError, Dataset, Split, ValidationSizeError
from .environment import environment
from .features import Standardizer
from .formats import Reading, load_dataset
from .formats.checks import Part, Parts, channels_last, features_of
from .losses import get_loss
from .model import MLP
from .optimizers import make_optimizer
from .presets import PRESETS
from .report import predict_outputs
from .training import Batches, EarlyStopping, Evaluation, Position, fit

__all__ = ["DataInfo", "ResumeError", "Run", "SCHEDULES", "TrainConfig", "TrainResult", "Trainer", "load_model",
           "prepare", "train"]

# Settings that define the network, its optimizer state or the data stream: a resumed run that
# changed one would not be a continuation of the saved one.
FIXED_ON_RESUME = ("layers", "hidden", "activation", "output_activation", "loss", "init", "optimizer", "batch_size",
                   "val_size", "seed", "dtype", "preset", "label_column", "image_shape", "test_fraction",
                   "shuffle_split")


class ResumeError(ValueError):
    """A resumed run that would not continue the saved one; ``field`` names the setting."""

    def __init__(self, field_name: str | None, message: str):
        self.field = field_name
        super().__init__(message)


@dataclass(frozen=True)
class DataInfo:
    """What a model knows of its data, stored with it so new data is read the same way: the
    feature count, the class names (label k means ``classes[k]``), the image shape (None for
    tabular data) and what its integer pixels were divided by, the feature standardiser fitted on
    the training set, and for resuming, the training-set size and a fingerprint of the data."""

    n_features: int
    classes: tuple[str, ...]
    image_shape: tuple[int, ...] | None = None
    standardizer: Standardizer | None = None
    n_train: int | None = None
    fingerprint: str | None = None
    source: str | None = None
    targets: int = 0  # regression: the number of real outputs (then ``classes`` is empty)
    label_column: str | None = None  # the training CSV header's name of the label column
    label_position: int | None = None  # the label column's 0-based place in the training CSV
    pixel_scale: int | None = None  # integer pixels ÷ this (None: tabular, or not recorded: each file's own range)
    feature_names: tuple[str, ...] | None = None  # a CSV header's feature columns, matched by name in new files

    @property
    def n_outputs(self) -> int:
        """The network's outputs: one per class, or one per regression target."""
        return self.targets or len(self.classes)

    @classmethod
    def of(cls, data: Dataset, standardizer: Standardizer | None = None) -> "DataInfo":
        shape = data.image_shape
        return cls(data.n_features, tuple(data.classes), tuple(shape) if shape else None, standardizer,
                   len(data.train), data.fingerprint(), data.source, label_column=data.label_column,
                   label_position=data.label_position,
                   pixel_scale=data.pixel_scale if shape else None, feature_names=data.feature_names)

    def features(self, host):
        """Host features as the model was trained on them (standardised for tabular data)."""
        return host if self.standardizer is None else self.standardizer.apply(host)

    @property
    def reading(self) -> Reading:
        """How a new file is read for this model (:func:`nnback.formats.read_examples`)."""
        return Reading(self.n_features, self.image_shape, self.label_column, self.feature_names, self.pixel_scale,
                       self.label_position)

    def inputs(self, samples):
        """Host samples as a data file holds them — rows of raw features, or images (n, h, w[, c]),
        channels first or last, or their rows of pixels; one sample alone too — read the way the
        training data was (pixels scaled, features standardised): the model's inputs
        (n, n_features) float32. DataError if they cannot be."""
        try:
            host = to_numpy(samples)
        except ValueError as error:  # ragged nested lists
            raise DataError(f"samples are not a rectangular array of numbers ({error})") from None
        one = (self.n_features,) if self.image_shape is None else tuple(self.image_shape)
        alone = {one, (self.n_features,), (one[-1], *one[:-1]) if len(one) == 3 else one}  # channels last or first
        if tuple(host.shape) in alone:
            host = host[None]  # a single sample
        if host.ndim < 2 or math.prod(host.shape[1:]) != self.n_features:
            raise DataError(f"samples of shape {tuple(host.shape)}: the model takes samples of {self.n_features} "
                            f"values{' (' + 'x'.join(map(str, one)) + ')' if self.image_shape else ''}, "
                            "one alone or an array of them")
        parts, _ = channels_last(Parts(train=Part(host, None, "samples")), self.image_shape)
        return self.features(features_of(parts.train, self.image_shape, self.pixel_scale))

    def as_dict(self) -> dict:
        return {"n_features": self.n_features, "classes": list(self.classes),
                "image_shape": list(self.image_shape) if self.image_shape else None,
                "standardizer": self.standardizer.as_dict() if self.standardizer else None,
                "train_size": self.n_train, "fingerprint": self.fingerprint, "source": self.source,
                **({"targets": self.targets} if self.targets else {}),
                **({"label_column": self.label_column} if self.label_column is not None else {}),
                **({"label_position": self.label_position} if self.label_position is not None else {}),
                **({"pixel_scale": self.pixel_scale} if self.pixel_scale is not None else {}),
                **({"feature_names": list(self.feature_names)} if self.feature_names is not None else {})}

    @classmethod
    def from_dict(cls, values: dict, sizes: list[int]) -> "DataInfo":
        """The stored description, checked against the model's ``sizes``; a version-1 checkpoint's
        (MNIST: 784 pixels, 10 digits) when the keys are absent. ValueError if it is inconsistent."""
        if not isinstance(values, dict):
            raise ValueError("the data description is not an object")
        targets = values.get("targets", 0)
        if not (isinstance(targets, int) and not isinstance(targets, bool) and targets in (0, sizes[-1])):
            raise ValueError(f"targets {targets!r} is neither 0 (a classifier) nor the model's {sizes[-1]} outputs")
        classes = values.get("classes", [] if targets else [str(k) for k in range(sizes[-1])])
        shape = values.get("image_shape", [28, 28] if sizes[0] == 784 and "classes" not in values else None)
        if targets and classes != []:
            raise ValueError(f"a regressor's description names classes: {classes!r}")
        if not targets and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)
                                and len(classes) == sizes[-1] and len(set(classes)) == len(classes)):
            raise ValueError(f"{sizes[-1]} distinct class names expected, got {classes!r}")
        if shape is not None and not (isinstance(shape, list) and 2 <= len(shape) <= 3
                                      and all(isinstance(s, int) and s > 0 for s in shape) and math.prod(shape) == sizes[0]):
            raise ValueError(f"image shape {shape!r} does not match the model's {sizes[0]} inputs")
        standardizer = values.get("standardizer")
        if standardizer is not None:
            standardizer = Standardizer.from_dict(standardizer)
            if standardizer.mean.shape != (sizes[0],):
                raise ValueError(f"the feature standardiser has {standardizer.mean.shape[0]} features, the model {sizes[0]}")
        n_train, fingerprint, source = values.get("train_size"), values.get("fingerprint"), values.get("source")
        label_column, pixel_scale = values.get("label_column"), values.get("pixel_scale")
        if pixel_scale is not None and not (isinstance(pixel_scale, int) and not isinstance(pixel_scale, bool)
                                            and pixel_scale >= 1 and shape is not None):
            raise ValueError(f"pixel_scale {pixel_scale!r} is not a positive whole number for an image model")
        position = values.get("label_position")
        if position is not None and not (isinstance(position, int) and not isinstance(position, bool)
                                         and 0 <= position <= sizes[0]):
            raise ValueError(f"label_position {position!r} is not a column of {sizes[0] + 1}")
        names = values.get("feature_names")
        if names is not None and not (isinstance(names, list) and len(names) == sizes[0]
                                      and all(isinstance(name, str) for name in names)):
            raise ValueError(f"feature_names must be {sizes[0]} strings, one per input")
        if not (n_train is None or (isinstance(n_train, int) and n_train >= 0)):
            raise ValueError(f"train_size {n_train!r} is not a count")
        for name, value in (("fingerprint", fingerprint), ("source", source), ("label_column", label_column)):
            if not (value is None or isinstance(value, str)):
                raise ValueError(f"{name} {value!r} is not a string")
        return cls(sizes[0], tuple(classes), tuple(shape) if shape else None, standardizer, n_train, fingerprint,
                   source if source is not None else values.get("path"), targets, label_column=label_column,
                   label_position=position, pixel_scale=pixel_scale,
                   feature_names=tuple(names) if names is not None else None)


@dataclass
class TrainResult:
    """A finished run: the model, one dict per report, the metrics, and ``info``, how the data was
    read, which :meth:`predict` applies to new samples (``model.predict`` takes prepared inputs)."""

    model: MLP
    history: list[dict]
    metrics: dict
    info: DataInfo | None = None
    backend: object = None

    def predict_proba(self, samples):
        """Output activations (n, n_outputs) on the host for samples read as the training data."""
        return predict_outputs(self.model, self.backend, self._described().inputs(samples))

    def predict(self, samples):
        """The class name of each sample (samples as a data file holds them: see DataInfo.inputs);
        a regressor's outputs as they are."""
        info, outputs = self._described(), self.predict_proba(samples)
        return outputs if info.targets else [info.classes[k] for k in outputs.argmax(axis=1).tolist()]

    def _described(self) -> DataInfo:
        if self.info is None or self.backend is None:
            raise ValueError("this result does not say how its data was read; use model.predict on prepared inputs")
        return self.info


def learning_rate_schedule(config: TrainConfig):
    """Fractional epoch → learning rate: constant, cosine to zero, or ×0.1 at 50% and 75%,
    each after an optional linear warm-up."""
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


def optimizer_for(config: TrainConfig):
    """A fresh optimizer with the configuration's hyperparameters (its state comes later)."""
    adam = {"eps": config.adam_eps} if config.optimizer == "adam" else {}
    return make_optimizer(config.optimizer, config.lr, config.momentum, config.weight_decay, **adam)


class Trainer:
    """A run assembled from ``config`` for data described by ``info``: the model (fresh, or the
    checkpoint's), loss, optimizer, schedule, augmentation and batch order, and where training
    stands. :meth:`fit` trains on device arrays; :meth:`save` writes a resumable checkpoint."""

    def __init__(self, config: TrainConfig, info: DataInfo, *, backend=None, checkpoint: Checkpoint | None = None,
                 comm=None):
        self.config, self.info = config, info
        self.comm = comm  # a distributed.Communicator: data-parallel training over its ranks
        self.backend = backend or (comm.backend(config.device, config.dtype) if comm else
                                   get_backend(config.device, config.dtype))
        init_rng, self.shuffle_rng, _ = seeded_generators(config.seed)
        self.sizes = config.network_sizes(info.n_features, info.n_outputs)
        self.augment_name = automatic(info.image_shape) if config.augment == "auto" else config.augment
        try:
            self.augment = get_augmentation(self.augment_name, info.image_shape)
        except ValueError as error:  # tabular data: say it as the setting it is
            raise ConfigError("augment", str(error)) from None
        self.batch_size = config.batch_size if info.n_train is None or config.batch_size is None \
            else min(config.batch_size, info.n_train)
        self.loss, self.optimizer = get_loss(config.loss), optimizer_for(config)
        self.history: list[dict] = []
        self.stopped_early = False
        if checkpoint is None:
            self.model = MLP.create(self.sizes, self.backend, init_rng, config.activation, config.output_activation,
                                    config.init, dropout_rates(config))
            self.position = Position()
        else:
            self._continue(checkpoint)
        self.loss.check_output(self.model.output)

    def _continue(self, checkpoint: Checkpoint) -> None:
        """Take the checkpoint's model, optimizer state, batch order, position and history (its
        arrays copied to this run's backend, through the host)."""
        if checkpoint.model.sizes != self.sizes:
            raise ResumeError("layers", f"layers {self.sizes} differ from the checkpoint's network "
                                        f"{checkpoint.model.sizes}")
        checkpoint = checkpoint.moved_to(self.backend)
        self.model = checkpoint.model
        self.model.set_dropout(dropout_rates(self.config))  # a hyperparameter, like lr: the config's applies
        fresh = self.optimizer.state()
        if set(checkpoint.optimizer_state) != set(fresh):
            raise ResumeError("optimizer", f"optimizer {self.config.optimizer} cannot take the checkpoint's "
                                           f"{', '.join(sorted(checkpoint.optimizer_state))} state")
        try:
            self.optimizer.load_state(checkpoint.optimizer_state)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"damaged optimizer state ({error})") from None
        if checkpoint.shuffle_state is not None:
            self.shuffle_rng.bit_generator.state = checkpoint.shuffle_state
        self.position, self.history = checkpoint.position, list(checkpoint.history)
        self.stopped_early = bool(checkpoint.meta.get("stopped_early", False))

    @property
    def unit(self) -> str:
        return self.config.unit

    def decisions(self) -> list[str]:
        """What the defaults decided for this data, in one line each."""
        config, notes = self.config, []
        if self.info.standardizer is not None:
            notes.append("features standardised by the training set's mean and standard deviation (kept with the model)")
        if config.layers is None:
            notes.append(f"network {self.sizes}: {self.sizes[0]} inputs and {self.sizes[-1]} classes from the data")
        if config.lr_is_default:
            notes.append(f"learning rate {config.lr:g}: the {config.optimizer} optimizer's default")
        if config.augment == "auto":
            why = ("tabular data" if self.info.image_shape is None else
                   f"{'x'.join(map(str, self.info.image_shape))} images")
            notes.append(f"augmentation {self.augment_name}: {why}")
        if config.batch_size is not None and self.batch_size != config.batch_size:
            notes.append(f"batch size {self.batch_size}: the whole training set ({config.batch_size} asked)")
        if self.comm is not None and self.comm.size > 1:
            batch = "the whole training set" if self.batch_size is None else f"each batch of {self.batch_size}"
            notes.append(f"data parallel over {self.comm.size} ranks ({self.comm.engine}): each takes 1/{self.comm.size} "
                         f"of {batch}")
        return notes

    def fit(self, x, y, evaluation: Evaluation | None = None, *, epochs: int | None = None, on_report=None,
            on_step=None, should_stop=None, sample_weight=None, shuffle: bool = True) -> list[dict]:
        """Train on device arrays (x, y) up to ``epochs`` rounds in total (default: the config's);
        returns this call's reports, which are also appended to :attr:`history`. ``sample_weight``
        (n,) on the device multiplies each sample's loss (scale it to mean 1 for Σw to play the
        role of n); ``shuffle=False`` keeps the data's order."""
        config = self.config
        epochs = config.epochs if epochs is None else epochs
        batches = Batches(x, y, self.batch_size, self.shuffle_rng, w=sample_weight, shuffle=shuffle)
        self._check_position(epochs, batches)

        def report(stats: dict) -> None:
            self.history.append(stats)
            if on_report is not None:
                on_report(stats)

        self.early_stopping = EarlyStopping(config.patience) if config.patience else None
        reduce, run = None, fit  # run: fit, guarded when data parallel
        if self.comm is not None:  # data parallel: shards of every batch, gradients summed (distributed.py)
            from .distributed import DataParallel, ShardedEvaluation

            parallel = DataParallel(self.comm, should_stop)
            parallel.same_start(self.model)
            batches.shard, reduce, should_stop = (self.comm.rank, self.comm.size), parallel.reduce, parallel.should_stop
            if evaluation is not None and not isinstance(evaluation, ShardedEvaluation):
                evaluation = ShardedEvaluation(evaluation.sets, self.comm)
            run = parallel.guarded(fit)
        graphs = self.step_graphs  # reset by every fit: captured steps hold this call's data and settings
        reports = run(self.model, self.loss, self.optimizer, batches, epochs, evaluation=evaluation,
                      report_every=config.eval_every, schedule=learning_rate_schedule(config), on_report=report,
                      on_step=on_step, should_stop=should_stop, position=self.position, noise_seed=config.seed,
                      augment=self.augment, early_stopping=self.early_stopping, reduce=reduce, graphs=graphs)
        self.stopped_early = bool(self.early_stopping and self.early_stopping.stopped)
        if graphs is not None and graphs.note is not None:
            warnings.warn(graphs.note, RuntimeWarning, stacklevel=2)
        return reports

    @functools.cached_property
    def step_graphs(self):
        """The backend's capture of training steps as CUDA graphs (``Backend.step_graphs``; None
        on most backends, and when data parallel), made once: its stream and cuBLAS handle serve
        every :meth:`fit`, which resets its graphs."""
        return self.backend.step_graphs() if self.comm is None else None

    def _check_position(self, epochs: int, batches: Batches) -> None:
        position = self.position
        if self.stopped_early:
            raise ResumeError(None, f"the run was ended by early stopping after {self.unit} {position.epoch}; "
                                    "it is finished (start a new run to train further)")
        if position.epoch >= epochs:
            raise ResumeError("epochs", f"epochs {epochs}: the run has already trained {position.epoch} {self.unit}s; "
                                        "ask for more in total to continue it")
        if position.step >= batches.steps_per_epoch:
            raise ResumeError("batch_size", f"batch_size: the saved position (step {position.step}) does not fit "
                                            f"{batches.steps_per_epoch} steps per {self.unit}; is this the same data?")

    def meta(self) -> dict:
        """What a checkpoint stores besides the arrays, for :meth:`resume`, evaluate and predict."""
        return {"config": self.config.as_dict(), "data": self.info.as_dict(), "stopped_early": self.stopped_early,
                "environment": environment()}

    def snapshot(self) -> Checkpoint:
        """The run as it stands, as the :class:`Checkpoint` that :meth:`save` would write (arrays
        where they live; ``.moved_to(backend)`` copies them elsewhere)."""
        return Checkpoint(self.model, self.optimizer.state(), dataclasses.replace(self.position),
                          dict(self.shuffle_rng.bit_generator.state), list(self.history), self.meta())

    def save(self, path) -> None:
        """A resumable checkpoint of the run as it stands (atomic; refuses non-finite weights);
        in data-parallel training, rank 0 alone writes it."""
        if self.comm is not None and self.comm.rank != 0:
            return
        try:  # the loader's own check, before anything is written: never a file that cannot be read back
            DataInfo.from_dict(self.info.as_dict(), self.model.sizes)
        except ValueError as error:
            raise ValueError(f"{path}: the data description would not load back: {error}") from None
        save_checkpoint(path, self.model, self.optimizer.state(), position=self.position,
                        rng_state=dict(self.shuffle_rng.bit_generator.state), history=self.history, meta=self.meta())

    @classmethod
    def resume(cls, checkpoint: Checkpoint, info: DataInfo, changes: dict | None = None, *, backend=None,
               comm=None) -> "Trainer":
        """Continue ``checkpoint`` on data described by ``info`` with ``changes`` to its settings
        (the learning rate, epochs, dropout may change; the network, optimizer, dtype, seed, batch
        size and the data may not)."""
        _refuse_a_regressor(checkpoint)
        config = resumed_config(checkpoint, changes or {})
        check_same_data(stored_data(checkpoint), info)
        return cls(config, info, backend=backend, checkpoint=checkpoint, comm=comm)


def stored_config(checkpoint: Checkpoint) -> TrainConfig:
    """The configuration a checkpoint was trained with (CheckpointError if it is damaged)."""
    try:
        config = TrainConfig.from_dict(checkpoint.meta.get("config"))
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"damaged configuration ({error})") from None
    return config


def stored_data(checkpoint: Checkpoint) -> DataInfo:
    try:
        return DataInfo.from_dict(checkpoint.meta.get("data", {}), checkpoint.model.sizes)
    except ValueError as error:
        raise CheckpointError(f"damaged data description ({error})") from None


def resumed_config(checkpoint: Checkpoint, changes: dict) -> TrainConfig:
    """The checkpoint's configuration with ``changes`` laid over it, refusing changes to the
    settings a continuation must keep (FIXED_ON_RESUME)."""
    stored = stored_config(checkpoint)
    if checkpoint.info.get("dtype") not in (None, stored.dtype):
        raise CheckpointError(f"damaged configuration (dtype {stored.dtype} but {checkpoint.info['dtype']} arrays)")
    for name, value in changes.items():
        saved = getattr(stored, name, None)
        if name in FIXED_ON_RESUME and _normalised(name, value, stored) != _normalised(name, saved, stored):
            if name == "preset":
                raise ResumeError(name, f"preset {value} cannot change a saved run: it keeps its own recipe")
            raise ResumeError(name, f"{name} {_shown(name, value)} differs from the checkpoint's {_shown(name, saved)}; "
                                    "a resumed run keeps its network, optimizer, dtype and data")
    return stored.replace(**changes)


def _normalised(name: str, value, stored: TrainConfig):
    if name == "activation" and isinstance(value, str):
        return [value] * stored.n_hidden
    if name in ("layers", "hidden", "image_shape") and isinstance(value, tuple):
        return list(value)
    return value


def _shown(name: str, value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if value is None:
        return "full batch" if name == "batch_size" else "none"
    return str(value)


def regression_outputs(info: DataInfo) -> str:
    """A regressor's outputs in words: "1 real output", "2 real outputs"."""
    return f"{info.targets} real output{'s' if info.targets != 1 else ''}"


def check_same_data(stored: DataInfo, info: DataInfo) -> None:
    """A resumed run must see the data it was trained on: the same fingerprint (or, for a
    checkpoint of nnback 0.1, the same training-set size) and the same classes. A checkpoint that
    records neither (the scikit-learn estimator's ``save``) cannot be checked, so it is refused."""
    if stored.fingerprint is None and stored.n_train is None:
        raise ResumeError("data", "data: the checkpoint does not record the data it was trained on (a model saved by "
                                  "the scikit-learn estimator), so a resumed run could not keep to it; continue it in "
                                  "Python with the estimator (warm_start=True or partial_fit)")
    if stored.classes != info.classes:
        raise ResumeError("data", f"data: the checkpoint was trained on classes {', '.join(stored.classes)}, this data "
                                  f"has {', '.join(info.classes)}; resume with the same data")
    if stored.fingerprint is not None and stored.fingerprint != info.fingerprint:
        raise ResumeError("data", f"data: this data differs from the data the checkpoint was trained on "
                                  f"({stored.source or 'unknown source'}); resume with the same data")
    if stored.n_train is not None and stored.n_train != info.n_train:
        raise ResumeError("data", f"data: the checkpoint was trained on {stored.n_train} training samples, this data has "
                                  f"{info.n_train}; resume with the same data")


# ---------------------------------------------------------------------------- runs on a dataset


@dataclass
class Run:
    """A :class:`Trainer` with its dataset on the device: what ``nnback train`` and
    :func:`train` run. ``decisions`` lists what the defaults decided for this data."""

    trainer: Trainer
    data: Dataset
    x: object
    y: object
    evaluation: Evaluation
    decisions: list[str] = field(default_factory=list)

    config = property(lambda self: self.trainer.config)
    model = property(lambda self: self.trainer.model)
    backend = property(lambda self: self.trainer.backend)
    position = property(lambda self: self.trainer.position)
    history = property(lambda self: self.trainer.history)
    optimizer = property(lambda self: self.trainer.optimizer)
    loss = property(lambda self: self.trainer.loss)

    def fit(self, on_report=None, on_step=None, should_stop=None) -> TrainResult:
        """Train up to ``config.epochs`` rounds in total; raises ``TrainingInterrupted`` when
        ``should_stop`` asks, with the run left consistent for :meth:`save`."""
        trainer = self.trainer
        trainer.fit(self.x, self.y, self.evaluation, on_report=on_report, on_step=on_step, should_stop=should_stop)
        metrics = summary(self)
        early = trainer.early_stopping
        if early is not None and early.best_epoch and early.best_epoch != self.history[-1]["epoch"]:
            # The best report's weights were put back: the final figures are theirs.
            metrics.update(best_epoch=early.best_epoch, **self.evaluation(self.model, self.loss))
        return TrainResult(self.model, self.history, metrics, self.trainer.info, self.backend)

    def save(self, path) -> None:
        self.trainer.save(path)


def prepare(config: TrainConfig | None = None, data: Dataset | None = None, *, backend=None, resume=None,
            changes: dict | None = None, comm=None) -> Run:
    """Assemble a run: load the data (``config.data``, or the bundled MNIST), decide what depends on
    it, standardise tabular features, upload, and build the :class:`Trainer`.

    ``resume`` (a checkpoint path or a loaded :class:`Checkpoint`) continues a saved run; its
    configuration then comes from the checkpoint with ``changes`` laid over it (``config`` must be
    None), and the data is the one it was trained on unless ``changes`` names another.

    ``comm`` ("mpi", "nccl" or a ``distributed.Communicator``) trains data-parallel over the ranks
    of the job this process was started in: start every rank with the same arguments.
    """
    changes = dict(changes or {})
    checkpoint = None
    if resume is not None:
        if config is not None:
            raise ValueError("a resumed run takes its configuration from the checkpoint; pass changes=, not config=")
        checkpoint = _read_for_resume(resume)
        # Before its configuration is checked and any data is read:
        _refuse_a_regressor(checkpoint, "the checkpoint" if isinstance(resume, Checkpoint) else str(resume))
        config = resumed_config(checkpoint, changes)
    else:
        config = (config or TrainConfig()).replace(**changes)
    if config.data is not None:  # absolute, so a resumed run finds it from any directory (links kept)
        config = config.replace(data=os.path.abspath(os.path.expanduser(config.data)))
    if data is None:
        data = load_data(config)
    standardizer = Standardizer.fit(data.train.features) if data.image_shape is None else None
    if standardizer is not None:
        data = _standardised(data, standardizer)
    info = DataInfo.of(data, standardizer)
    if isinstance(comm, str):
        from .distributed import connect

        comm = connect(comm)
    if checkpoint is None:
        trainer = Trainer(config, info, backend=backend, comm=comm)
    else:
        trainer = Trainer.resume(checkpoint, info, changes, backend=backend, comm=comm)
    backend = trainer.backend
    x, y = backend.asarray(data.train.features), backend.asarray(data.train.labels, backend.xp.int64)
    evaluation = Evaluation({
        name: (backend.asarray(part.features), backend.asarray(part.labels, backend.xp.int64))
        for name, part in (("val", data.val), ("test", data.test))
    })
    decisions = [*data.notes, *trainer.decisions()]
    return Run(trainer, data, x, y, evaluation, decisions)


def _refuse_a_regressor(checkpoint: Checkpoint, where: str = "the checkpoint") -> None:
    """Training resumes classifier runs; a regressor's checkpoint (MLPRegressor.save) is refused by name."""
    try:
        stored = stored_data(checkpoint)
    except CheckpointError:
        return  # a damaged description is reported where it is used
    if stored.targets:
        raise ResumeError(None, f"{where}: holds a regressor ({regression_outputs(stored)}, saved by MLPRegressor); "
                                "nnback train resumes classifier runs only")


def _read_for_resume(resume) -> Checkpoint:
    """The checkpoint to continue, on the host for now (its run's device is not known yet)."""
    if isinstance(resume, Checkpoint):
        return resume
    if not str(resume):
        raise ValueError("the checkpoint to resume is an empty path")
    return load_checkpoint(resume)


def load_data(config: TrainConfig) -> Dataset:
    """The dataset ``config`` names, split as it says (the hold-outs seeded by ``config.seed``)."""
    _, _, split_rng, holdout_rng = seeded_generators(config.seed, 4)
    shape = config.image_shape
    try:
        return load_dataset(config.data, config.val_size, split_rng if config.shuffle_split else None,
                            label_column=config.label_column,
                            image_shape=tuple(shape) if isinstance(shape, list) else shape,
                            test_fraction=config.test_fraction, split_rng=holdout_rng)
    except ValidationSizeError as error:
        if config.preset is None or config.val_size != PRESETS[config.preset].values.get("val_size"):
            raise
        raise ValidationSizeError(f"{error}; {config.val_size} is the {config.preset} preset's val_size") from None


def _standardised(data: Dataset, standardizer: Standardizer) -> Dataset:
    def part(split: Split) -> Split:
        return dataclasses.replace(split, features=standardizer.apply(split.features))

    return dataclasses.replace(data, train=part(data.train), val=part(data.val), test=part(data.test))


def train(config: TrainConfig | None = None, data: Dataset | None = None, *, backend=None, resume=None,
          changes: dict | None = None, on_report=None, on_step=None, should_stop=None, comm=None) -> TrainResult:
    """Train a network as ``config`` says and return it with its history and metrics (the same
    run as ``nnback train`` with the same settings; see :func:`prepare` for the arguments)."""
    run = prepare(config, data, backend=backend, resume=resume, changes=changes, comm=comm)
    return run.fit(on_report, on_step, should_stop)


def summary(run: Run) -> dict:
    """The metrics JSON: configuration, what the defaults decided, sizes, per-report history and
    final figures."""
    config, data, history = run.config, run.data, run.history
    final = history[-1] if history else {}
    trainer = run.trainer
    return {
        "device": config.device,
        "backend": run.backend.name,
        "dtype": run.backend.dtype_name,
        "config": config.as_dict(),
        "decided": {"layers": trainer.sizes, "lr": config.lr, "augment": trainer.augment_name,
                    "batch_size": trainer.batch_size, "val_size": len(data.val)},
        "decisions": run.decisions,
        "data": {"source": data.source, "classes": list(data.classes),
                 "image_shape": list(data.image_shape) if data.image_shape else None,
                 "standardized": trainer.info.standardizer is not None},
        "train_size": len(data.train),
        "val_size": len(data.val),
        "test_size": len(data.test),
        "epochs": history,
        "test_accuracy": final.get("test_accuracy"),
        "val_accuracy": final.get("val_accuracy"),
        "train_seconds": sum(entry["seconds"] for entry in history),
        "ranks": trainer.comm.size if trainer.comm is not None else 1,
        "environment": environment(),
    }


def load_model(path, device: str = "cpu"):
    """A checkpoint's model on ``device`` (in the dtype it was saved in) with its :class:`DataInfo`,
    for evaluating and predicting."""
    info, arrays = read_checkpoint(path)
    backend = get_backend(device, info["dtype"])
    checkpoint = restore(info, arrays, backend=backend, path=path)
    try:
        data = stored_data(checkpoint)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return checkpoint.model, data, backend
