"""The ``nnback`` command: flags in, a trained model and a report out, friendly errors.

Flags are read here and nowhere else. Every option defaults to "not given", so a configuration
is the recipe's defaults with only the options the user typed laid over them.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from . import __version__
from .atomic import write_json_atomic
from .augment import get_augmentation, preview_keys
from .backend import BackendUnavailable, get_backend, to_numpy
from .config import (ACTIVATION_NAMES, AUGMENT_NAMES, DTYPE_NAMES, INIT_NAMES, LOSS_NAMES, OPTIMIZER_NAMES, SCHEDULES,
                     ConfigError, TrainConfig)
from .data import DataError, load_mnist
from .distributed import DistributedError
from .files import require_regular_file
from .formats import read_examples
from .formats.checks import printable
from .images import ImageUnavailable, load_digit, load_image
from .outputs import check_outputs
from .presets import PRESETS
from .plots import PlotUnavailable, plot_confusion, plot_digit_grid, plot_history, require_matplotlib
from .report import SHADES, digit_art, evaluation_report, format_confusion, predict_outputs, top_k
from .runner import ResumeError, load_model, prepare, regression_outputs
from .signals import StopOnSignal, exit_on_signal
from .terminal import can_encode, guard_streams
from .training import TrainingDiverged, TrainingInterrupted


# What an output file is, by the suffix its name should have.
PNG = (".png", "a PNG image")
EXPORTS = {"onnx": (".onnx", "an ONNX model"), "safetensors": (".safetensors", "safetensors weights")}


class InputError(click.ClickException):
    """A mistake in the user's input: one line, exit code 2, no traceback."""

    exit_code = 2


def _sizes(text: str, option: str, minimum: int) -> list[int]:
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",")] if text.strip() else []
    except ValueError:
        example = "784,100,10" if minimum > 1 else "800,800"
        raise InputError(f"{option} {text!r}: give comma-separated integers such as {example}") from None
    if len(sizes) < minimum or (sizes and min(sizes) < 1):
        example = "784,100,10" if minimum > 1 else "800,800"
        raise InputError(f"{option} {text!r}: need {'at least ' + str(minimum) + ' ' if minimum else ''}positive sizes, "
                         f"such as {example}")
    return sizes


def _image_shape(text: str):
    """'auto', 'none' (tabular) or HxW[xC]."""
    if text.lower() in ("auto", "none"):
        return text.lower() if text.lower() == "auto" else None
    try:
        shape = [int(part) for part in text.lower().split("x")]
    except ValueError:
        shape = []
    if not 2 <= len(shape) <= 3 or min(shape) < 1:
        raise InputError(f"--image-shape {text!r}: give HxW or HxWxC such as 28x28, or auto, or none")
    return shape


def _label_column(text: str):
    return int(text) if text.strip().removeprefix("-").isdigit() else text


