"""The CLI around checkpoints: train --save/--resume/--plot, evaluate, predict, divergence and
unwritable outputs. Every run uses a small IDX directory (1,200 train / 300 test images)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from nnback.checkpoint import load_checkpoint
from nnback.cli import main
from nnback.images import load_digit
from nnback import plots
from nnback.report import confusion_matrix, evaluation_report, format_confusion

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def train_args(data_dir, *extra):
    return ["train", "--data", data_dir, "--layers", "784,16,10", "--val-size", "200", "--batch-size", "50",
            "--epochs", "2", "--quiet", *extra]


def weights(path) -> list[np.ndarray]:
    return [nnback.to_numpy(p) for p in load_checkpoint(path).model.parameters()]


def error_line(result) -> str:
    """The one error line; also checks that there is exactly one and no traceback."""
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def trained(small_mnist_dir, tmp_path_factory):
    """A model trained on the small data set, and that training's --metrics-out JSON."""
    directory = tmp_path_factory.mktemp("trained")
    model, metrics = directory / "model.npz", directory / "train.json"
    result = cli(*train_args(small_mnist_dir, "--save", model, "--metrics-out", metrics))
    assert result.exit_code == 0, result.output
    return model, json.loads(metrics.read_text())


# ---------------------------------------------------------------------------------- evaluate


def test_evaluate_prints_the_table_and_writes_json_and_plot(trained, small_mnist_dir, tmp_path):
    model, train_metrics = trained
    out, plot = tmp_path / "eval.json", tmp_path / "confusion.png"
    result = cli("evaluate", model, "--data", small_mnist_dir, "--metrics-out", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (10, 10) and confusion.sum() == report["test_size"] == 300
    assert report["test_accuracy"] == pytest.approx(np.trace(confusion) / 300)
    # The same test set, the same model: the figure training reported at its end.
    assert report["test_accuracy"] == pytest.approx(train_metrics["test_accuracy"])
    for k, accuracy in enumerate(report["per_class_accuracy"]):
        assert accuracy == pytest.approx(confusion[k, k] / confusion[k].sum())
    table = result.output.splitlines()
    assert table[1].startswith("true \\ predicted") and len(table) >= 13
    assert f"{100 * report['test_accuracy']:.2f}%" in result.output
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_confusion_matrix_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    labels, predicted = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 10),
                                  metrics.confusion_matrix(labels, predicted, labels=range(10)))



