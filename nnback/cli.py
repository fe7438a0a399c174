"""The ``nnback`` command: flags in, a trained model and a report out, friendly errors.

Flags are read here and nowhere else. Every option defaults to "not given", so a configuration
is the recipe's defaults with only the options the user typed laid over them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from .activations import ACTIVATIONS
from .backend import DTYPES, BackendUnavailable, seeded_generators
from .data import DataError
from .formats import load_dataset
from .initializers import INITIALIZERS
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .runner import SCHEDULES, TrainConfig, train
from .training import TrainingDiverged


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


def _writable(path: str | None, option: str) -> None:
    """Fail before training, not after it, when an output path cannot be written."""
    if path is None:
        return
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InputError(f"{option} {path}: is a directory; give a file name")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InputError(f"{option} {path}: not writable")


def write_json_atomic(path: str, payload: dict) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over, so no half file is left."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool, epochs: int):
        self.enabled, self.epochs, self.epoch, self.last = enabled, epochs, 1, 0.0

    def step(self, step: int, steps: int) -> None:
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


def _choice(names) -> click.Choice:
    return click.Choice(list(names))


@main.command("train")
@click.option("--device", type=_choice(["cpu", "cuda"]), help="cpu (NumPy) or cuda (CuPy).  [default: cpu]")
@click.option("--layers", help="Layer sizes, comma-separated.  [default: 784,512,512,10]")
@click.option("--activation", type=_choice(ACTIVATIONS), help="Hidden-layer activation.  [default: relu]")
@click.option("--output-activation", type=_choice(ACTIVATIONS), help="Output activation.  [default: softmax]")
@click.option("--loss", type=_choice(LOSSES), help="Loss.  [default: cross-entropy]")
@click.option("--init", type=_choice(INITIALIZERS), help="Weight initialisation.  [default: he]")
@click.option("--optimizer", type=_choice(OPTIMIZERS), help="Optimizer.  [default: momentum]")
@click.option("--lr", type=float, help="Learning rate.  [default: 0.05]")
@click.option("--momentum", type=float, help="Momentum for momentum/nesterov.  [default: 0.9]")
@click.option("--weight-decay", type=float, help="L2 weight decay on the weights.  [default: 0]")
@click.option("--schedule", type=_choice(SCHEDULES), help="Learning-rate schedule.  [default: cosine]")
@click.option("--batch-size", type=int, help="Mini-batch size.  [default: 128]")
@click.option("--full-batch", is_flag=True, default=None, help="Full-batch gradient descent (--epochs counts iterations).")
@click.option("--epochs", type=int, help="Epochs, or iterations with --full-batch.  [default: 12]")
@click.option("--eval-every", type=int, help="Evaluate every N epochs/iterations.  [default: 1]")
@click.option("--val-size", type=int, help="Training images held out for validation.  [default: 10000]")
@click.option("--seed", type=int, help="Seed for weights, batch order and splits.  [default: 0]")
@click.option("--dtype", type=_choice(DTYPES), help="Floating dtype.  [default: float32]")
@click.option("--data", "data_path", type=click.Path(), help="MNIST as IDX files, CSV, Keras mnist.npz or Nielsen mnist.pkl.gz (default: the bundled copy).")
@click.option("--metrics-out", type=click.Path(), help="Write the run's metrics as JSON to this file.")
@click.option("--quiet", is_flag=True, help="Print only the final summary.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def train_command(data_path, metrics_out, quiet, debug, full_batch, layers, **options) -> None:
    """Train a network on MNIST and report its accuracy.

    With no options this runs nnback's default recipe: [784, 512, 512, 10] ReLU, softmax
    cross-entropy, SGD with momentum and a cosine learning-rate schedule, 12 epochs.
    """
    try:
        _train(data_path, metrics_out, quiet, full_batch, layers, options)
    except (InputError, click.ClickException):
        raise
    except Exception as error:
        if debug:
            raise
        raise _as_click_error(error) from None


def _as_click_error(error: Exception) -> click.ClickException:
    if isinstance(error, (DataError, ValueError)):
        return InputError(str(error))
    if isinstance(error, (BackendUnavailable, TrainingDiverged)):
        return click.ClickException(str(error))
    return click.ClickException(f"{type(error).__name__}: {error} (run with --debug for the traceback)")


def _train(data_path, metrics_out, quiet, full_batch, layers, options) -> None:
    given = {name: value for name, value in options.items() if value is not None}
    if layers is not None:
        given["layers"] = _layers(layers)
    if full_batch:
        given["batch_size"] = None
    config = TrainConfig().replace(**given)
    _check(config)
    _writable(metrics_out, "--metrics-out")
    data = load_dataset(data_path, config.val_size, _split_rng(config)) if data_path else None
    unit = "iter" if config.batch_size is None else "epoch"
    progress = Progress(sys.stderr.isatty() and not quiet, config.epochs)

    def report(stats: dict) -> None:
        progress.clear()
        progress.epoch = stats["epoch"] + 1
        if not quiet:
            click.echo(_report_line(stats, config.epochs, unit))

    result = train(config, data, on_report=report, on_step=progress.step)
    metrics = result.metrics
    click.echo(
        f"test accuracy {100 * metrics['test_accuracy']:.2f}% after {config.epochs} {unit}s "
        f"({metrics['train_seconds']:.1f} s of training on {metrics['backend']} {metrics['dtype']})"
    )
    if metrics_out:
        write_json_atomic(metrics_out, metrics)


def _split_rng(config: TrainConfig):
    """The generator runner.train would shuffle the bundled split with, for the same split of --data."""
    return seeded_generators(config.seed)[2] if config.shuffle_split else None


def _check(config: TrainConfig) -> None:
    """Refuse numbers that cannot work before any data is read."""
    for name in ("epochs", "eval_every"):
        if getattr(config, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(config, name)}")
    if config.batch_size is not None and config.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not config.lr > 0:
        raise InputError(f"--lr must be positive, got {config.lr}")
    if config.val_size < 0:
        raise InputError(f"--val-size must be 0 or more, got {config.val_size}")
