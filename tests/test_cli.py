"""`nnback train` end to end on a small real-MNIST subset, and its clean failures."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from conftest import idx_subset
from nnback.cli import main


@pytest.fixture(scope="session")
def small_idx_dir(tmp_path_factory):
    """3,000 training and 1,000 test images: enough to reach a sensible accuracy in seconds."""
    return idx_subset(tmp_path_factory.mktemp("mnist-3000"), 3000, 1000)


def test_train_reaches_sensible_accuracy_and_writes_metrics(small_idx_dir, tmp_path):
    metrics = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["train", "--data", str(small_idx_dir), "--layers", "784,64,10",
                                       "--epochs", "3", "--lr", "0.2", "--batch-size", "64", "--val-size", "500",
                                       "--metrics-out", str(metrics)])
    assert result.exit_code == 0, result.output
    assert result.output.count("epoch ") == 3 and "test accuracy" in result.output
    data = json.loads(metrics.read_text())
    assert {"device", "backend", "dtype", "config", "train_size", "val_size", "test_size", "epochs",
            "test_accuracy", "train_seconds"} <= set(data)
    assert (data["device"], data["backend"], data["dtype"]) == ("cpu", "numpy", "float32")
    assert (data["train_size"], data["val_size"], data["test_size"]) == (2500, 500, 1000)
    assert [e["epoch"] for e in data["epochs"]] == [1, 2, 3]
    assert {"epoch", "train_loss", "val_accuracy", "test_accuracy", "seconds"} <= set(data["epochs"][0])
    assert data["test_accuracy"] > 0.8  # 2,500 images, 3 epochs, with the default dropout and shifts
    assert data["train_seconds"] == pytest.approx(sum(e["seconds"] for e in data["epochs"]))
    assert data["config"]["layers"] == [784, 64, 10]


def test_preset_values_are_overridden_by_options(small_idx_dir, tmp_path):
    metrics = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["train", "--preset", "nielsen", "--data", str(small_idx_dir), "--epochs", "1",
                                       "--val-size", "500", "--metrics-out", str(metrics), "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads(metrics.read_text())["config"]
    assert config["hidden"] == [30] and config["loss"] == "quadratic" and config["epochs"] == 1
    assert config["preset"] == "nielsen"
    assert config["batch_size"] == 10 and config["lr"] == 3.0


def test_full_batch_with_dropout_augmentation_and_early_stopping(small_idx_dir, tmp_path):
    metrics = tmp_path / "m.json"
    args = ["train", "--data", str(small_idx_dir), "--layers", "784,32,10", "--full-batch", "--epochs", "6",
            "--eval-every", "2", "--lr", "0.5", "--dropout", "0.2", "--augment", "translate",
            "--early-stopping", "5", "--val-size", "500", "--metrics-out", str(metrics)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    data = json.loads(metrics.read_text())
    assert data["config"]["batch_size"] is None and [e["epoch"] for e in data["epochs"]] == [2, 4, 6]


@pytest.mark.parametrize("args, message", [
    (["--lr", "0"], "--lr must be a positive number"),
    (["--batch-size", "0"], "--batch-size/--full-batch must be at least 1"),
    (["--batch-size", "5", "--full-batch"], "contradict each other"),
    (["--layers", "784,10", "--hidden", "5"], "--hidden cannot be given together with layers"),
    (["--layers", "784,x,10"], "comma-separated integers"),
    (["--layers", "784,10,10", "--dropout", "0.1,0.2"], "one rate per hidden layer (1) or a single rate for all, got 2"),
    (["--activation", "swish"], "Invalid value for '--activation'"),
    (["--preset", "nope"], "Invalid value for '--preset'"),
    (["--loss", "cross-entropy", "--output-activation", "relu"], "needs a softmax or sigmoid output"),
    (["--early-stopping", "0"], "--early-stopping must be at least 1 report"),
    (["--early-stopping", "3", "--val-size", "0"], "--early-stopping needs a validation set"),
    (["--warmup-epochs", "-1"], "--warmup-epochs must be 0 or more"),
    (["--layers", "784,10", "--dropout", "0.5"], "--dropout must be 0 for a network without hidden layers"),
    (["--layers", "784,10,3"], "--layers end with 3 outputs but the data has 10 classes"),
    (["--layers", "100,10,10"], "--layers start with 100 inputs but the data has 784 features"),
    (["--seed", "-1"], "--seed must be an integer from 0"),
])
def test_bad_options_fail_cleanly(args, message):
    result = CliRunner().invoke(main, ["train", "--epochs", "1", *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_cuda_without_a_gpu_fails_in_one_line():
    pytest.importorskip("array_api_compat")
    try:
        nnback.get_backend("cuda")
        pytest.skip("a usable GPU is present")
    except nnback.backend.BackendUnavailable:
        pass
    done = subprocess.run([sys.executable, "-m", "nnback", "train", "--device", "cuda"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "nnback[cuda]" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("module", ["nnback", "nnback.cli"])
def test_every_module_form_runs_the_command(module):
    """`python -m nnback.cli` once imported the commands and exited 0 without running any."""
    done = subprocess.run([sys.executable, "-m", module, "train", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--epochs" in done.stdout


def test_library_use_matches_the_readme(small_idx_dir):
    config = nnback.TrainConfig(layers=[784, 32, 10], epochs=3, val_size=500, data=str(small_idx_dir))
    result = nnback.train(config)
    assert 0.5 < result.metrics["test_accuracy"] <= 1.0
    predictions = result.model.predict(nnback.get_backend("cpu").asarray(np.zeros((2, 784), np.float32)))
    assert predictions.shape == (2,)


def test_augment_preview_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["augment", "--augment", "translate", "--count", "3", "--plot", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_adam_gets_its_own_default_learning_rate(small_idx_dir, tmp_path):
    metrics = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["train", "--data", str(small_idx_dir), "--layers", "784,16,10", "--epochs", "1",
                                       "--optimizer", "adam", "--val-size", "500", "--metrics-out", str(metrics)])
    assert result.exit_code == 0, result.output
    assert json.loads(metrics.read_text())["config"]["lr"] == 1e-3


def test_resume_refuses_a_preset(small_idx_dir, tmp_path):
    save = tmp_path / "run.npz"
    first = CliRunner().invoke(main, ["train", "--data", str(small_idx_dir), "--layers", "784,16,10", "--epochs", "1",
                                      "--val-size", "500", "--save", str(save), "--quiet"])
    assert first.exit_code == 0, first.output
    result = CliRunner().invoke(main, ["train", "--resume", str(save), "--preset", "nielsen", "--epochs", "2"])
    assert result.exit_code == 2 and "--preset nielsen cannot change a saved run" in result.output


def test_the_progress_bar_counts_epochs_between_reports():
    from nnback.cli import Progress

    progress = Progress(False, epochs=5)
    epochs = []
    for _ in range(3):
        for step in range(1, 4):
            progress.step(step, 3)
        epochs.append(progress.epoch)
    assert epochs == [1, 2, 3]  # with --eval-every 3 no report comes between these epochs


def test_the_summary_counts_one_epoch_in_the_singular(small_mnist_dir):
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), "--epochs", "1", "--hidden", "8",
                                       "--val-size", "100", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "after 1 epoch (" in result.output
