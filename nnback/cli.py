"""The ``nnback`` command: flags in, a trained model and a report out, friendly errors.

Flags are read here and nowhere else. Every option defaults to "not given", so a configuration
is the recipe's defaults with only the options the user typed laid over them.
"""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from .activations import ACTIVATIONS
from .augment import AUGMENTATIONS, get_augmentation, preview_keys
from .atomic import write_json_atomic
from .backend import DTYPES, BackendUnavailable, get_backend, to_numpy
from .checkpoint import read_checkpoint, restore, save_checkpoint, stored_config
from .data import N_CLASSES, DataError, load_mnist
from .formats import load_dataset
from .images import ImageUnavailable, load_digit
from .initializers import INITIALIZERS
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .outputs import check_outputs
from .presets import PRESETS, get_preset
from .plots import PlotUnavailable, plot_confusion, plot_digit_grid, plot_history, require_matplotlib
from .report import SHADES, digit_art, evaluation_report, format_confusion, predict_outputs, top_k
from .runner import SCHEDULES, TrainConfig, prepare
from .signals import StopOnSignal, exit_on_signal
from .terminal import can_encode, guard_streams
from .training import TrainingDiverged, TrainingInterrupted


class InputError(click.ClickException):
    """A mistake in the user's input: one line, exit code 2, no traceback."""

    exit_code = 2


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",")]
    except ValueError:
        raise InputError(f"--layers {text!r}: give comma-separated integers such as 784,100,10") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise InputError(f"--layers {text!r}: need at least two positive sizes, such as 784,100,10")
    return sizes


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
@click.version_option(package_name="nnback")
def main() -> None:
    """nnback: train fully connected networks on MNIST, on the CPU (NumPy) or a GPU (CuPy)."""
    guard_streams()


ADAM_LR = 1e-3
DATA_HELP = "MNIST as IDX files, CSV, Keras mnist.npz or Nielsen mnist.pkl.gz (default: the bundled copy)."


DEFAULTS = TrainConfig()


def _default(field: str) -> str:
    """The "[default: …]" of a help text, read from TrainConfig so that the two never disagree."""
    value = getattr(DEFAULTS, field)
    return f"[default: {','.join(map(str, value)) if isinstance(value, list) else value}]"


def _choice(names) -> click.Choice:
    return click.Choice(list(names))


