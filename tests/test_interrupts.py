"""Ctrl-C and SIGTERM: a real training process is signalled mid-epoch; it must save a resumable
checkpoint, exit 130 / 143, and the resumed run must end with an uninterrupted run's weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from nnback.checkpoint import load_checkpoint
from nnback.cli import main

ROOT = Path(__file__).resolve().parents[1]
# Batch size 1 makes an epoch ~1,000 steps (a few tenths of a second), so a signal sent just
# after the first epoch's report lands well inside the second epoch.
RUN = ["--layers", "784,64,10", "--batch-size", "1", "--lr", "0.01", "--epochs", "3", "--val-size", "200"]


def weights(path) -> list[np.ndarray]:
    return [nnback.to_numpy(p) for p in load_checkpoint(path).model.parameters()]


@pytest.fixture(scope="module")
def uninterrupted(small_mnist_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("uninterrupted") / "full.npz"
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), *RUN, "--save", str(path)])
    assert result.exit_code == 0, result.output
    return weights(path)


def train_then_signal(data_dir, save: Path | None, number: int) -> tuple[int, str, str]:
    """Start training in a subprocess, signal it once its first epoch is reported, wait for it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-c", "from nnback.cli import main; main()", "train", "--data", str(data_dir), *RUN]
    command += ["--save", str(save)] if save else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = process.stdout.readline()
        while first.startswith("  "):  # what the defaults decided, printed before training
            first = process.stdout.readline()
        assert first.startswith("epoch 1/3"), first + process.stderr.read()
        time.sleep(0.02)  # let epoch 2 start; it lasts 0.1-1 s (1,000 steps)
        process.send_signal(number)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, first + stdout, stderr


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_mid_epoch_saves_a_checkpoint_that_resumes_exactly(small_mnist_dir, tmp_path, uninterrupted,
                                                                    number, code):
    save = tmp_path / "run.npz"
    returncode, stdout, stderr = train_then_signal(small_mnist_dir, save, number)
    assert returncode == code, stderr
    name = signal.Signals(number).name
    assert f"interrupted by {name} in epoch 2 after step" in stderr
    assert f"saved a resumable checkpoint to {save}" in stderr and "Traceback" not in stderr
    position = load_checkpoint(save).position
    assert position.epoch == 1 and 0 < position.step < 1000  # mid-epoch 2
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary file left behind

    result = CliRunner().invoke(main, ["train", "--resume", str(save), "--save", str(save), "--quiet"])
    assert result.exit_code == 0, result.output
    for resumed, full in zip(weights(save), uninterrupted):
        np.testing.assert_array_equal(resumed, full)


def test_without_save_the_interrupt_says_nothing_was_saved(small_mnist_dir):
    returncode, _, stderr = train_then_signal(small_mnist_dir, None, signal.SIGINT)
    assert returncode == 130
    assert "nothing saved (add --save PATH to keep a resumable checkpoint)" in stderr


# ------------------------------------------------------------------ a signal in every phase

# The child makes one phase announce itself on stderr and then take its time; the hooks live here,
# in the test, not in the package. "saving" writes half a file first, as a slow disk would.
CHILD = """
import sys, time
import numpy, nnback.runner, nnback.training
phase, args = sys.argv[1], sys.argv[2:]

def announce(what, seconds):
    print("PHASE", what, file=sys.stderr, flush=True)
    time.sleep(seconds)

def slow(function, what, seconds=60):
    def wrapper(*a, **k):
        announce(what, seconds)
        return function(*a, **k)
    return wrapper

if phase == "loading":
    nnback.runner.load_dataset = slow(nnback.runner.load_dataset, "loading")
if phase == "building":
    nnback.runner.Trainer.__init__ = slow(nnback.runner.Trainer.__init__, "building")
if phase == "evaluating":
    calls, evaluate = [], nnback.training.Evaluation.__call__
    def last_evaluation_is_slow(self, model, loss):
        calls.append(1)
        if len(calls) == 2:
            announce("evaluating", 2)
        return evaluate(self, model, loss)
    nnback.training.Evaluation.__call__ = last_evaluation_is_slow
if phase == "saving":
    def half_a_save(file, **arrays):
        file.write(b"PK half a checkpoint")
        file.flush()
        announce("saving", 60)
    numpy.savez = half_a_save
from nnback.cli import main
sys.argv = ["nnback", *args]
main()
"""
QUICK = ["--layers", "784,16,10", "--epochs", "2", "--val-size", "100", "--batch-size", "100"]


