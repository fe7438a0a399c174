"""ONNX and safetensors export: the exported network computes what nnback computes.

Checked with independent readers (onnxruntime, safetensors' NumPy API, torch if present), not
with nnback's own formulas. Each test skips cleanly when the reader it needs is not installed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import nnback
from nnback.cli import main
from nnback.export import export_model, export_onnx, export_safetensors
from nnback.features import Standardizer
from nnback.runner import DataInfo, TrainConfig, Trainer

DIGITS = [f"digit {i}" for i in range(10)]


def _model(sizes, activation="relu", output="softmax", dtype="float32", seed=0):
    return nnback.MLP.create(sizes, nnback.get_backend("cpu", dtype), np.random.default_rng(seed), activation, output)


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def mnist_test_1000():
    return nnback.load_mnist(val_size=0).test.images[:1000].astype(np.float32)


@pytest.fixture(scope="module")
def trained_mnist_model(mnist_test_1000):
    """A [784, 64, 32, 10] network after a few SGD steps, so its outputs are far from uniform."""
    model = _model([784, 64, 32, 10], ["relu", "tanh"])
    data = nnback.load_mnist(val_size=0).train
    x, y = data.images[:2000].astype(np.float32), data.labels[:2000].astype(np.int64)
    optimizer, loss = nnback.SGD(lr=0.1), nnback.get_loss("cross-entropy")
    for start in range(0, 2000, 100):
        nnback.train_step(model, loss, optimizer, x[start:start + 100], y[start:start + 100])
    return model


def test_onnx_matches_predict_proba_on_1000_mnist_images(trained_mnist_model, mnist_test_1000, tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "mnist.onnx"
    export_onnx(trained_mnist_model, path, classes=DIGITS)
    probabilities, label, class_name = _session(path).run(None, {"features": mnist_test_1000})
    expected = trained_mnist_model.predict_proba(mnist_test_1000)
    assert probabilities.shape == (1000, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
    assert np.array_equal(label, np.argmax(expected, axis=1)) and label.dtype == np.int64
    assert list(class_name) == [DIGITS[i] for i in label]
    assert np.mean(label == nnback.load_mnist(val_size=0).test.labels[:1000]) > 0.5  # it did learn something


@pytest.mark.parametrize("hidden, output", [(["sigmoid", "identity"], "sigmoid"), (["softmax", "relu"], "identity")])
def test_onnx_folds_in_the_standardizer_for_every_activation(hidden, output, tmp_path):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(3)
    model = _model([6, 8, 5, 3], hidden, output, dtype="float64")  # exported in float32
    mean, std = rng.normal(size=6) * 10, rng.uniform(0.5, 20.0, size=6)
    x = (rng.normal(size=(200, 6)) * std + mean).astype(np.float32)
    path = tmp_path / "tabular.onnx"
    export_onnx(model, path, standardizer={"mean": mean.tolist(), "std": std.tolist()})
    session = _session(path)
    assert [o.name for o in session.get_outputs()] == ["probabilities", "label"]  # no classes: no names
    probabilities, label = session.run(None, {"features": x})
    expected = model.predict_proba((x.astype(np.float64) - mean) / std)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
    assert np.array_equal(label, np.argmax(expected, axis=1))


def test_onnx_metadata_describes_the_network(tmp_path):
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    export_onnx(_model([4, 3, 2]), path, classes=["no", "yes"])
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["sizes"]) == [4, 3, 2] and json.loads(meta["classes"]) == ["no", "yes"]
    assert proto.opset_import[0].version == 13 and proto.ir_version == 7
    assert meta["nnback_version"] == nnback.__version__


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": ["a", "b"]}, "classes must be 3 strings"),
    ({"standardizer": {"mean": [0.0] * 4}}, "standardizer must be"),
    ({"standardizer": {"mean": [0.0] * 3, "std": [1.0] * 4}}, "must both have 4 values"),
    ({"standardizer": {"mean": [0.0] * 4, "std": [1.0, 0.0, 1.0, 1.0]}}, "std finite and positive"),
    ({"format": "tflite"}, "unknown export format 'tflite'"),
])
def test_export_refuses_what_it_cannot_export_in_one_line(kwargs, message, tmp_path):
    path = tmp_path / "out"
    with pytest.raises(ValueError, match=message) as caught:
        export_model(_model([4, 5, 3]), path, **kwargs)
    assert "\n" not in str(caught.value) and not path.exists()


def test_export_refuses_diverged_weights(tmp_path):
    model = _model([4, 5, 3])
    model.layers[0].w[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        export_model(model, tmp_path / "out.onnx")


def test_onnx_without_the_package_says_how_to_install(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "onnx"
                        else real_import(name, *a, **k))
    with pytest.raises(nnback.export.ExportUnavailable, match=r"pip install 'nnback\[onnx\]'"):
        export_onnx(_model([4, 5, 3]), tmp_path / "out.onnx")


def test_safetensors_holds_linear_layout_weights_and_metadata(tmp_path):
    safe_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    model = _model([5, 4, 3], "tanh")
    path = tmp_path / "m.safetensors"
    export_safetensors(model, path, classes=["a", "b", "c"], standardizer={"mean": [1.0] * 5, "std": [2.0] * 5})
    tensors = safe_numpy.load_file(str(path))
    assert sorted(tensors) == ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]
    for i, layer in enumerate(model.layers):
        assert np.array_equal(tensors[f"layers.{i}.weight"], layer.w.T) and tensors[f"layers.{i}.weight"].dtype == np.float32
        assert np.array_equal(tensors[f"layers.{i}.bias"], layer.b)
    with safe_open(str(path), "np") as file:
        meta = file.metadata()
    assert json.loads(meta["hidden"]) == ["tanh"] and meta["output"] == "softmax"
    assert json.loads(meta["standardizer"]) == {"mean": [1.0] * 5, "std": [2.0] * 5}
    # The same forward pass from the stored tensors alone, as a PyTorch user would write it.
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    h = np.tanh(x @ tensors["layers.0.weight"].T + tensors["layers.0.bias"])
    z = h @ tensors["layers.1.weight"].T + tensors["layers.1.bias"]
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), model.predict_proba(x), atol=1e-6)


def test_safetensors_loads_into_torch_linear_layers(tmp_path):
    torch = pytest.importorskip("torch")  # never a dependency: only checked where it is installed
    from safetensors.torch import load_file

    model = _model([5, 4, 3])
    path = tmp_path / "m.safetensors"
    export_safetensors(model, path)
    layers = torch.nn.ModuleList([torch.nn.Linear(5, 4), torch.nn.Linear(4, 3)])
    layers.load_state_dict({key.removeprefix("layers."): value for key, value in load_file(str(path)).items()})
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    with torch.no_grad():
        z = layers[1](torch.relu(layers[0](torch.from_numpy(x))))
    np.testing.assert_allclose(torch.softmax(z, dim=1).numpy(), model.predict_proba(x), atol=1e-6)


def _checkpoint(tmp_path, model, classes=None, standardizer=None):
    """A checkpoint of ``model`` saved through the front door, with class names and a standardiser."""
    classes = tuple(classes or (str(k) for k in range(model.sizes[-1])))
    info = DataInfo(model.sizes[0], classes, standardizer=standardizer and Standardizer.from_dict(standardizer))
    trainer = Trainer(TrainConfig(layers=model.sizes, optimizer="sgd", augment="none"), info)
    trainer.model.load_parameters(model.parameters())
    path = tmp_path / "model.npz"
    trainer.save(path)
    return path


def test_cli_export_onnx_carries_the_stored_classes_and_standardizer(tmp_path):
    pytest.importorskip("onnx")
    model = _model([3, 4, 2])
    standardizer = {"mean": [1.0, 2.0, 3.0], "std": [2.0, 4.0, 8.0]}
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", str(_checkpoint(tmp_path, model, ["cat", "dog"], standardizer)), str(out)])
    assert result.exit_code == 0, result.output
    assert "exported MLP([3, 4, 2]" in result.output
    x = np.array([[1.0, 2.0, 3.0], [5.0, -2.0, 11.0]], dtype=np.float32)
    probabilities, label, names = _session(out).run(None, {"features": x})
    expected = model.predict_proba((x - np.array([1.0, 2.0, 3.0])) / np.array([2.0, 4.0, 8.0]))
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert list(names) == [["cat", "dog"][i] for i in label]


def test_cli_export_safetensors_and_clean_failures(tmp_path):
    pytest.importorskip("safetensors")
    checkpoint = _checkpoint(tmp_path, _model([3, 4, 2]))
    out = tmp_path / "m.safetensors"
    result = CliRunner().invoke(main, ["export", str(checkpoint), str(out), "--format", "safetensors"])
    assert result.exit_code == 0 and out.exists(), result.output
    missing = CliRunner().invoke(main, ["export", str(tmp_path / "none.npz"), str(out), "--format", "safetensors"])
    assert missing.exit_code == 2 and "no such checkpoint file" in missing.output
    assert "Traceback" not in missing.output