@main.command("train")
@click.option("--preset", type=_choice(PRESETS), help="Start from a named recipe (see `nnback presets`); options override it.")
@click.option("--device", type=_choice(["cpu", "cuda"]), help="cpu (NumPy) or cuda (CuPy).  " + _default("device"))
@click.option("--layers", help="Layer sizes, comma-separated.  " + _default("layers"))
@click.option("--activation", type=_choice(ACTIVATIONS), help="Hidden-layer activation.  " + _default("activation"))
@click.option("--output-activation", type=_choice(ACTIVATIONS), help="Output activation.  " + _default("output_activation"))
@click.option("--loss", type=_choice(LOSSES), help="Loss.  " + _default("loss"))
@click.option("--init", type=_choice(INITIALIZERS), help="Weight initialisation.  " + _default("init"))
@click.option("--optimizer", type=_choice(OPTIMIZERS), help="Optimizer.  " + _default("optimizer"))
@click.option("--lr", type=float, help=f"Learning rate.  [default: {DEFAULTS.lr:g}; {ADAM_LR:g} with --optimizer adam]")
@click.option("--momentum", type=float, help="Momentum for momentum/nesterov.  " + _default("momentum"))
@click.option("--weight-decay", type=float, help="L2 weight decay on the weights.  " + _default("weight_decay"))
@click.option("--schedule", type=_choice(SCHEDULES), help="Learning-rate schedule.  " + _default("schedule"))
@click.option("--warmup-epochs", type=float, help="Linear learning-rate warm-up, in epochs.  " + _default("warmup_epochs"))
@click.option("--dropout", "dropout_text", help="Dropout after each hidden layer: one rate, or one per hidden layer (0.2,0.5).  " + _default("dropout"))
@click.option("--input-dropout", type=float, help="Dropout rate on the input pixels.  " + _default("input_dropout"))
@click.option("--augment", type=_choice(AUGMENTATIONS), help="Augment each batch on the device.  " + _default("augment"))
@click.option("--early-stopping", "patience", type=int, help="Stop after N reports without a better validation accuracy; keep the best weights.")
@click.option("--batch-size", type=int, help="Mini-batch size.  " + _default("batch_size"))
@click.option("--full-batch", is_flag=True, default=None, help="Full-batch gradient descent (--epochs counts iterations).")
@click.option("--epochs", type=int, help="Epochs, or iterations with --full-batch.  " + _default("epochs"))
@click.option("--eval-every", type=int, help="Evaluate every N epochs/iterations.  " + _default("eval_every"))
@click.option("--val-size", type=int, help="Training images held out for validation.  " + _default("val_size"))
@click.option("--seed", type=int, help="Seed for weights, batch order and splits.  " + _default("seed"))
@click.option("--dtype", type=_choice(DTYPES), help="Floating dtype.  " + _default("dtype"))
@click.option("--data", "data_path", type=click.Path(), help=DATA_HELP)
@click.option("--metrics-out", type=click.Path(), help="Write the run's metrics as JSON to this file.")
@click.option("--save", type=click.Path(), help="Save a resumable checkpoint (.npz) here at the end, or on Ctrl-C.")
@click.option("--save-every", type=int, help="With --save, also save every N epochs, so a crash loses at most N.")
@click.option("--resume", type=click.Path(), help="Continue the run saved in this checkpoint; --epochs is the total.")
@click.option("--plot", type=click.Path(), help="Plot loss and accuracy per epoch to this PNG (needs matplotlib).")
@click.option("--quiet", is_flag=True, help="Print only the final summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def train_command(data_path, metrics_out, save, save_every, resume, plot, quiet, debug, full_batch, layers, preset,
                  dropout_text, **options) -> None:
    """Train a network on MNIST and report its accuracy.

    With no options this runs nnback's default recipe (the `fast` preset): [784, 800, 800, 10]
    ReLU, dropout 0.2, random ±2 px shifts, softmax cross-entropy, SGD with momentum and a cosine
    learning-rate schedule, 15 epochs.

    Ctrl-C (or SIGTERM, or SIGHUP) stops after the current step; with --save the run is saved there and
    --resume continues it exactly.
    """
    with exit_on_signal(), _friendly_errors(debug):
        outputs = Outputs(metrics_out, save, plot, save_every)
        if dropout_text is not None:
            options["dropout"] = _rates(dropout_text)
        _train(data_path, outputs, quiet, full_batch, layers, options, resume, preset)


@main.command("augment")
@click.option("--augment", "name", type=_choice([n for n in AUGMENTATIONS if n != "none"]), default="elastic",
              show_default=True, help="Which augmentation to show.")
