"""Outputs are checked before any work: two outputs that are one file, an output that is a file
the run reads, and a directory that cannot take the atomic write's temporary file are refused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnback.cli import main
from nnback.outputs import check_outputs

SMALL = ["--layers", "784,16,10", "--epochs", "1", "--val-size", "100", "--batch-size", "100"]


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def model(small_mnist_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    result = cli("train", "--data", small_mnist_dir, *SMALL, "--save", path)
    assert result.exit_code == 0, result.output
    return path


def spellings(tmp_path) -> list[tuple[str, str]]:
    """Pairs of different spellings of one file: relative and ./, a symlink, a hard link, a
    symlinked directory (for a file that does not exist yet)."""
    (tmp_path / "a.npz").write_bytes(b"x")
    (tmp_path / "link.npz").symlink_to("a.npz")
    os.link(tmp_path / "a.npz", tmp_path / "hard.npz")
    (tmp_path / "dir").mkdir()
    (tmp_path / "alias").symlink_to("dir")
    return [("a.npz", "./a.npz"), ("a.npz", "link.npz"), ("a.npz", "hard.npz"),
            ("dir/new.json", "alias/../dir/new.json"), ("dir/new.json", "alias/new.json")]


def test_two_spellings_of_one_output_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for first, second in spellings(tmp_path):
        with pytest.raises(ValueError, match=re.escape(f"--save {first} and --plot {second} are the same file")):
            check_outputs({"--save": first, "--metrics-out": "other.json", "--plot": second})


def test_an_output_that_is_an_input_is_refused_unless_it_may_replace_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for first, second in spellings(tmp_path)[:3]:
        with pytest.raises(ValueError, match=re.escape(f"--metrics-out {second} would overwrite --resume {first}")):
            check_outputs({"--save": "b.npz", "--metrics-out": second}, {"--resume": first}, {"--save": "--resume"})
        check_outputs({"--save": second}, {"--resume": first}, {"--save": "--resume"})  # continuing in place


@pytest.mark.parametrize("path, message", [
    ("/proc/nnback-out.npz", "not writable"), ("/sys/nnback-out.npz", "not writable"),
    ("/dev/null", "not a regular file (a character device)"), ("", "the path is empty"),
    ("missing/out.json", "directory missing does not exist"), ("sub/", "is a directory"),
])
def test_outputs_that_cannot_take_the_atomic_write_are_refused(tmp_path, monkeypatch, path, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=re.escape(message)):
        check_outputs({"--save": path})
    assert not os.path.exists("/proc/nnback-out.npz")
    assert list(tmp_path.iterdir()) == []  # the probe's temporary file is gone


def test_the_probe_leaves_nothing_behind(tmp_path):
    check_outputs({"--save": tmp_path / "m.npz", "--plot": tmp_path / "p.png"})
    assert list(tmp_path.iterdir()) == []


def refused(result, *fragments) -> None:
    assert result.exit_code == 2, result.output
    assert all(fragment in result.output for fragment in fragments), result.output
    assert "test accuracy" not in result.output and "epoch 1/" not in result.output


def test_train_refuses_colliding_outputs_before_training(small_mnist_dir, model, tmp_path):
    before = model.read_bytes()
    refused(cli("train", "--resume", model, "--metrics-out", model), "would overwrite --resume")
    refused(cli("train", "--resume", model, "--save", tmp_path / "b.npz", "--plot", model), "would overwrite --resume")
    assert model.read_bytes() == before
    refused(cli("train", "--data", small_mnist_dir, *SMALL, "--save", tmp_path / "a.npz", "--metrics-out",
                tmp_path / "a.npz"), "are the same file")
    refused(cli("train", "--data", small_mnist_dir, *SMALL, "--save", "/proc/nnback.npz"), "not writable")


def test_train_refuses_the_data_file_as_an_output(tmp_path):
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"stand-in: refused before it is read")
    refused(cli("train", "--data", data, "--metrics-out", data), "would overwrite --data")


def test_resuming_in_place_is_still_allowed(small_mnist_dir, model, tmp_path):
    copy = tmp_path / "copy.npz"
    copy.write_bytes(model.read_bytes())
    result = cli("train", "--resume", copy, "--save", copy, "--epochs", "2", "--quiet")
    assert result.exit_code == 0, result.output


def test_evaluate_refuses_to_overwrite_its_model(model, small_mnist_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(model.parent)
    before = model.read_bytes()
    refused(cli("evaluate", model, "--data", small_mnist_dir, "--metrics-out", model), "would overwrite MODEL")
    refused(cli("evaluate", "model.npz", "--data", small_mnist_dir, "--plot", "./model.npz"), "would overwrite MODEL")
    assert model.read_bytes() == before


def test_augment_plot_into_proc_is_refused(tmp_path):
    result = cli("augment", "--plot", "/proc/nnback-grid.png")
    assert result.exit_code == 2 and "not writable" in result.output


@pytest.mark.parametrize("args, message", [
    (["export", "{model}", "{tmp}/data.csv"], "OUT {tmp}/data.csv: writes an ONNX model; name it *.onnx"),
    (["export", "{model}", "{tmp}/m.onnx", "--format", "safetensors"], "writes safetensors weights; name it *.safetensors"),
    (["evaluate", "{model}", "--plot", "{tmp}/data.csv"], "--plot {tmp}/data.csv: writes a PNG image; name it *.png"),
    (["augment", "--plot", "{tmp}/data.csv"], "--plot {tmp}/data.csv: writes a PNG image; name it *.png"),
])
def test_an_output_named_as_another_kind_of_file_is_refused_before_writing(tmp_path, args, message):
    """`nnback export m.npz data.csv` wrote an ONNX model over the user's data file."""
    data = tmp_path / "data.csv"
    data.write_text("precious\n")
    model = tmp_path / "m.npz"
    model.write_bytes(b"")  # never read: the outputs are checked first
    filled = [arg.format(model=model, tmp=tmp_path) for arg in args]
    result = CliRunner().invoke(main, filled)
    assert result.exit_code == 2, result.output
    assert message.format(tmp=tmp_path) in result.output
    assert data.read_text() == "precious\n"