def many_class_report(n: int) -> dict:
    """An evaluation of ``n`` classes, mostly right, with a few confusions."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, n, 20 * n)
    outputs = rng.random((len(labels), n))
    outputs[np.arange(len(labels)), labels] += 0.9
    return evaluation_report(labels, outputs, classes=[f"class{k}" for k in range(n)])


def drawn_confusion(monkeypatch, path, n: int):
    """The figure plot_confusion draws for ``n`` classes (kept from its save), and the PNG."""
    pytest.importorskip("matplotlib")
    figures, save = [], plots._save
    monkeypatch.setattr(plots, "_save", lambda plt, figure, where: (figures.append(figure), save(plt, figure, where)))
    report = many_class_report(n)
    plots.plot_confusion(report["confusion_matrix"], path, classes=report["classes"])
    assert path.read_bytes().startswith(PNG_MAGIC)
    return figures[0]


def test_a_confusion_plot_of_many_classes_is_a_plain_heat_map(monkeypatch, tmp_path):
    """300 classes drew 90,000 cell labels on a 105-inch figure (79 s, a 4.4 MB PNG): now no cell
    labels, no per-class ticks and a capped size; a few classes keep both."""
    figure = drawn_confusion(monkeypatch, tmp_path / "many.png", 300)
    axes = figure.axes[0]
    assert len(axes.images) == 1 and len(axes.texts) == 0 and len(axes.get_xticks()) < 20
    assert max(figure.get_size_inches()) <= plots.MAX_SIDE + 1.0
    figure = drawn_confusion(monkeypatch, tmp_path / "few.png", 10)
    axes = figure.axes[0]
    assert len(axes.texts) == 100 and [t.get_text() for t in axes.get_xticklabels()] == [f"class{k}" for k in range(10)]


def test_the_printed_confusion_of_many_classes_is_a_short_summary():
    """300 classes printed a 460 KB table of 1,500-character lines; now the worst classes and the
    most confused pairs, and where the full matrix is."""
    report = many_class_report(300)
    text = format_confusion(report, "eval.json")
    lines = text.splitlines()
    assert len(text) < 5_000 and max(map(len, lines)) < 160
    assert "eval.json" in lines[0] and "true \\ predicted" not in text
    worst = int(np.argmin(report["per_class_accuracy"]))
    assert lines[2].split()[0] == f"class{worst}"
    assert "--metrics-out" in format_confusion(report)  # without a file, how to get one
    assert format_confusion(many_class_report(10)).startswith("true \\ predicted")

@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda tmp: tmp / "absent.npz", "no such checkpoint file"),
        (lambda tmp: (tmp / "junk.npz").write_bytes(b"junk") and tmp / "junk.npz", "not a readable nnback checkpoint"),
    ],
)
def test_evaluate_refuses_missing_or_damaged_models(tmp_path, small_mnist_dir, setup, message):
    result = cli("evaluate", setup(tmp_path), "--data", small_mnist_dir)
    assert result.exit_code == 2
    assert message in error_line(result)


# ----------------------------------------------------------------------------------- predict


def test_predict_index_shows_the_digit_and_the_model_s_top_classes(trained, small_mnist_dir):
    model, _ = trained
    result = cli("predict", model, "--index", 7, "--data", small_mnist_dir)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    art = lines[:14]
    assert all(len(line) <= 28 for line in art) and any(set(line) & set("▒▓█") for line in art)
    test = nnback.load_mnist(small_mnist_dir, val_size=0).test
    checkpoint = load_checkpoint(model)
    outputs = nnback.to_numpy(checkpoint.model.predict_proba(test.images[7:8].astype(np.float32)))[0]
    best = np.argsort(-outputs)[:3]
    assert lines[14].startswith(f"predicted {best[0]}   (true class {test.labels[7]}")
    assert [int(line.split()[0]) for line in lines[15:18]] == list(best)
    assert f"{100 * outputs[best[0]]:6.2f}%" in lines[15]


def _png(tmp_path, pixels: np.ndarray, name: str, mode: str = "L"):
    Image = pytest.importorskip("PIL.Image")
    path = tmp_path / name
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def test_a_light_background_png_of_any_size_becomes_an_mnist_digit(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    digit = nnback.load_mnist(val_size=0).test.images[0].reshape(28, 28)
    ink_on_paper = Image.fromarray(np.uint8(255 - 255 * digit)).resize((140, 140), Image.BICUBIC)
    ink_on_paper.save(tmp_path / "big.png")
    pixels = load_digit(tmp_path / "big.png")
    assert pixels.shape == (784,) and 0.0 <= pixels.min() and pixels.max() == pytest.approx(1.0)
    # MNIST digits were made the same way (20x20 box, centre of mass), so we get the original back.
    assert np.corrcoef(pixels, digit.reshape(-1))[0, 1] > 0.9


def test_transparent_background_counts_as_paper(tmp_path):
    rgba = np.zeros((60, 40, 4), dtype=np.uint8)  # fully transparent black...
    rgba[10:50, 18:22] = (0, 0, 0, 255)  # ...with an opaque black vertical stroke: a "1"
    pixels = load_digit(_png(tmp_path, rgba, "one.png", mode="RGBA")).reshape(28, 28)
    assert pixels[14, 14] > 0.9 and pixels[0, 0] == 0.0 and pixels[14, 3] == 0.0


def test_predict_image_uses_the_converted_pixels(trained, tmp_path):
    model, _ = trained
    digit = nnback.load_mnist(val_size=0).test.images[1].reshape(28, 28)
    path = _png(tmp_path, np.uint8(255 * digit), "digit.png")
    result = cli("predict", model, "--image", path)
    assert result.exit_code == 0, result.output
    outputs = nnback.to_numpy(load_checkpoint(model).model.predict_proba(load_digit(path)[None, :].astype(np.float32)))
    assert f"predicted {int(np.argmax(outputs))}" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give exactly one of --index N"),
        (["--index", 0, "--image", "x.png"], "give exactly one of --index N"),
        (["--index", 300], "holds 300 samples; give 0 to 299"),
        (["--index", -1], "holds 300 samples; give 0 to 299"),
    ],
)
def test_predict_input_errors(trained, small_mnist_dir, args, message):
    pytest.importorskip("PIL")
    result = cli("predict", trained[0], "--data", small_mnist_dir, *args)
    assert result.exit_code == 2
    assert message in error_line(result)


def test_predict_refuses_a_blank_or_non_image_file(trained, tmp_path):
    blank = _png(tmp_path, np.full((30, 30), 255, dtype=np.uint8), "blank.png")
    (tmp_path / "text.png").write_text("not a picture")
    for path, message in ((blank, "the image is blank"), (tmp_path / "text.png", "not an image Pillow can read")):
        result = cli("predict", trained[0], "--image", path)
        assert result.exit_code == 2 and message in error_line(result)


def test_missing_pillow_and_matplotlib_are_named_with_the_extra_to_install(trained, small_mnist_dir, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # makes `import PIL` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    (tmp_path / "any.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = cli("predict", trained[0], "--image", tmp_path / "any.png")
    assert result.exit_code == 1 and 'pip install "nnback[image]"' in error_line(result)
    save = tmp_path / "never.npz"
    result = cli(*train_args(small_mnist_dir, "--plot", tmp_path / "p.png", "--save", save))
    assert result.exit_code == 1 and 'pip install "nnback[plot]"' in error_line(result)
    assert "test accuracy" not in result.output and not save.exists()  # refused before training


# ----------------------------------------------------------------------------- train outputs


def test_train_plot_draws_a_png(small_mnist_dir, tmp_path):
    result = cli(*train_args(small_mnist_dir, "--plot", tmp_path / "curves.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temporary files left


@pytest.mark.parametrize("option", ["--save", "--metrics-out", "--plot"])
def test_unwritable_outputs_are_refused_before_training(small_mnist_dir, tmp_path, option):
    for target, message in ((tmp_path / "no-such-dir" / "out", "does not exist"), (tmp_path, "is a directory")):
        result = cli(*train_args(small_mnist_dir, option, target))
        assert result.exit_code == 2
        assert f"{option} {target}" in error_line(result) and message in error_line(result)
        assert "test accuracy" not in result.output


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions that bind (not root)")
def test_a_read_only_directory_is_refused_before_training(small_mnist_dir, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli(*train_args(small_mnist_dir, "--save", locked / "m.npz"))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2 and "not writable" in error_line(result)


# ------------------------------------------------------------------------------- resume


def test_save_then_resume_equals_one_uninterrupted_run(small_mnist_dir, tmp_path):
    # A constant schedule: with cosine, a 1-epoch run's schedule differs from a 3-epoch run's.
    common = ("--schedule", "constant", "--optimizer", "adam", "--lr", "0.003")
    full, part, resumed = tmp_path / "full.npz", tmp_path / "part.npz", tmp_path / "resumed.npz"
    assert cli(*train_args(small_mnist_dir, *common, "--epochs", 3, "--save", full)).exit_code == 0
    assert cli(*train_args(small_mnist_dir, *common, "--epochs", 1, "--save", part)).exit_code == 0
    result = cli("train", "--resume", part, "--epochs", 3, "--save", resumed, "--quiet")  # data found from the file
    assert result.exit_code == 0, result.output
    for a, b in zip(weights(full), weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert [entry["epoch"] for entry in load_checkpoint(resumed).history] == [1, 2, 3]


def test_save_every_writes_checkpoints_that_resume_exactly(small_mnist_dir, tmp_path, monkeypatch):

    import nnback.runner as runner_module

    copies, original = [], runner_module.save_checkpoint

    def save_and_copy(path, *args, **kwargs):
        original(path, *args, **kwargs)
        copies.append(tmp_path / f"copy{len(copies)}.npz")
        copies[-1].write_bytes(open(path, "rb").read())

    monkeypatch.setattr(runner_module, "save_checkpoint", save_and_copy)
    result = cli(*train_args(small_mnist_dir, "--epochs", 3, "--save-every", 1, "--save", tmp_path / "run.npz"))
    assert result.exit_code == 0, result.output
    assert [load_checkpoint(copy).position.epoch for copy in copies] == [1, 2, 3]  # two periodic, one final
    monkeypatch.undo()
    result = cli("train", "--resume", copies[0], "--save", tmp_path / "resumed.npz", "--quiet")
    assert result.exit_code == 0, result.output
    for a, b in zip(weights(copies[-1]), weights(tmp_path / "resumed.npz")):
        np.testing.assert_array_equal(a, b)


def test_save_every_needs_save(small_mnist_dir):
    result = cli(*train_args(small_mnist_dir, "--save-every", 1))
    assert result.exit_code == 2 and "together with --save" in error_line(result)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layers", "784,32,10"], "--layers 784,32,10 differs from the checkpoint's 784,16,10"),
        (["--activation", "tanh"], "--activation tanh differs from the checkpoint's relu"),
        (["--batch-size", "10"], "--batch-size/--full-batch 10 differs from the checkpoint's 50"),
        (["--full-batch"], "--batch-size/--full-batch full batch differs"),
        (["--optimizer", "adam"], "--optimizer adam differs from the checkpoint's momentum"),
        (["--epochs", "2"], "--epochs 2: the run has already trained 2 epochs; ask for more in total"),
        (["--dtype", "float64"], "--dtype float64 differs from the checkpoint's float32"),
        (["--seed", "1"], "--seed 1 differs from the checkpoint's 0"),
        (["--val-size", "100"], "--val-size 100 differs from the checkpoint's 200"),
    ],
)
def test_resume_refuses_a_different_run(trained, args, message):
    result = cli("train", "--resume", trained[0], "--epochs", 3, *args)
    assert result.exit_code == 2
    assert message in error_line(result)


def test_resume_refuses_different_data(trained, tmp_path):
    from conftest import write_idx
    from nnback.data import IMAGE_MAGIC, LABEL_MAGIC

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 900), ("t10k", 100)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), IMAGE_MAGIC)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n), LABEL_MAGIC)
    result = cli("train", "--resume", trained[0], "--epochs", 3, "--data", tmp_path)
    assert result.exit_code == 2
    assert "--data: this data differs from the data the checkpoint was trained on" in error_line(result)


# ---------------------------------------------------------------------------- divergence


def test_divergence_names_epoch_and_step_and_keeps_the_checkpoint(trained, small_mnist_dir, tmp_path):
    save, metrics = tmp_path / "keep.npz", tmp_path / "m.json"
    save.write_bytes(trained[0].read_bytes())
    before = save.read_bytes()
    result = cli(*train_args(small_mnist_dir, "--activation", "identity", "--output-activation", "identity",
                             "--loss", "quadratic", "--lr", "1e6", "--save", save, "--metrics-out", metrics))
    assert result.exit_code == 1
    line = error_line(result)
    assert "training diverged in epoch 1" in line and "by step 20" in line and "smaller --lr than 1e+06" in line
    assert f"{save} was left as it was" in line
    assert save.read_bytes() == before and not metrics.exists()
    assert "RuntimeWarning" not in result.output


def test_class_names_from_a_file_print_on_one_bounded_line(tmp_path):
    """A class name holding a newline broke the evaluate table and the predict lines, and a
    300-character name stretched every row: they are shown escaped and cut at 40 characters."""
    rng = np.random.default_rng(0)
    kinds = np.arange(60) % 2
    np.savez(tmp_path / "d.npz", x=rng.normal(kinds[:, None], 0.3, (60, 3)), y=np.array(["a\nb", "z" * 300])[kinds])
    model = tmp_path / "m.npz"
    trained = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--hidden", "4",
                                        "--save", str(model), "--quiet"])
    assert trained.exit_code == 0, trained.output
    for args in (["evaluate", str(model), "--data", str(tmp_path / "d.npz")],
                 ["predict", str(model), "--data", str(tmp_path / "d.npz"), "--index", "0"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "a\\nb" in result.output and "z" * 41 not in result.output
        assert not any(line.strip() == "b" or line.startswith("b ") for line in result.output.splitlines())
