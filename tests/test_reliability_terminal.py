"""A closed pipe or terminal never stops a run before it saves, and ``predict`` draws in plain
ASCII on a stdout that cannot encode block characters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnback.checkpoint import load_checkpoint
from nnback.cli import main
from nnback.report import ASCII_SHADES, digit_art

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--layers", "784,16,10", "--epochs", "3", "--val-size", "100", "--batch-size", "100"]


def nnback(*args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kwargs.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "nnback", *map(str, args)], env=env, timeout=120, **kwargs)


def closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.parametrize("closed", ["stdout", "both"])
def test_a_closed_stdout_still_saves_the_checkpoint_and_metrics(small_mnist_dir, tmp_path, closed):
    save, metrics = tmp_path / "ck.npz", tmp_path / "m.json"
    write = closed_pipe()
    try:
        stderr = write if closed == "both" else subprocess.PIPE
        result = nnback("train", "--data", small_mnist_dir, *QUICK, "--save", save, "--metrics-out", metrics,
                        stdout=write, stderr=stderr)
    finally:
        os.close(write)
    assert result.returncode == 0 and not result.stderr  # quiet: no traceback, no "Exception ignored"
    assert load_checkpoint(save).position.epoch == 3 and metrics.read_text().startswith("{")


def test_train_piped_into_head_saves_and_exits_quietly(small_mnist_dir, tmp_path):
    save = tmp_path / "ck.npz"
    command = (f"{sys.executable} -m nnback train --data {small_mnist_dir} {' '.join(QUICK)} --batch-size 1 "
               f"--save {save} | head -1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout.count("\n") == 1  # the pipe closed after the first line, before training
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert load_checkpoint(save).position.epoch == 3


@pytest.fixture(scope="module")
def model(small_mnist_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), *QUICK, "--save", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp437", "utf-8"])
def test_predict_draws_in_what_stdout_can_encode(model, small_mnist_dir, encoding):
    result = nnback("predict", model, "--index", "0", "--data", small_mnist_dir, capture_output=True,
                    env={"PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode(encoding)
    blocks = any(ch in text for ch in "░▒▓█")
    assert blocks == (encoding in ("utf-8", "cp437")) and "predicted" in text  # cp437 has the blocks
    assert blocks or set(text.split("predicted")[0]) <= set(ASCII_SHADES + "\n")


def test_ascii_art_has_the_shape_of_the_block_art():
    image = [i / 783 for i in range(784)]
    blocks, plain = digit_art(image), digit_art(image, ascii=True)
    assert [len(row) for row in blocks.splitlines()] == [len(row) for row in plain.splitlines()]
    assert set(plain) <= set(ASCII_SHADES + "\n")


def test_a_path_that_is_not_utf8_is_printed_escaped_not_a_crash(small_mnist_dir, tmp_path):
    save = os.fsencode(tmp_path) + b"/model-\xff.npz"
    result = nnback("train", "--data", small_mnist_dir, *QUICK, "--save", os.fsdecode(save), capture_output=True,
                    env={"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert b"saved the model to " in result.stdout and os.path.exists(save)