@click.option("--count", type=click.IntRange(1, 16), default=8, show_default=True, help="Augmented versions per digit.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the random draws.")
@click.option("--plot", type=click.Path(), required=True, help="Write the grid of digits to this PNG.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def augment_command(name, count, seed, plot, debug) -> None:
    """Show what --augment does: eight test digits, each next to COUNT augmented versions."""
    with exit_on_signal(), _friendly_errors(debug):
        check_outputs({"--plot": plot})
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
    if isinstance(error, (DataError, ValueError)):
        return InputError(str(error))
    if isinstance(error, (BackendUnavailable, TrainingDiverged, PlotUnavailable, ImageUnavailable)):
        return click.ClickException(str(error))
    return click.ClickException(f"{type(error).__name__}: {error} (run with --debug for the traceback)")


@dataclass
class Outputs:
    """The files a training run writes; each is checked before training and written atomically."""

    metrics_out: str | None = None
    save: str | None = None
    plot: str | None = None
    save_every: int | None = None

    def check(self, reading: dict | None = None) -> None:
        if self.save_every is not None and (self.save_every < 1 or not self.save):
            raise InputError(f"--save-every {self.save_every}: give a positive number of epochs, together with --save")
        check_outputs({"--save": self.save, "--metrics-out": self.metrics_out, "--plot": self.plot}, reading,
                      replaces={"--save": "--resume"})
        if self.plot:
            require_matplotlib()


def _train(data_path, outputs: Outputs, quiet, full_batch, layers, options, resume=None, preset=None) -> None:
    saved = read_checkpoint(resume) if resume else None
    config = _configure(_given_options(options, layers, full_batch), saved, resume, preset)
    _check(config)
    if saved is not None:
        data_path = data_path or saved[0]["data"].get("path")  # resume on the data it was trained on
    outputs.check(reading={"--resume": resume, "--data": data_path})
    config = config.replace(data=data_path)
    backend = get_backend(config.device, config.dtype)
    checkpoint = _restore_run(saved, backend, config, resume) if saved is not None else None
    run = prepare(config, None, backend, resume=checkpoint)
    data_note = _data_note(data_path, run.data)
    if checkpoint is not None:
        _check_same_data(checkpoint.info, data_note, resume)
    metrics = {"preset": preset, **_fit(run, outputs, quiet, data_note).metrics}
    best = f", best at {_unit(config)} {metrics['best_epoch']}" if "best_epoch" in metrics else ""
    click.echo(
        f"test accuracy {100 * metrics['test_accuracy']:.2f}% after {run.history[-1]['epoch']} {_unit(config)}s{best} "
        f"({metrics['train_seconds']:.1f} s of training on {metrics['backend']} {metrics['dtype']})"
    )
    _write_outputs(run, outputs, metrics, data_note)


def _configure(given: dict, saved, resume, preset=None) -> TrainConfig:
    """The defaults or a preset (or the resumed checkpoint's configuration) with the typed options
    over them."""
    if saved is None:
        base = get_preset(preset).values if preset else {}
        if given.get("optimizer") == "adam" and "lr" not in given and base.get("optimizer") != "adam":
            given = {**given, "lr": ADAM_LR}  # the default lr suits SGD; Adam's is 1e-3
        return TrainConfig().replace(**{**base, **given})
    if preset:
        raise InputError(f"--resume {resume}: the run keeps its own recipe; leave out --preset {preset}")
    return _resumed_config(stored_config(saved[0], resume), given, resume)


def _given_options(options: dict, layers, full_batch) -> dict:
    """Only the options the user typed, as TrainConfig fields."""
    given = {name: value for name, value in options.items() if value is not None}
    if layers is not None:
        given["layers"] = _layers(layers)
    if full_batch:
        given["batch_size"] = None
    return given


def _unit(config: TrainConfig) -> str:
    return "iter" if config.batch_size is None else "epoch"


def _fit(run, outputs: Outputs, quiet: bool, data_note: dict):
    """Train with a progress bar and per-report lines; stop cleanly on SIGINT/SIGTERM."""
    config, unit = run.config, _unit(run.config)
    progress = Progress(sys.stderr.isatty() and not quiet, config.epochs, run.position.epoch + 1)
    progress.previous = run.position.step

    def report(stats: dict) -> None:
        progress.clear()
        if not quiet:
            click.echo(_report_line(stats, config.epochs, unit))
        if outputs.save_every and stats["epoch"] % outputs.save_every == 0 and stats["epoch"] < config.epochs:
            _save_checkpoint(outputs.save, run, data_note)

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
            _save_interrupted(run, outputs.save, stop, data_note)
            raise click.exceptions.Exit(stop.exit_code) from None
        except TrainingDiverged as error:
            progress.clear()
            raise click.ClickException(_diverged_message(error, config, outputs.save)) from None


def _write_outputs(run, outputs: Outputs, metrics: dict, data_note: dict) -> None:
    if outputs.save:
        _save_checkpoint(outputs.save, run, data_note)
        click.echo(f"saved the model to {outputs.save}")
    if outputs.metrics_out:
        write_json_atomic(outputs.metrics_out, metrics)
    if outputs.plot:
        plot_history(run.history, outputs.plot)
        click.echo(f"plotted loss and accuracy to {outputs.plot}")


# ---------------------------------------------------------------------- checkpoints and resuming

# Options that define the network, its optimizer state or the data stream: a resumed run that
# changed them would not be a continuation of the saved one.
FIXED_ON_RESUME = {
    "layers": "--layers", "activation": "--activation", "output_activation": "--output-activation",
    "loss": "--loss", "init": "--init", "optimizer": "--optimizer", "batch_size": "--batch-size/--full-batch",
    "val_size": "--val-size", "seed": "--seed",
}


def _resumed_config(stored: TrainConfig, given: dict, path: str) -> TrainConfig:
    """The checkpoint's configuration with the options the user typed laid over it."""
    for name, value in given.items():
        saved = getattr(stored, name, None)
        if name in FIXED_ON_RESUME and _normalised(name, value, stored) != _normalised(name, saved, stored):
            raise InputError(
                f"--resume {path}: {FIXED_ON_RESUME[name]} {_shown(value)} differs from the checkpoint's "
                f"{_shown(saved)}; a resumed run keeps its network, optimizer and data (leave the option out)"
            )
    return stored.replace(**given)


def _normalised(name: str, value, stored: TrainConfig):
    if name == "activation" and isinstance(value, str):
        return [value] * (len(stored.layers) - 2)
    return value


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "full batch" if value is None else str(value)


def _restore_run(saved, backend, config: TrainConfig, path: str):
    checkpoint = restore(*saved, backend=backend, path=path)
    if checkpoint.position.epoch >= config.epochs:
        raise InputError(f"--resume {path}: the checkpoint has already trained {checkpoint.position.epoch} "
                         f"{_unit(config)}s; give a larger --epochs (it counts the total, not the extra)")
    return checkpoint


def _data_note(data_path, data) -> dict:
    """What a checkpoint records about its data, so that --resume finds (and checks) the same."""
    return {
        "path": str(Path(data_path).resolve()) if data_path else None,
        "source": data.source,
        "train_size": len(data.train),
        "val_size": len(data.val),
        "test_size": len(data.test),
    }


def _check_same_data(info: dict, note: dict, path: str) -> None:
    saved = info.get("data", {}).get("train_size")
    if saved is not None and saved != note["train_size"]:
        raise InputError(f"--resume {path}: the checkpoint was trained on {saved} training images, this data has "
                         f"{note['train_size']}; resume with the same --data")


def _save_checkpoint(path: str, run, data_note: dict) -> None:
    save_checkpoint(path, run.model, run.optimizer, run.config, run.position,
                    run.shuffle_rng.bit_generator.state, run.history, data_note)


def _save_interrupted(run, path: str | None, stop: "StopOnSignal", data_note: dict) -> None:
    position = run.position
    where = (f"after {_unit(run.config)} {position.epoch}" if position.step == 0
             else f"in {_unit(run.config)} {position.epoch + 1} after step {position.step}")
    message = f"interrupted by {stop.signal_name} {where}"
    if path is None:
        click.echo(f"{message}; nothing saved (add --save PATH to keep a resumable checkpoint)", err=True)
        return
    try:
        _save_checkpoint(path, run, data_note)
    except (OSError, ValueError) as error:
        click.echo(f"{message}; the checkpoint was NOT saved: {error}", err=True)
        return
    click.echo(f"{message}; saved a resumable checkpoint to {path}\n"
               f"continue with: nnback train --resume {path} --save {path}", err=True)


def _diverged_message(error: TrainingDiverged, config: TrainConfig, save: str | None) -> str:
    kept = f"; {save} was left as it was" if save and os.path.exists(save) else ""
    return (f"training diverged in {_unit(config)} {error.epoch}: the loss became NaN or infinite by step "
            f"{error.step}; try a smaller --lr than {config.lr:g}{kept}")


def _check(config: TrainConfig) -> None:
    """Refuse numbers that cannot work before any data is read."""
    for name in ("epochs", "eval_every"):
        if getattr(config, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}")
    if config.batch_size is not None and config.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise InputError(f"--lr must be a positive number, got {config.lr}")
    if not 0 <= config.momentum < 1:
        raise InputError(f"--momentum must be at least 0 and below 1, got {config.momentum}")
    if not (config.weight_decay >= 0 and math.isfinite(config.weight_decay)):
        raise InputError(f"--weight-decay must be 0 or more, got {config.weight_decay}")
    if config.val_size < 0:
        raise InputError(f"--val-size must be 0 or more, got {config.val_size}")
    if config.seed < 0:
        raise InputError(f"--seed must be 0 or more, got {config.seed}")
    if not (config.warmup_epochs >= 0 and math.isfinite(config.warmup_epochs)):
        raise InputError(f"--warmup-epochs must be 0 or more, got {config.warmup_epochs}")
    if config.patience is not None and (config.patience < 1 or config.val_size == 0):
        raise InputError(f"--early-stopping needs a patience of at least 1 report and a validation set "
                         f"(--val-size > 0), got {config.patience} with --val-size {config.val_size}")


# ---------------------------------------------------------------------- evaluate and predict


_device_option = click.option("--device", type=_choice(["cpu", "cuda"]), default="cpu", show_default=True,
                              help="cpu (NumPy) or cuda (CuPy).")


@main.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option("--data", "data_path", type=click.Path(), help=DATA_HELP)
@_device_option
@click.option("--metrics-out", type=click.Path(), help="Write the accuracies and confusion matrix as JSON.")
@click.option("--plot", type=click.Path(), help="Draw the confusion matrix to this PNG (needs matplotlib).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def evaluate_command(model_path, data_path, device, metrics_out, plot, debug) -> None:
    """Test a saved MODEL: accuracy, accuracy per digit and the confusion matrix."""
    with exit_on_signal(), _friendly_errors(debug):
        Outputs(metrics_out=metrics_out, plot=plot).check(reading={"MODEL": model_path, "--data": data_path})
        checkpoint, backend = _load_model(model_path, device)
        test = _test_split(data_path, checkpoint.model)
        report = evaluation_report(test.labels, predict_outputs(checkpoint.model, backend, test.images))
        click.echo(f"{model_path}: {checkpoint.model!r}")
        click.echo(format_confusion(report))
        click.echo(f"test accuracy {100 * report['test_accuracy']:.2f}% on {report['test_size']} images")
        if metrics_out:
            write_json_atomic(metrics_out, {"model": str(model_path), "data": data_path, **report})
        if plot:
            plot_confusion(report["confusion_matrix"], plot, title=f"{Path(model_path).name}: "
                           f"{100 * report['test_accuracy']:.2f}% test accuracy")
            click.echo(f"plotted the confusion matrix to {plot}")


@main.command("predict")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option("--index", type=int, help="Classify this image of the test set (0-based).")
@click.option("--image", type=click.Path(), help="Classify this image file, e.g. a PNG (needs Pillow).")
@click.option("--data", "data_path", type=click.Path(), help="The MNIST directory --index reads (default: bundled).")
@_device_option
@click.option("--top", type=click.IntRange(1, N_CLASSES), default=3, show_default=True, help="Classes to list.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def predict_command(model_path, index, image, data_path, device, top, debug) -> None:
    """Show one digit in the terminal with MODEL's prediction and its top classes."""
    with exit_on_signal(), _friendly_errors(debug):
        if (index is None) == (image is None):
            raise InputError("give exactly one of --index N (a test image) or --image FILE.png")
        pixels, label = (load_digit(image), None) if image else _test_image(data_path, index)
        checkpoint, backend = _load_model(model_path, device)
        _check_inputs(checkpoint.model, pixels.shape[0], image or "--index")
        outputs = predict_outputs(checkpoint.model, backend, pixels[None, :])[0]
        ascii = not can_encode(SHADES + BAR)  # e.g. PYTHONIOENCODING=latin-1: draw in plain ASCII
        click.echo(digit_art(pixels, ascii=ascii))
        click.echo(_prediction_lines(outputs, label, top, checkpoint.model.output.name, ascii))


def _load_model(path: str, device: str):
    """A checkpoint's model on ``device``, in the dtype it was saved in."""
    info, arrays = read_checkpoint(path)
    backend = get_backend(device, info["dtype"])
    return restore(info, arrays, backend=backend, path=path), backend


def _test_split(data_path, model):
    data = load_dataset(data_path, val_size=0)
    if len(data.test) == 0:
        raise DataError(f"{data.source}: the test set is empty")
    _check_inputs(model, data.test.images.shape[1], data.source)
    return data.test


def _test_image(data_path, index: int):
    test = (load_dataset(data_path, val_size=0)).test
    if not 0 <= index < len(test):
        raise InputError(f"--index {index}: the test set holds {len(test)} images; give 0 to {len(test) - 1}")
    return test.images[index], int(test.labels[index])


def _check_inputs(model, n_pixels: int, source: str) -> None:
    if model.sizes[0] != n_pixels or model.sizes[-1] != N_CLASSES:
        raise InputError(f"{source}: the model maps {model.sizes[0]} inputs to {model.sizes[-1]} classes, "
                         f"but the images have {n_pixels} pixels and there are {N_CLASSES} classes")


BAR = "█"


def _prediction_lines(outputs, label: int | None, top: int, output_name: str, ascii: bool = False) -> str:
    best = top_k(outputs, top)
    truth = "" if label is None else f"   (true label {label}{', correct' if best[0][0] == label else ', WRONG'})"
    lines = [f"predicted {best[0][0]}{truth}"]
    as_percent = output_name == "softmax"
    if not as_percent:
        lines.append(f"  {output_name} outputs (not probabilities):")
    for digit, value in best:
        shown = f"{100 * value:6.2f}%" if as_percent else f"{value:7.4f}"
        bar = ("#" if ascii else BAR) * int(round(20 * min(max(value, 0.0), 1.0)))
        lines.append(f"  {digit}  {shown}  {bar}".rstrip())
    return "\n".join(lines)
