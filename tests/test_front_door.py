"""One front door: the configuration checks itself, every door trains the same run, models travel
between the estimator and the CLI, and any classification data trains with the defaults."""

from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from nnback.checkpoint import load_checkpoint
from nnback.cli import main
from nnback.config import ConfigError, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("values, field", [
    ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"momentum": 1.0}, "momentum"),
    ({"weight_decay": -0.1}, "weight_decay"), ({"batch_size": 0}, "batch_size"), ({"epochs": 0}, "epochs"),
    ({"dropout": 1.0}, "dropout"), ({"hidden": [10], "layers": [784, 10, 10]}, "hidden"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"loss": "cross-entropy", "output_activation": "relu"}, "loss"),
    ({"patience": 3, "val_size": 0}, "patience"), ({"seed": -1}, "seed"), ({"image_shape": [28]}, "image_shape"),
    ({"test_fraction": 1.0}, "test_fraction"), ({"preset": "lenet"}, "preset"), ({"label_column": 1.5}, "label_column"),
    ({"preset": "nielsen"}, "preset"), ({"epochs": np.bool_(True)}, "epochs"), ({"data": b"x.csv"}, "data"),
])
def test_an_invalid_configuration_raises_when_built_naming_the_field(values, field):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**values)
    assert error.value.field == field and str(error.value).startswith(field)


def test_numpy_numbers_and_paths_are_taken_as_what_they_hold():
    """np.int64(1) was refused as "epochs must be at least 1, got np.int64(1)", a Path as "data
    must be a path"; they are stored as plain Python values, so the configuration stays JSON."""
    config = TrainConfig(epochs=np.int64(2), hidden=[np.int64(16)], batch_size=np.int32(8), lr=np.float32(0.5),
                         seed=np.uint64(3), label_column=np.int64(-1), data=Path("t.csv"), dropout=np.float64(0.1))
    assert (config.epochs, config.hidden, config.batch_size, config.lr, config.seed) == (2, [16], 8, 0.5, 3)
    assert config.data == "t.csv" and config.label_column == -1
    assert TrainConfig(shuffle_split=np.True_).shuffle_split is True
    assert json.loads(json.dumps(config.as_dict())) == config.as_dict()
    assert all(type(value) in (int, float, str, bool, list, type(None)) for value in config.as_dict().values())


def test_a_preset_is_built_with_from_preset_not_named_alone():
    """TrainConfig(preset="nielsen") trained the default recipe and recorded it as nielsen."""
    with pytest.raises(ConfigError, match=r"from_preset\('nielsen'"):
        TrainConfig(preset="nielsen", epochs=1)
    built = TrainConfig.from_preset("nielsen", epochs=1)
    assert (built.preset, built.activation, built.lr, built.epochs) == ("nielsen", "sigmoid", 3.0, 1)
    assert TrainConfig.from_dict(built.as_dict()) == built and built.replace(lr=1.0).preset == "nielsen"
    with pytest.raises(ConfigError, match=r"from_preset\('fast'"):
        TrainConfig(preset="fast")  # the rule is where the preset is set, not what it changes
    everything = TrainConfig.from_preset("max", hidden=[8], epochs=2, lr=0.1, warmup_epochs=0, augment="none")
    assert everything.preset == "max"  # every setting it changes overridden: still its recipe, as typed
    assert TrainConfig.from_dict(everything.as_dict()) == everything  # a checkpoint's config loads back


def test_the_optimizer_decides_the_default_learning_rate_wherever_the_config_is_built():
    assert TrainConfig().lr == 0.05 and TrainConfig(optimizer="adam").lr == 1e-3
    assert TrainConfig().replace(optimizer="adam").lr == 1e-3  # a defaulted lr follows the optimizer
    assert TrainConfig(lr=0.2).replace(optimizer="adam").lr == 0.2  # a chosen one stays
    assert TrainConfig.from_preset("keras-dense").lr == 1e-3 and TrainConfig.from_dict({"optimizer": "adam"}).lr == 1e-3