def _rates(text: str) -> float | list[float]:
    try:
        rates = [float(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise InputError(f"--dropout {text!r}: give a rate such as 0.2, or one rate per hidden layer: 0.2,0.5") from None
    return rates[0] if len(rates) == 1 else rates


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool, epochs: int, first_epoch: int = 1):
        self.enabled, self.epochs, self.epoch, self.last, self.previous = enabled, epochs, first_epoch, 0.0, 0

    def step(self, step: int, steps: int) -> None:
        if step <= self.previous:  # the step count started again: a new epoch, reported or not
            self.epoch += 1
        self.previous = step
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and step < steps):
            return
        self.last = now
        filled = 30 * step // steps
        sys.stderr.write(f"\r  epoch {self.epoch}/{self.epochs} [{'#' * filled}{'.' * (30 - filled)}] {step}/{steps}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def _percent(value) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}%"


def _report_line(stats: dict, epochs: int, unit: str) -> str:
    return (
        f"{unit} {stats['epoch']:>{len(str(epochs))}}/{epochs}  loss {stats['train_loss']:.4f}  "
        f"val {_percent(stats.get('val_accuracy'))}  test {_percent(stats.get('test_accuracy'))}  "
        f"{stats['seconds']:.2f}s"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="nnback")
def main() -> None:
    """nnback: train fully connected networks on MNIST or your own data, on the CPU (NumPy) or a GPU (CuPy)."""
    guard_streams()


DATA_HELP = ("Data: a directory or file of IDX images, a CSV file (header optional), a Keras-style .npz, or "
             "Nielsen's mnist.pkl.gz (default: the bundled MNIST).")


DEFAULTS = TrainConfig()


def _default(field: str) -> str:
    """The "[default: …]" of a help text, read from TrainConfig so that the two never disagree."""
    value = getattr(DEFAULTS, field)
    return f"[default: {','.join(map(str, value)) if isinstance(value, list) else value}]"


FLAGS = {"batch_size": "--batch-size/--full-batch", "patience": "--early-stopping", "data": "--data",
         "hidden": "--hidden", "layers": "--layers"}


def _flag(field: str | None) -> str:
    """The command-line option for a TrainConfig field (library errors name fields)."""
    return FLAGS.get(field or "", "--" + (field or "").replace("_", "-"))


def _choice(names) -> click.Choice:
    return click.Choice(list(names))


@main.command("train")
@click.option("--preset", type=_choice(PRESETS), help="Start from a named recipe (see `nnback presets`); options override it.")
@click.option("--device", type=_choice(["cpu", "cuda"]), help="cpu (NumPy) or cuda (CuPy).  " + _default("device"))
@click.option("--data", "data_path", type=click.Path(), help=DATA_HELP)
@click.option("--label-column", help="CSV: the label column, by header name or 0-based index (-1: the last).  "
                                     "[default: a column named label, class, target or y, else the only one that is "
                                     "not numbers, else the first]")
@click.option("--image-shape", help="HxW[xC]: read features as images of this shape; none: as tabular features.  "
                                    "[default: auto]")
@click.option("--hidden", help="Hidden layer sizes, comma-separated; inputs and classes come from the data.  "
                               "[default: 800,800]")
@click.option("--layers", help="All layer sizes, inputs to classes, comma-separated (checked against the data).")
@click.option("--activation", type=_choice(ACTIVATION_NAMES), help="Hidden-layer activation.  " + _default("activation"))
@click.option("--output-activation", type=_choice(ACTIVATION_NAMES), help="Output activation.  " + _default("output_activation"))
@click.option("--loss", type=_choice(LOSS_NAMES), help="Loss.  " + _default("loss"))
@click.option("--init", type=_choice(INIT_NAMES), help="Weight initialisation.  " + _default("init"))
@click.option("--optimizer", type=_choice(OPTIMIZER_NAMES), help="Optimizer.  " + _default("optimizer"))
@click.option("--lr", type=float, help="Learning rate.  [default: 0.05; 0.001 with --optimizer adam]")
@click.option("--momentum", type=float, help="Momentum for momentum/nesterov.  " + _default("momentum"))
@click.option("--weight-decay", type=float, help="L2 weight decay on the weights.  " + _default("weight_decay"))
@click.option("--schedule", type=_choice(SCHEDULES), help="Learning-rate schedule.  " + _default("schedule"))
@click.option("--warmup-epochs", type=float, help="Linear learning-rate warm-up, in epochs.  " + _default("warmup_epochs"))
@click.option("--dropout", "dropout_text", help="Dropout after each hidden layer: one rate, or one per hidden layer (0.2,0.5).  " + _default("dropout"))
@click.option("--input-dropout", type=float, help="Dropout rate on the inputs.  " + _default("input_dropout"))
@click.option("--augment", type=_choice(AUGMENT_NAMES), help="Augment image batches on the device; auto: shifts for "
                                                             "images of 16+ pixels a side.  " + _default("augment"))
@click.option("--early-stopping", "patience", type=int, help="Stop after N reports without a better validation accuracy; keep the best weights.")
@click.option("--batch-size", type=int, help="Mini-batch size (at most the training set).  " + _default("batch_size"))
@click.option("--full-batch", is_flag=True, default=None, help="Full-batch gradient descent (--epochs counts iterations).")
@click.option("--epochs", type=int, help="Epochs, or iterations with --full-batch.  " + _default("epochs"))
@click.option("--eval-every", type=int, help="Evaluate every N epochs/iterations.  " + _default("eval_every"))
@click.option("--val-size", type=int, help="Training samples held out for validation.  [default: min(10000, n/6)]")
@click.option("--test-fraction", type=float, help="A single data file: the stratified share held out as the test set.  "
                                                  + "[default: 0.2]")
@click.option("--seed", type=int, help="Seed for weights, batch order and splits.  " + _default("seed"))
@click.option("--dtype", type=_choice(DTYPE_NAMES), help="Floating dtype.  " + _default("dtype"))
@click.option("--metrics-out", type=click.Path(), help="Write the run's metrics as JSON to this file.")
@click.option("--save", type=click.Path(), help="Save a resumable checkpoint (.npz) here at the end, or on Ctrl-C.")
@click.option("--save-every", type=int, help="With --save, also save every N epochs, so a crash loses at most N.")
@click.option("--resume", type=click.Path(), help="Continue the run saved in this checkpoint; --epochs is the total.")
@click.option("--plot", type=click.Path(), help="Plot loss and accuracy per epoch to this PNG (needs matplotlib).")
@click.option("--log-csv", type=click.Path(), help="Write one CSV row per report to this file, flushed as it goes.")
@click.option("--tensorboard", type=click.Path(), help="Write TensorBoard scalars to this directory (needs tensorboardX).")
@click.option("--quiet", is_flag=True, help="Print only the final summary.")
@click.option("--distributed", type=click.Choice(["mpi", "nccl"]), help="Data-parallel over the ranks of "
              "`mpiexec -n N nnback train ...` (nccl: one GPU per rank); rank 0 prints and writes the outputs.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def train_command(metrics_out, save, save_every, resume, plot, quiet, debug, preset, log_csv, tensorboard,
                  distributed=None, **options) -> None:
    """Train a network and report its accuracy.

    With no options this runs nnback's default recipe (the `fast` preset) on the bundled MNIST:
    two hidden layers of 800 ReLU units, dropout 0.2, random ±2 px shifts, softmax cross-entropy,
    SGD with momentum and a cosine learning-rate schedule, 15 epochs. On other data (--data) the
    input and output sizes follow the data.

    Ctrl-C (or SIGTERM, or SIGHUP) stops after the current step; with --save the run is saved there and
    --resume continues it exactly.
    """
    with exit_on_signal(), _friendly_errors(debug):
        outputs = Outputs(metrics_out, save, plot, save_every, log_csv, tensorboard)
        changes = _given_options(options)
        if resume is not None and preset is not None:
            changes["preset"] = preset
        if distributed is None:
            _train(changes, outputs, quiet, resume, preset)
            return
    _train_distributed(distributed, debug, changes, outputs, quiet, resume, preset)


# --- data-parallel runs (distributed.py): rank 0 alone prints and writes; an error on any rank ends all
def _train_distributed(engine: str, debug: bool, changes: dict, outputs: Outputs, quiet: bool, resume, preset) -> None:
    from contextlib import redirect_stderr, redirect_stdout

    from .distributed import connect

    with _friendly_errors(debug):
        comm = connect(engine)
    root = comm.rank == 0
    try:
        with _friendly_errors(debug), open(os.devnull, "w") as null, \
                redirect_stdout(sys.stdout if root else null), redirect_stderr(sys.stderr if root else null):
            _train(changes, outputs if root else Outputs(), quiet or not root, resume, preset, comm)
    except click.ClickException as error:
        if comm.size == 1:
            raise
        if not root:
            time.sleep(3.0)  # an error every rank meets is rank 0's to report, once
        comm.abort(error.format_message() if root else f"rank {comm.rank}: {error.format_message()}",
                   error.exit_code)
# --- end data-parallel runs


@main.command("augment")
@click.option("--augment", "name", type=_choice(["translate", "elastic"]), default="elastic",
              show_default=True, help="Which augmentation to show.")
@click.option("--count", type=click.IntRange(1, 16), default=8, show_default=True, help="Augmented versions per digit.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of the random draws (0 to 2**63 - 1, as train's).")
@click.option("--plot", type=click.Path(), required=True, help="Write the grid of digits to this PNG.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def augment_command(name, count, seed, plot, debug) -> None:
    """Show what --augment does: eight test digits, each next to COUNT augmented versions."""
    with exit_on_signal(), _friendly_errors(debug):
        check_outputs({"--plot": plot}, kinds={"--plot": PNG})
        require_matplotlib()
        backend = get_backend("cpu")
        test = load_mnist(val_size=0).test
        digits, transform = test.images[:8], get_augmentation(name)
        versions = [to_numpy(transform(backend.asarray(digits), key)) for key in preview_keys(seed, count)]
        rows = [(f"test image {i} (a {test.labels[i]})", np.stack([digits[i]] + [v[i] for v in versions]))
                for i in range(len(digits))]
        plot_digit_grid(rows, plot, f"--augment {name}: original, then {count} draws (seed {seed})")
        click.echo(f"plotted {len(digits)} digits with {count} {name} versions each to {plot}")


@main.command("presets")
def presets_command() -> None:
    """List the named recipes for `nnback train --preset NAME`."""
    for name, preset in PRESETS.items():
        click.echo(f"{name:13} {preset.description}")
        click.echo(f"{'':13} reported by the original: {preset.reported}")


@contextmanager
def _friendly_errors(debug: bool):
    """Turn every failure into a one-line message (a traceback only with --debug)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as error:
        if debug:
            raise
        raise _as_click_error(error) from None


def _as_click_error(error: Exception) -> click.ClickException:
    if isinstance(error, (ConfigError, ResumeError)) and error.field and str(error).startswith(error.field):
        return InputError(_flag(error.field) + str(error)[len(error.field):])
    if isinstance(error, (DataError, ValueError)):
        return InputError(str(error))
    if isinstance(error, (BackendUnavailable, DistributedError, TrainingDiverged, PlotUnavailable, ImageUnavailable)):
        return click.ClickException(str(error))
    return click.ClickException(f"{type(error).__name__}: {error} (run with --debug for the traceback)")


@dataclass
class Outputs:
    """The files a training run writes; each is checked before training and written atomically."""

    metrics_out: str | None = None
    save: str | None = None
    plot: str | None = None
    save_every: int | None = None
    log_csv: str | None = None
    tensorboard: str | None = None

    def check(self, reading: dict | None = None) -> None:
        """Refuse, before any training, outputs that cannot be written the way the real write will
        happen, that collide with each other, or that would overwrite a file being read."""
        if self.save_every is not None and (self.save_every < 1 or not self.save):
            raise InputError(f"--save-every {self.save_every}: give a positive number of epochs, together with --save")
        check_outputs({"--save": self.save, "--metrics-out": self.metrics_out, "--plot": self.plot,
                       "--log-csv": self.log_csv}, reading, replaces={"--save": "--resume"}, kinds={"--plot": PNG})
        if self.plot:
            require_matplotlib()


def _train(changes: dict, outputs: Outputs, quiet: bool, resume, preset, comm=None) -> None:
    outputs.check(reading={"--resume": resume, "--data": changes.get("data")})
    if resume is not None:
        run = prepare(resume=resume, changes=changes, comm=comm)
        _refuse_unused(changes, run.config)
    else:
        config = TrainConfig.from_preset(preset, **changes)
        _refuse_unused(changes, config)
        run = prepare(config, comm=comm)
    if not quiet:
        for line in run.decisions:
            click.echo(f"  {line}")
    metrics = _fit(run, outputs, quiet).metrics
    unit = run.config.unit
    best = f", best at {unit} {metrics['best_epoch']}" if "best_epoch" in metrics else ""
    rounds = run.history[-1]["epoch"]
    click.echo(
        f"test accuracy {_percent_text(metrics['test_accuracy'])} after {rounds} {unit}{'s' * (rounds != 1)}{best} "
        f"({metrics['train_seconds']:.1f} s of training on {metrics['backend']} {metrics['dtype']})"
    )
    _write_outputs(run, outputs, metrics)


def _refuse_unused(changes: dict, config: TrainConfig) -> None:
    """An option typed for an optimizer the run does not use would silently do nothing."""
    if "momentum" in changes and config.optimizer not in ("momentum", "nesterov"):
        raise InputError(f"--momentum {changes['momentum']} has no effect with --optimizer {config.optimizer}; "
                         "use --optimizer momentum or nesterov, or leave --momentum out")


def _percent_text(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _given_options(options: dict) -> dict:
    """Only the options the user typed, as TrainConfig fields."""
    given = {name: value for name, value in options.items() if value is not None and name not in
             ("data_path", "dropout_text", "full_batch")}
    if options.get("data_path") is not None:
        given["data"] = options["data_path"]
    if options.get("dropout_text") is not None:
        given["dropout"] = _rates(options["dropout_text"])
    for name, minimum in (("layers", 2), ("hidden", 0)):
        if options.get(name) is not None:
            given[name] = _sizes(options[name], f"--{name}", minimum)
    if options.get("image_shape") is not None:
        given["image_shape"] = _image_shape(options["image_shape"])
    if options.get("label_column") is not None:
        given["label_column"] = _label_column(options["label_column"])
    if options.get("full_batch"):
        if options.get("batch_size") is not None:
            raise InputError(f"--full-batch and --batch-size {options['batch_size']} contradict each other; give one")
        given["batch_size"] = None
    return given


def _fit(run, outputs: Outputs, quiet: bool):
    """Train with a progress bar and per-report lines; stop cleanly on SIGINT/SIGTERM."""
    config, unit = run.config, run.config.unit
    progress = Progress(sys.stderr.isatty() and not quiet, config.epochs, run.position.epoch + 1)
    progress.previous = run.position.step
    logs = _open_logs(outputs, run.history)

    def report(stats: dict) -> None:
        progress.clear()
        for log in logs:
            log(stats)
        if not quiet:
            click.echo(_report_line(stats, config.epochs, unit))
        if outputs.save and outputs.save_every and stats["epoch"] % outputs.save_every == 0 \
                and stats["epoch"] < config.epochs:
            run.save(outputs.save)

    # A diverging run overflows before the next report catches it; NumPy's warnings would only
    # bury the one-line message that follows.
    with StopOnSignal() as stop, np.errstate(over="ignore", invalid="ignore"):
        try:
            result = run.fit(report, progress.step, stop)
            if stop():  # the signal came during the last evaluation: save and exit as for any other
                raise TrainingInterrupted(run.position)
            return result
        except TrainingInterrupted:
            progress.clear()
            _save_interrupted(run, outputs.save, stop)
            raise click.exceptions.Exit(stop.exit_code) from None
        except TrainingDiverged as error:
            progress.clear()
            raise click.ClickException(_diverged_message(error, config, outputs.save)) from None
        finally:
            for log in logs:
                log.close()


def _write_outputs(run, outputs: Outputs, metrics: dict) -> None:
    if outputs.save:
        run.save(outputs.save)
        click.echo(f"saved the model to {outputs.save}")
    if outputs.metrics_out:
        write_json_atomic(outputs.metrics_out, metrics)
    if outputs.plot:
        plot_history(run.history, outputs.plot)
        click.echo(f"plotted loss and accuracy to {outputs.plot}")


def _save_interrupted(run, path: str | None, stop: "StopOnSignal") -> None:
    position, unit = run.position, run.config.unit
    where = (f"after {unit} {position.epoch}" if position.step == 0
             else f"in {unit} {position.epoch + 1} after step {position.step}")
    message = f"interrupted by {stop.signal_name} {where}"
    if path is None:
        click.echo(f"{message}; nothing saved (add --save PATH to keep a resumable checkpoint)", err=True)
        return
    try:
        run.save(path)
    except (OSError, ValueError) as error:
        click.echo(f"{message}; the checkpoint was NOT saved: {error}", err=True)
        return
    click.echo(f"{message}; saved a resumable checkpoint to {path}\n"
               f"continue with: nnback train --resume {path} --save {path}", err=True)


def _diverged_message(error: TrainingDiverged, config: TrainConfig, save: str | None) -> str:
    kept = f"; {save} was left as it was" if save and os.path.exists(save) else ""
    return (f"training diverged in {config.unit} {error.epoch}: the loss became NaN or infinite by step "
            f"{error.step}; try a smaller --lr than {config.lr:g}{kept}")


# ---------------------------------------------------------------------- evaluate and predict


_device_option = click.option("--device", type=_choice(["cpu", "cuda"]), default="cpu", show_default=True,
                              help="cpu (NumPy) or cuda (CuPy).")


_read_options = [
    click.option("--data", "data_path", type=click.Path(), help=DATA_HELP + " A single file is read whole; a "
                 "train/test pair or the bundled data by its test set."),
    click.option("--label-column", help="CSV: the label column, by header name or 0-based index (-1: the last)."),
]


def _with_read_options(command):
    for option in reversed(_read_options):
        command = option(command)
    return command


@main.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@_with_read_options
@_device_option
@click.option("--metrics-out", type=click.Path(), help="Write the accuracies and confusion matrix as JSON.")
@click.option("--plot", type=click.Path(), help="Draw the confusion matrix to this PNG (needs matplotlib).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def evaluate_command(model_path, data_path, label_column, device, metrics_out, plot, debug) -> None:
    """Test a saved MODEL on labelled data: accuracy, accuracy per class and the confusion matrix."""
    with exit_on_signal(), _friendly_errors(debug):
        Outputs(metrics_out=metrics_out, plot=plot).check(reading={"MODEL": model_path, "--data": data_path})
        model, info, backend = load_model(model_path, device)
        _classifier(model_path, info)
        examples = _examples(data_path, label_column, info)
        if examples.labels is None:
            raise DataError(f"{examples.source}: has no labels to evaluate against")
        labels = _codes(examples.labels, info, examples.source)
        outputs = predict_outputs(model, backend, info.features(examples.features))
        report = evaluation_report(labels, outputs, classes=info.classes)
        click.echo(f"{model_path}: {model!r}")
        click.echo(format_confusion(report, metrics_out))
        click.echo(f"accuracy {100 * report['test_accuracy']:.2f}% on {report['test_size']} samples of {examples.source}")
        if metrics_out:
            write_json_atomic(metrics_out, {"model": str(model_path), "data": examples.source, **report})
        if plot:
            plot_confusion(report["confusion_matrix"], plot, title=f"{Path(model_path).name}: "
                           f"{100 * report['test_accuracy']:.2f}% accuracy", classes=list(info.classes))
            click.echo(f"plotted the confusion matrix to {plot}")


@main.command("predict")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option("--index", type=int, help="Classify row INDEX (0-based) of --data: of a single file, its row; of a "
                                        "train/test pair or the bundled data, of the test set.")
@click.option("--image", type=click.Path(), help="Classify this image file, e.g. a PNG (needs Pillow).")
@_with_read_options
@_device_option
@click.option("--top", type=click.IntRange(1), default=3, show_default=True, help="Classes to list.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def predict_command(model_path, index, image, data_path, label_column, device, top, debug) -> None:
    """Show one sample with MODEL's predicted class and its top probabilities."""
    with exit_on_signal(), _friendly_errors(debug):
        if (index is None) == (image is None):
            raise InputError("give exactly one of --index N (a row of --data) or --image FILE.png")
        if image is not None and (data_path is not None or label_column is not None):
            raise InputError("--image classifies one image file; --data and --label-column do not apply to it")
        if image is not None:
            require_regular_file(image, "image file")  # before anything else is read: a FIFO never blocks
        model, info, backend = load_model(model_path, device)
        _classifier(model_path, info)
        if image is not None:
            features, label = _image_features(image, info), None
        else:
            examples = _examples(data_path, label_column, info)
            if not 0 <= index < len(examples.features):
                raise InputError(f"--index {index}: {examples.source} holds {len(examples.features)} samples; "
                                 f"give 0 to {len(examples.features) - 1}")
            features = examples.features[index]
            label = None if examples.labels is None else str(examples.labels[index])
        outputs = predict_outputs(model, backend, info.features(features[None, :]))[0]
        ascii = not can_encode(SHADES + BAR)  # e.g. PYTHONIOENCODING=latin-1: draw in plain ASCII
        if info.image_shape is not None and (len(info.image_shape) == 2 or info.image_shape[2] == 1):
            click.echo(digit_art(features, info.image_shape[:2], ascii=ascii))
        click.echo(_prediction_lines(outputs, label, min(top, len(info.classes)), model.output.name, info.classes,
                                     ascii))


def _classifier(model_path, info) -> None:
    """Refuse a regressor's checkpoint where class names and labels are needed."""
    if info.targets:
        raise InputError(f"{model_path}: holds a regressor ({regression_outputs(info)}, saved by MLPRegressor); "
                         "evaluate, predict and export read classifiers: load it in Python with nnback.load_model")


def _examples(data_path, label_column, info):
    """The rows of ``data_path`` read as the model's data was (image shape or tabular, pixel scale,
    feature columns by name)."""
    examples = read_examples(data_path, label_column=label_column, model=info.reading)
    if examples.features.shape[1] != info.n_features:
        raise DataError(f"{examples.source}: has {examples.features.shape[1]} features per sample, the model takes "
                        f"{info.n_features}")
    return examples


def _codes(names, info, source: str):
    """Class names → the model's class indices, refusing names the model never learned."""
    index = {name: k for k, name in enumerate(info.classes)}
    unknown = sorted({str(name) for name in names if str(name) not in index})
    if unknown:
        raise DataError(f"{source}: class {unknown[0]!r} is not one the model knows "
                        f"({', '.join(info.classes[:12])}{', ...' if len(info.classes) > 12 else ''})")
    return np.asarray([index[str(name)] for name in names], dtype=np.int64)


def _image_features(path, info):
    """The image file as the model's inputs: MNIST's preprocessing for 28x28 digit models, the
    file's gray levels resized to the model's shape otherwise."""
    if info.image_shape is None:
        raise InputError(f"--image {path}: the model was trained on tabular features, not images")
    if tuple(info.image_shape) in ((28, 28), (28, 28, 1)):
        return load_digit(path)
    return load_image(path, info.image_shape)


BAR = "█"


def _prediction_lines(outputs, label: str | None, top: int, output_name: str, classes, ascii: bool = False) -> str:
    best = [(classes[k], value) for k, value in top_k(outputs, top)]
    correct = best[0][0] == label
    best = [(printable(name, 40), value) for name, value in best]  # a name from a file: one line, bounded
    truth = "" if label is None else f"   (true class {printable(label, 40)}{', correct' if correct else ', WRONG'})"
    lines = [f"predicted {best[0][0]}{truth}"]
    as_percent = output_name == "softmax"
    if not as_percent:
        lines.append(f"  {output_name} outputs (not probabilities):")
    width = max(len(name) for name, _ in best)
    for name, value in best:
        shown = f"{100 * value:6.2f}%" if as_percent else f"{value:7.4f}"
        bar = ("#" if ascii else BAR) * int(round(20 * min(max(value, 0.0), 1.0)))
        lines.append(f"  {name:>{width}}  {shown}  {bar}".rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------------- export


@main.command("export")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.argument("out", metavar="OUT", type=click.Path())
@click.option("--format", "format_", type=click.Choice(["onnx", "safetensors"]), default="onnx", show_default=True,
              help="onnx: a graph for any ONNX runtime (needs nnback[onnx]); safetensors: nn.Linear weights.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def export_command(model_path, out, format_, debug) -> None:
    """Export a saved MODEL to OUT for use without nnback (ONNX or safetensors).

    The class names and feature standardiser stored with the model go into the file too.
    """
    from .export import ExportUnavailable, export_model

    with exit_on_signal(), _friendly_errors(debug):
        check_outputs({"OUT": out}, {"MODEL": model_path}, kinds={"OUT": EXPORTS[format_]})
        model, info, _ = load_model(model_path)
        _classifier(model_path, info)
        standardizer = info.standardizer.as_dict() if info.standardizer is not None else None
        try:
            export_model(model, out, format_, list(info.classes), standardizer)
        except ExportUnavailable as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"exported {model!r} to {out} ({format_}, {os.path.getsize(out)} bytes)")


# ---------------------------------------------------------------------- per-report logs


def _open_logs(outputs: Outputs, history: list[dict]) -> list:
    """The --log-csv and --tensorboard logs. A resumed run's CSV starts with the earlier reports
    (the file is written anew); TensorBoard keeps them in the directory's earlier event files."""
    from .logs import CsvLog, LogUnavailable, TensorBoardLog

    logs: list = []
    if outputs.tensorboard:
        if os.path.exists(outputs.tensorboard) and not os.path.isdir(outputs.tensorboard):
            raise InputError(f"--tensorboard {outputs.tensorboard}: is a file; give a directory")
        try:
            logs.append(TensorBoardLog(outputs.tensorboard))
        except LogUnavailable as error:
            raise click.ClickException(str(error)) from None
    if outputs.log_csv:
        logs.append(CsvLog(outputs.log_csv))
        for stats in history:
            logs[-1](stats)
    return logs


if __name__ == "__main__":  # python -m nnback.cli, as well as python -m nnback and the nnback script
    main()
