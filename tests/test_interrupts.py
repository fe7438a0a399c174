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


@pytest.mark.parametrize("number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
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
