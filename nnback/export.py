"""Export a trained network for use without nnback: ONNX (any ONNX runtime) or safetensors (PyTorch).

ONNX (opset 13, IR version 7, so that runtimes from 2020 on load it; needs ``nnback[onnx]``):

    input  ``features``       float32 (n, d): what the network takes, e.g. MNIST pixels / 255
    output ``probabilities``  float32 (n, n_classes): ``model.predict_proba`` (softmax probabilities,
                              or the raw output activations of a sigmoid or identity output layer)
    output ``label``          int64 (n,): the index of the largest output, as ``model.predict``
    output ``class_name``     string (n,): ``classes[label]``, only when ``classes`` are given

A feature standardiser ``{"mean": [...], "std": [...]}`` is applied inside the graph as
``(features - mean) / std`` (Sub, Div) before the first layer, exactly as nnback computes it, rather
than folded into the first layer's weights, which would round differently. Every layer is one
``Gemm`` (``x @ w + b``; nnback's ``w`` is already (n_in, n_out)). A float64 model is exported in
float32, the type ONNX runtimes accelerate everywhere.

safetensors (needs the ``safetensors`` package): weights in PyTorch ``nn.Linear`` layout,
``layers.{i}.weight`` (n_out, n_in) and ``layers.{i}.bias`` (n_out,) in the model's dtype, so a
``torch.nn.ModuleList`` of ``nn.Linear`` named ``layers`` loads them with ``load_state_dict``. The
activations, classes and standardiser travel as JSON strings in the file's metadata.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from .atomic import atomic_write
from .backend import to_numpy

OPSET = 13
IR_VERSION = 7
FORMATS = ("onnx", "safetensors")

# nnback activation name → ONNX operator (softmax over the class axis, the last one).
_ONNX_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity", "softmax": "Softmax"}


class ExportUnavailable(RuntimeError):
    """The package a format needs is not installed."""


def export_model(model, path, format: str = "onnx", classes: Sequence[str] | None = None,
                 standardizer: dict | None = None) -> None:
    """Write ``model`` to ``path`` in ``format`` (``onnx`` or ``safetensors``), atomically."""
    if format == "onnx":
        export_onnx(model, path, classes, standardizer)
    elif format == "safetensors":
        export_safetensors(model, path, classes, standardizer)
    else:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------------------- checks


def _parameters(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """Host (w, b) pairs, refused when an activation is unknown or a weight is not finite."""
    for activation in [*model.hidden, model.output]:
        if activation.name not in _ONNX_OPS:
            raise ValueError(f"cannot export activation {activation.name!r}; exportable: {', '.join(_ONNX_OPS)}")
    pairs = [(to_numpy(layer.w), to_numpy(layer.b)) for layer in model.layers]
    if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in pairs):
        raise ValueError("cannot export: the weights contain NaN or infinite values (training diverged)")
    return pairs


def _check_classes(classes, n_outputs: int) -> list[str] | None:
    if classes is None:
        return None
    names = list(classes)
    if len(names) != n_outputs or not all(isinstance(name, str) for name in names):
        raise ValueError(f"classes must be {n_outputs} strings, one per output, got {names!r}")
    return names


def _check_standardizer(standardizer, n_inputs: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) as float64 arrays of the input width; std must be positive and finite."""
    if standardizer is None:
        return None
    try:
        mean = np.asarray(standardizer["mean"], dtype=np.float64)
        std = np.asarray(standardizer["std"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"the standardizer must be {{'mean': [...], 'std': [...]}} of numbers ({error})") from None
    if mean.shape != (n_inputs,) or std.shape != (n_inputs,):
        raise ValueError(f"the standardizer's mean {mean.shape} and std {std.shape} must both have "
                         f"{n_inputs} values, one per input")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError("the standardizer's mean must be finite and its std finite and positive")
    return mean, std


# ---------------------------------------------------------------------------------------- ONNX


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ExportUnavailable("ONNX export needs the onnx package; install with `pip install 'nnback[onnx]'`") from None
    return onnx


def onnx_model(model, classes: Sequence[str] | None = None, standardizer: dict | None = None):
    """The ``onnx.ModelProto`` of ``model`` (see the module docstring for its inputs and outputs)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    pairs = _parameters(model)
    n_inputs, n_outputs = pairs[0][0].shape[0], pairs[-1][0].shape[1]
    names = _check_classes(classes, n_outputs)
    scaling = _check_standardizer(standardizer, n_inputs)
    nodes, constants = [], []

    def constant(name: str, value: np.ndarray) -> str:
        constants.append(numpy_helper.from_array(value, name))
        return name

    x = "features"
    if scaling is not None:
        mean, std = (constant(name, value.astype(np.float32)) for name, value in zip(("mean", "std"), scaling))
        nodes += [helper.make_node("Sub", [x, mean], ["centred"]), helper.make_node("Div", ["centred", std], ["scaled"])]
        x = "scaled"
    activations = [a.name for a in model.hidden] + [model.output.name]
    for i, ((w, b), activation) in enumerate(zip(pairs, activations)):
        w_name = constant(f"layers.{i}.w", w.astype(np.float32))
        b_name = constant(f"layers.{i}.b", b.astype(np.float32))
        z = f"layers.{i}.z"
        nodes.append(helper.make_node("Gemm", [x, w_name, b_name], [z], name=f"layer{i}"))
        x = "probabilities" if i == len(pairs) - 1 else f"layers.{i}.a"
        if activation == "softmax":
            nodes.append(helper.make_node("Softmax", [z], [x], axis=-1))
        else:
            nodes.append(helper.make_node(_ONNX_OPS[activation], [z], [x]))
    nodes.append(helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0))
    outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", n_outputs]),
               helper.make_tensor_value_info("label", TensorProto.INT64, ["n"])]
    if names is not None:
        constant("classes", np.array(names, dtype=object))  # a string tensor
        nodes.append(helper.make_node("Gather", ["classes", "label"], ["class_name"], axis=0))
        outputs.append(helper.make_tensor_value_info("class_name", TensorProto.STRING, ["n"]))
    graph = helper.make_graph(nodes, "nnback_mlp", [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                                                                   ["n", n_inputs])],
                              outputs, initializer=constants)
    proto = helper.make_model(graph, producer_name="nnback", producer_version=_version(),
                              opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    helper.set_model_props(proto, _metadata(model, names, scaling))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, classes: Sequence[str] | None = None, standardizer: dict | None = None) -> None:
    """Write ``model`` as an ONNX file at ``path`` (atomically)."""
    payload = onnx_model(model, classes, standardizer).SerializeToString()
    with atomic_write(path) as file:
        file.write(payload)


# ---------------------------------------------------------------------------------------- safetensors


def export_safetensors(model, path, classes: Sequence[str] | None = None, standardizer: dict | None = None) -> None:
    """Write ``model``'s weights in ``nn.Linear`` layout to a safetensors file at ``path`` (atomically)."""
    try:
        from safetensors.numpy import save
    except ImportError:
        raise ExportUnavailable("safetensors export needs the safetensors package; "
                                "install with `pip install 'nnback[safetensors]'`") from None
    pairs = _parameters(model)
    names = _check_classes(classes, pairs[-1][0].shape[1])
    scaling = _check_standardizer(standardizer, pairs[0][0].shape[0])
    tensors = {}
    for i, (w, b) in enumerate(pairs):
        tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w.T)
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b)
    payload = save(tensors, metadata=_metadata(model, names, scaling))
    with atomic_write(path) as file:
        file.write(payload)


# ---------------------------------------------------------------------------------------- metadata


def _metadata(model, classes: list[str] | None, scaling) -> dict[str, str]:
    """String-to-string metadata (both formats allow only strings): enough to rebuild the network."""
    meta: dict[str, Any] = {
        "format": "nnback-export",
        "nnback_version": _version(),
        "sizes": model.sizes,
        "hidden": [a.name for a in model.hidden],
        "output": model.output.name,
    }
    if classes is not None:
        meta["classes"] = classes
    if scaling is not None:
        meta["standardizer"] = {"mean": [float(v) for v in scaling[0]], "std": [float(v) for v in scaling[1]]}
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in meta.items()}


def _version() -> str:
    from . import __version__

    return __version__