def test_the_library_and_the_cli_train_the_same_run(small_mnist_dir, tmp_path):
    """`nnback train --optimizer adam ...` and nnback.train(TrainConfig(optimizer="adam", ...)): bit-identical."""
    options = dict(hidden=[16], epochs=2, val_size=200, optimizer="adam", data=str(small_mnist_dir))
    save = tmp_path / "cli.npz"
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), "--hidden", "16", "--epochs", "2",
                                       "--val-size", "200", "--optimizer", "adam", "--save", str(save), "--quiet"])
    assert result.exit_code == 0, result.output
    library = nnback.train(TrainConfig(**options))
    for a, b in zip(load_checkpoint(save).model.parameters(), library.model.parameters()):
        np.testing.assert_array_equal(a, nnback.to_numpy(b))
    assert load_checkpoint(save).meta["config"]["lr"] == library.metrics["config"]["lr"] == 1e-3


def test_checkpoint_imports_nothing_of_the_run_assembly():
    tree = ast.parse((ROOT / "nnback" / "checkpoint.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"runner", "config", "presets", "sklearn", "cli"}


def write_iris(path: Path) -> Path:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    names = list(bunch.target_names)
    lines = ["sepal_length,sepal_width,species,petal_length,petal_width"]
    lines += [f"{x[0]},{x[1]},{names[t]},{x[2]},{x[3]}" for x, t in zip(bunch.data, bunch.target)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_headed_csv_with_string_labels_trains_and_predicts_by_class_name(tmp_path):
    data, save = write_iris(tmp_path / "iris.csv"), tmp_path / "iris.npz"
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data", str(data), "--label-column", "species", "--epochs", "200",
                                  "--hidden", "64,64", "--save", str(save)])
    assert result.exit_code == 0, result.output
    assert "classes sorted as text: setosa, versicolor, virginica" in result.output
    assert "held out a stratified 20% (30 rows)" in result.output and "standardised" in result.output
    accuracy = float(result.output.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 90.0
    evaluated = runner.invoke(main, ["evaluate", str(save), "--data", str(data), "--label-column", "species"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "virginica" in evaluated.output and "accuracy" in evaluated.output
    predicted = runner.invoke(main, ["predict", str(save), "--data", str(data), "--label-column", "species",
                                     "--index", "0"])
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.startswith("predicted setosa   (true class setosa, correct)")


def test_small_images_with_their_own_intensity_range_train_with_the_defaults(tmp_path):
    """scikit-learn's 8x8 digits as an (n, 8, 8) uint8 npz of intensities 0-16: ≥ 95% with no option."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, x=bunch.images.astype(np.uint8), y=bunch.target)
    result = nnback.train(TrainConfig(data=str(path), hidden=[256, 256]))
    assert result.metrics["test_accuracy"] >= 0.95
    assert result.metrics["decided"]["augment"] == "none" and result.model.sizes == [64, 256, 256, 10]
    assert any("pixels / 16" in note for note in result.metrics["decisions"])


@pytest.mark.filterwarnings("ignore::UserWarning")  # ConvergenceWarning: 30 iterations are enough here
def test_a_model_saved_by_the_estimator_is_evaluated_and_used_by_the_cli(tmp_path):
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
    save, data = tmp_path / "estimator.npz", tmp_path / "rows.csv"
    model.save(save)
    data.write_text("a,b,c,d,e,answer\n" + "\n".join(",".join(map(str, [*x, t])) for x, t in zip(X, y)) + "\n")
    result = CliRunner().invoke(main, ["evaluate", str(save), "--data", str(data), "--label-column", "answer"])
    assert result.exit_code == 0, result.output
    assert f"accuracy {100 * model.score(X, y):.2f}% on 120 samples" in result.output
    predicted = CliRunner().invoke(main, ["predict", str(save), "--data", str(data), "--label-column", "answer",
                                          "--index", "3"])
    assert predicted.exit_code == 0 and predicted.output.startswith(f"predicted {model.predict(X[3:4])[0]}")


@pytest.mark.filterwarnings("ignore::UserWarning")  # ConvergenceWarning
def test_a_regressor_saved_by_the_estimator_loads_back_and_the_cli_says_what_it_is(tmp_path):
    """MLPRegressor.save writes a checkpoint nnback.load_model reads back to the same predictions;
    the commands that need class names refuse it by name instead of calling it damaged."""
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5))
    y = np.c_[X[:, 0] - 2 * X[:, 1], X[:, 2] ** 2]
    estimator = MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
    save, data = tmp_path / "regressor.npz", tmp_path / "rows.csv"
    estimator.save(save)
    model, info, backend = nnback.load_model(save)
    assert info.targets == 2 and info.classes == () and info.n_outputs == 2
    outputs = nnback.to_numpy(model.predict_proba(backend.asarray(info.features(X.astype(np.float32)))))
    np.testing.assert_array_equal(outputs, estimator.predict(X.astype(np.float32)))
    data.write_text("a,b,c,d,e,label\n" + "\n".join(",".join(map(str, [*x, k % 2])) for k, x in enumerate(X)) + "\n")
    for args in (["evaluate", str(save), "--data", str(data)], ["predict", str(save), "--data", str(data), "--index", "0"],
                 ["export", str(save), str(tmp_path / "r.onnx")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and "holds a regressor (2 real outputs, saved by MLPRegressor)" in result.output, args
        assert "damaged" not in result.output and "Traceback" not in result.output
    resumed = CliRunner().invoke(main, ["train", "--resume", str(save), "--data", str(data), "--epochs", "2"])
    assert resumed.exit_code == 2 and f"{save}: holds a regressor (2 real outputs" in resumed.output, resumed.output
    with pytest.raises(nnback.runner.ResumeError, match="the checkpoint: holds a regressor"):  # the library's door
        nnback.runner.Trainer.resume(load_checkpoint(save), info)
    assert not (tmp_path / "r.onnx").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")  # ConvergenceWarning
def test_an_estimator_save_refuses_a_bad_image_shape_or_path_and_keeps_its_own_state(tmp_path):
    """A shape that does not fit the inputs would write a file no loader accepts; a shape given to
    one save is that file's, not the estimator's; a missing folder is named, not a temporary file."""
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPRegressor

    X = np.random.default_rng(0).random((40, 4))
    estimator = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, X.sum(axis=1))
    for shape in [(3, 3), (4,), "2x2", (2.0, 2)]:
        with pytest.raises(ValueError, match="would not load back: image shape .* does not match the model's 4 inputs"):
            estimator.save(tmp_path / "bad.npz", image_shape=shape)
    assert not (tmp_path / "bad.npz").exists()
    estimator.save(tmp_path / "images.npz", image_shape=(2, 2))
    estimator.save(tmp_path / "plain.npz")
    assert nnback.load_model(tmp_path / "images.npz")[1].image_shape == (2, 2)
    assert nnback.load_model(tmp_path / "plain.npz")[1].image_shape is None
    with pytest.raises(ValueError, match="directory .*missing does not exist"):
        estimator.save(tmp_path / "missing" / "m.npz")
    with pytest.raises(ValueError, match="is a directory"):
        estimator.save(tmp_path)


@pytest.mark.parametrize("values, fragment", [
    ({"classes": ["a", "b"], "targets": 2}, "a regressor's description names classes"),
    ({"classes": [], "targets": 3}, "targets 3 is neither 0"),
    ({"classes": [], "targets": True}, "targets True is neither 0"),
    ({"classes": []}, "2 distinct class names expected"),
    ({"classes": ["a", "b"], "label_column": 3}, "label_column 3 is not a string"),
])
def test_an_inconsistent_regression_description_is_refused(values, fragment):
    with pytest.raises(ValueError, match=fragment):
        nnback.runner.DataInfo.from_dict(values, [5, 16, 2])


def test_the_metrics_record_what_the_defaults_decided(small_mnist_dir, tmp_path):
    metrics = tmp_path / "m.json"
    result = CliRunner().invoke(main, ["train", "--data", str(small_mnist_dir), "--hidden", "8", "--epochs", "1",
                                       "--metrics-out", str(metrics), "--batch-size", "5000"])
    assert result.exit_code == 0, result.output
    recorded = json.loads(metrics.read_text())
    assert recorded["decided"]["batch_size"] == 1000 and recorded["decided"]["augment"] == "translate"
    assert recorded["decided"]["val_size"] == 200  # min(10000, 1200 / 6)
    assert "batch size 1000: the whole training set (5000 asked)" in result.output
    assert recorded["data"]["classes"] == [str(k) for k in range(10)]


@pytest.mark.parametrize("args, message", [
    (["--label-column", "x"], "label_column applies to your own data"),
    (["--test-fraction", "0.3"], "test_fraction applies to your own data"),
    (["--momentum", "0.5", "--optimizer", "adam"], "--momentum 0.5 has no effect with --optimizer adam"),
    (["--image", "x.png"], "No such option"),
])
def test_options_that_would_silently_do_nothing_are_refused(args, message):
    result = CliRunner().invoke(main, ["train", "--epochs", "1", "--hidden", "4", *args])
    assert result.exit_code == 2 and message in result.output


def test_data_settings_the_data_cannot_honour_are_refused(small_mnist_dir):
    with pytest.raises(nnback.data.DataError, match="label_column 'species' applies to CSV files"):
        nnback.load_dataset(small_mnist_dir, label_column="species")
    with pytest.raises(nnback.data.DataError, match="brings its own test set"):
        nnback.load_dataset(small_mnist_dir, test_fraction=0.3)


def test_full_layer_sizes_override_a_preset_s_hidden_sizes():
    config = TrainConfig.from_preset("nielsen", layers=[784, 50, 10])
    assert config.layers == [784, 50, 10] and config.hidden is None and config.loss == "quadratic"


def test_the_library_result_predicts_raw_samples_as_the_data_was_read(tmp_path):
    """TrainResult held only the model, which takes standardised features: on a table with one
    column in the thousands, model.predict(raw rows) said one class for every row. The result now
    carries the data description and predicts raw rows and raw pixels."""
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    x = rng.normal(labels[:, None], 0.3, (90, 4))
    x[:, 0] = x[:, 0] * 1000 + 5000
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,d,kind\n" + "".join(",".join(map(str, row)) + f",k{k}\n" for row, k in zip(x, labels)))
    result = nnback.train(TrainConfig(data=str(path), label_column="kind", hidden=[16], epochs=30, val_size=0))
    predicted = np.array(result.predict(x))
    assert np.mean(predicted == np.array([f"k{k}" for k in labels])) > 0.9
    assert result.predict_proba(x[:3]).shape == (3, 3)
    assert result.predict(x[:5].tolist()) == list(predicted[:5])  # plain lists too
    with pytest.raises(nnback.data.DataError, match="the model takes samples of 4 values"):
        result.predict(np.ones((2, 5)))

    images = rng.integers(0, 256, (60, 6, 6)).astype(np.uint8)
    digits = np.arange(60) % 2
    images[digits == 1, :3] = 255
    np.savez(tmp_path / "i.npz", x=images, y=digits)
    result = nnback.train(TrainConfig(data=str(tmp_path / "i.npz"), hidden=[8], epochs=2, val_size=0))
    assert result.info.pixel_scale == 255
    assert result.predict(images[:8]) == result.predict(images[:8].reshape(8, -1).astype(np.float32) / 255)


def test_an_estimator_fitted_on_whole_float_labels_is_evaluated_on_the_same_rows_from_a_csv(tmp_path):
    """classes_ 1.0, 2.0, 3.0 were saved as the names '1.0', ..., and the CLI refused the same
    rows read from a CSV: "class '1' is not one the model knows (1.0, 2.0, 3.0)"."""
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    y = (np.arange(60) % 3 + 1).astype(float)
    X = rng.normal(y[:, None], 0.3, (60, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 20 iterations: not what this test is about
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=20).fit(X, y).save(tmp_path / "m.npz")
    (tmp_path / "d.csv").write_text("".join(",".join(map(str, row)) + f",{int(k)}\n" for row, k in zip(X, y)))
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "m.npz"), "--data", str(tmp_path / "d.csv"),
                                       "--label-column", "-1"])
    assert result.exit_code == 0, result.output
    assert nnback.load_model(tmp_path / "m.npz")[1].classes == ("1", "2", "3")


def test_a_network_without_hidden_layers_takes_the_default_dropout_silently():
    """TrainConfig(layers=[4, 3]) was refused for the default recipe's dropout, never given."""
    assert TrainConfig(layers=[4, 3]).n_hidden == 0 and TrainConfig(hidden=[]).n_hidden == 0
    with pytest.raises(ConfigError, match="dropout must be 0"):
        TrainConfig(layers=[4, 3], dropout=0.5)


def test_a_preset_s_validation_size_that_does_not_fit_says_it_is_the_preset_s(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b,label\n" + "".join(f"{k},{2 * k},{k % 2}\n" for k in range(60)))
    with pytest.raises(nnback.data.DataError, match="1000 is the fullbatch preset's val_size"):
        nnback.prepare(TrainConfig.from_preset("fullbatch", data=str(path), epochs=1))


def test_the_result_predicts_channels_first_arrays_single_samples_and_refuses_ragged_ones(tmp_path):
    """Training reads (n, 3, h, w) arrays channels last; result.predict flattened them in their file
    layout and scored 31% on data the CLI scored 100% on."""
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (3, 3, 6, 6))
    kinds = np.arange(90) % 3
    x = np.clip(templates[kinds] + rng.integers(-20, 21, (90, 3, 6, 6)), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "chw.npz", x=x, y=kinds)
    result = nnback.train(TrainConfig(data=str(tmp_path / "chw.npz"), hidden=[16], epochs=15, val_size=0))
    assert result.info.image_shape == (6, 6, 3)
    assert result.predict(x) == result.predict(np.moveaxis(x, 1, -1))
    assert np.mean(np.array(result.predict(x)) == kinds.astype(str)) > 0.9
    assert result.predict(x[0]) == result.predict(x[:1])  # one sample alone
    with pytest.raises(nnback.data.DataError, match="not a rectangular array"):
        result.predict([[1, 2], [3]])
    with pytest.raises(nnback.data.DataError, match="the model takes samples of 108 values"):
        result.predict(np.zeros(5))


def test_an_estimator_saved_for_images_reads_every_file_with_one_divisor(tmp_path):
    """With image_shape alone, the CLI divided each file by its own range: the same image's
    prediction changed with the other rows in the file."""
    pytest.importorskip("sklearn")
    from nnback.sklearn import MLPClassifier

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 6, 6)).astype(np.uint8)
    y = np.arange(40) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=5).fit(x.reshape(40, -1) / 255.0, y).save(
            tmp_path / "m.npz", image_shape=(6, 6))
    assert nnback.load_model(tmp_path / "m.npz")[1].pixel_scale == 255
    dark = np.minimum(x[:4], 16)
    np.savez(tmp_path / "dark.npz", x=dark, y=y[:4])
    np.savez(tmp_path / "mixed.npz", x=np.concatenate([dark, x[4:8]]), y=y[:8])
    alone = CliRunner().invoke(main, ["predict", str(tmp_path / "m.npz"), "--data", str(tmp_path / "dark.npz"), "--index", "0"])
    mixed = CliRunner().invoke(main, ["predict", str(tmp_path / "m.npz"), "--data", str(tmp_path / "mixed.npz"), "--index", "0"])
    assert alone.exit_code == mixed.exit_code == 0 and alone.output == mixed.output