def start(phase: str, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, phase, "train", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(process: subprocess.Popen, marker: str) -> str:
    """The child's output up to and including the first line that starts with ``marker``."""
    seen = ""
    while True:
        line = process.stdout.readline()
        seen += line
        if not line or line.startswith(marker):
            assert line, f"the child ended before {marker!r}:\n{seen}"
            return seen


def finish(process: subprocess.Popen, seen: str) -> tuple[int, str]:
    try:
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, seen + rest


@pytest.mark.parametrize("phase", ["loading", "building"])
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_before_training_exits_at_once_with_one_line(small_mnist_dir, tmp_path, phase, number):
    save = tmp_path / "run.npz"
    process = start(phase, "--data", small_mnist_dir, *QUICK, "--save", save)
    seen = wait_for(process, f"PHASE {phase}")
    process.send_signal(number)
    code, output = finish(process, seen)
    assert code == 128 + number, output
    name = signal.Signals(number).name
    assert output.splitlines()[-1] == f"interrupted by {name}; stopped without leaving a half-written file"
    assert "Traceback" not in output and "Aborted" not in output
    assert list(tmp_path.iterdir()) == []


def test_a_signal_during_the_final_evaluation_saves_the_finished_run(small_mnist_dir, tmp_path):
    save = tmp_path / "run.npz"
    process = start("evaluating", "--data", small_mnist_dir, *QUICK, "--save", save)
    seen = wait_for(process, "PHASE evaluating")
    process.send_signal(signal.SIGINT)
    code, output = finish(process, seen)
    assert code == 130, output
    assert f"interrupted by SIGINT after epoch 2; saved a resumable checkpoint to {save}" in output
    assert load_checkpoint(save).position.epoch == 2 and "Traceback" not in output
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


@pytest.fixture
def old_checkpoint(small_mnist_dir, tmp_path) -> Path:
    path = tmp_path / "run.npz"
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), *QUICK, "--save", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_a_signal_during_the_final_save_keeps_the_old_checkpoint(small_mnist_dir, old_checkpoint):
    before = old_checkpoint.read_bytes()
    process = start("saving", "--data", small_mnist_dir, *QUICK, "--save", old_checkpoint, "--seed", "7")
    seen = wait_for(process, "PHASE saving")
    process.send_signal(signal.SIGINT)
    code, output = finish(process, seen)
    assert code == 130, output
    assert output.splitlines()[-1] == "interrupted by SIGINT; stopped without leaving a half-written file"
    assert old_checkpoint.read_bytes() == before
    assert [p.name for p in old_checkpoint.parent.iterdir()] == ["run.npz"]  # no temporary file


def test_a_second_signal_aborts_the_interrupt_save_without_a_half_written_file(small_mnist_dir, old_checkpoint):
    """The first signal stops training and starts the save; a second aborts that save at once."""
    before = old_checkpoint.read_bytes()
    process = start("saving", "--data", small_mnist_dir, *RUN, "--save", old_checkpoint)
    seen = wait_for(process, "epoch 1/3")
    process.send_signal(signal.SIGTERM)
    seen += wait_for(process, "PHASE saving")
    process.send_signal(signal.SIGINT)
    code, output = finish(process, seen)
    assert code == 130, output
    assert "SIGTERM: stopping after this step" in output and "Traceback" not in output
    assert old_checkpoint.read_bytes() == before
    assert [p.name for p in old_checkpoint.parent.iterdir()] == ["run.npz"]
