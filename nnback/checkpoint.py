"""Checkpoints: a trained (or half-trained) run in one ``.npz`` file, without pickle.

The file holds plain arrays only: every layer's ``w`` and ``b``, the optimizer's state arrays,
and one ``checkpoint.json`` entry (UTF-8 bytes as a uint8 array) describing everything else:
the architecture, the optimizer's scalars (Adam's ``t``), where training stands (epoch, step, the
shuffle generator's state), the history so far, the nnback version, and ``meta``: an opaque JSON
object the caller fills (the run's configuration, class names, feature transform, data
fingerprint). This module knows nothing of how a run is assembled. Loading uses ``allow_pickle=False`` and checks every array's name, shape and dtype
against what that description implies, so a damaged or foreign file is refused with a message
naming the array, never half-loaded.

Arrays cross to the host with :func:`to_numpy` and back with ``backend.asarray``, so a checkpoint
written on ``--device cuda`` loads on ``--device cpu`` and the other way round.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .atomic import atomic_write
from .backend import DTYPES, get_backend, to_numpy
from .data import DataError
from .model import MLP, Dense
from .training import Position

FORMAT, FORMAT_VERSION = "nnback-checkpoint", 2
READABLE_VERSIONS = (1, 2)  # version 1 (nnback 0.1) kept its configuration and data note at the top level
INFO_KEY = "checkpoint.json"


class CheckpointError(DataError):
    """A checkpoint file is unreadable, damaged or does not match its own description."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model on a backend, the optimizer's state, and where training stands.

    ``optimizer_state`` is what the optimizer's ``state()`` returned (arrays on the backend);
    ``shuffle_state`` the batch-order generator's state when it was saved (``None`` if the run had
    none); ``meta`` the caller's own description; ``info`` the whole stored description.
    """

    model: MLP
    optimizer_state: dict
    position: Position
    shuffle_state: dict | None = None
    history: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def moved_to(self, backend) -> "Checkpoint":
        """The same checkpoint with its model and optimizer state on ``backend`` (via the host)."""
        def move(array):
            return backend.asarray(to_numpy(array))

        model = MLP([Dense(move(layer.w), move(layer.b)) for layer in self.model.layers], self.model.hidden,
                    self.model.output)
        state = {key: [move(a) for a in value] if isinstance(value, list) else value
                 for key, value in self.optimizer_state.items()}
        return dataclasses.replace(self, model=model, optimizer_state=state)


# ---------------------------------------------------------------------------------------- save


def save_checkpoint(path, model, optimizer_state: dict, *, position: Position | None = None,
                    rng_state: dict | None = None, history=(), meta: dict | None = None) -> None:
    """Write ``model``, an optimizer's ``state()`` and the run's position to ``path`` atomically.

    ``rng_state`` is the shuffle generator's ``bit_generator.state`` now; ``meta`` any JSON-ready
    description the caller wants back on load. Refuses non-finite weights: a diverged model is not
    worth resuming and must not replace a good checkpoint.
    """
    position = position or Position()
    arrays = {f"layers.{i}.{name}": to_numpy(getattr(layer, name))
              for i, layer in enumerate(model.layers) for name in ("w", "b")}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise ValueError(f"{path}: not saved, the weights contain NaN or infinite values (training diverged)")
    scalars, state_arrays = _split_state(optimizer_state)
    for key, values in state_arrays.items():
        arrays.update({f"optimizer.{key}.{j}": to_numpy(value) for j, value in enumerate(values)})
    info = _describe(model, arrays, scalars, {k: len(v) for k, v in state_arrays.items()})
    info.update(position={"epoch": position.epoch, "step": position.step, "epoch_rng_state": position.rng_state,
                          "loss_sum": float(position.loss_sum), "loss_steps": position.loss_steps},
                shuffle_rng_state=rng_state, history=list(history), meta=dict(meta or {}))
    arrays[INFO_KEY] = np.frombuffer(json.dumps(info).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]  # mypy: **arrays might fill allow_pickle


def _split_state(state: dict) -> tuple[dict, dict]:
    """An optimizer's ``state()`` → (JSON scalars, lists of arrays)."""
    scalars = {k: v for k, v in state.items() if not isinstance(v, (list, tuple))}
    return scalars, {k: list(v) for k, v in state.items() if isinstance(v, (list, tuple))}


def _describe(model, arrays: dict, scalars: dict, state_counts: dict) -> dict:
    from . import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnback_version": __version__,
        "model": {"sizes": model.sizes, "hidden": [a.name for a in model.hidden], "output": model.output.name},
        "dtype": str(arrays["layers.0.w"].dtype),
        "optimizer": {"scalars": scalars, "arrays": state_counts},
    }


# ---------------------------------------------------------------------------------------- load


def load_checkpoint(path, backend=None) -> Checkpoint:
    """Read and verify ``path``, then rebuild its model and optimizer on ``backend``
    (default: NumPy in the checkpoint's own dtype)."""
    return restore(*read_checkpoint(path), backend=backend, path=path)


def restore(info: dict, arrays: dict, backend=None, path="checkpoint") -> Checkpoint:
    """Rebuild a verified checkpoint (from :func:`read_checkpoint`) on ``backend``."""
    backend = backend or get_backend("cpu", info["dtype"])
    n_layers = len(info["model"]["sizes"]) - 1
    layers = [Dense(backend.asarray(arrays[f"layers.{i}.w"]), backend.asarray(arrays[f"layers.{i}.b"]))
              for i in range(n_layers)]
    model = MLP(layers, [get_activation(name) for name in info["model"]["hidden"]],
                get_activation(info["model"]["output"]))
    state = dict(info["optimizer"]["scalars"])
    for key, count in info["optimizer"]["arrays"].items():
        state[key] = [backend.asarray(arrays[f"optimizer.{key}.{j}"]) for j in range(count)]
    stored = info["position"]
    position = Position(stored["epoch"], stored["step"], stored["epoch_rng_state"],
                        float(stored.get("loss_sum", 0.0)), int(stored.get("loss_steps", 0)))
    return Checkpoint(model, state, position, info["shuffle_rng_state"], info["history"], _meta(info), info)


def _meta(info: dict) -> dict:
    """The caller's description; a version-1 file's top-level configuration and data note."""
    if info["format_version"] == 1:
        return {"config": info.get("config", {}), "data": info.get("data", {})}
    return info["meta"]


def read_checkpoint(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The verified description and host arrays of a checkpoint file; never runs stored code."""
    if isinstance(path, (str, os.PathLike)) and not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise CheckpointError(f"{path}: not an nnback checkpoint (a bare .npy array, not an .npz archive)")
            arrays = {name: npz[name] for name in npz.files}
    except CheckpointError:
        raise
    except Exception as error:  # a damaged zip raises many kinds: BadZipFile, OSError, ValueError, EOFError...
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: not a readable nnback checkpoint ({reason})") from None
    info = _info(path, arrays.pop(INFO_KEY, None))
    _check_arrays(path, arrays, expected_arrays(info), info["dtype"])
    return info, arrays


def _info(path, raw) -> dict:
    if raw is None:
        raise CheckpointError(f"{path}: not an nnback checkpoint (no {INFO_KEY} entry)")
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"{INFO_KEY} is {raw.dtype} {raw.shape}, expected uint8 bytes")
        info = json.loads(raw.tobytes().decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{path}: damaged checkpoint description ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nnback checkpoint (format {_get(info, 'format')!r})")
    if info.get("format_version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: checkpoint format version {info.get('format_version')!r}; "
                              f"this nnback reads versions {', '.join(map(str, READABLE_VERSIONS))}")
    try:
        _check_info(info)
    except (KeyError, TypeError, ValueError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise CheckpointError(f"{path}: damaged checkpoint description ({detail})") from None
    return info


def _get(info, key):
    return info.get(key) if isinstance(info, dict) else type(info).__name__


def _check_info(info: dict) -> None:
    """Type-check the description, so everything downstream can trust it."""
    model = info["model"]
    sizes, hidden = model["sizes"], model["hidden"]
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(n) and n >= 1 for n in sizes)):
        raise ValueError(f"layer sizes {sizes!r} are not two or more positive integers")
    if not (isinstance(hidden, list) and len(hidden) == len(sizes) - 2):
        raise ValueError(f"{len(sizes) - 2} hidden activations expected, got {hidden!r}")
    for name in [*hidden, model["output"]]:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}")
    if info["dtype"] not in DTYPES:
        raise ValueError(f"unknown dtype {info['dtype']!r}")
    optimizer = info["optimizer"]
    if not isinstance(optimizer["scalars"], dict) or not isinstance(optimizer["arrays"], dict):
        raise ValueError("optimizer scalars and arrays must be objects")
    n_parameters = 2 * (len(sizes) - 1)
    for key, count in optimizer["arrays"].items():
        if count not in (0, n_parameters) or not _is_int(count):
            raise ValueError(f"optimizer state {key!r} has {count!r} arrays; expected 0 or {n_parameters}")
    position = info["position"]
    if not (_is_int(position["epoch"]) and _is_int(position["step"]) and min(position["epoch"], position["step"]) >= 0):
        raise ValueError(f"position {position!r} is not two non-negative integers")
    loss_sum, loss_steps = position.get("loss_sum", 0.0), position.get("loss_steps", 0)
    if not (isinstance(loss_sum, (int, float)) and math.isfinite(loss_sum) and _is_int(loss_steps) and loss_steps >= 0):
        raise ValueError(f"position's running loss {loss_sum!r} over {loss_steps!r} steps is not a number and a count")
    for state in (position["epoch_rng_state"], info["shuffle_rng_state"]):
        _check_rng_state(state)
    _check_history(info["history"])
    if info["format_version"] == 1:
        if not isinstance(info["config"], dict):
            raise ValueError("config must be an object")
        _check_data_note(info["data"])
    elif not isinstance(info["meta"], dict):
        raise ValueError("meta must be an object")


def _check_history(history) -> None:
    """Reports are flat objects of numbers (epoch, losses, accuracies, seconds, lr)."""
    if not isinstance(history, list):
        raise ValueError("history must be a list")
    for entry in history:
        if not (isinstance(entry, dict) and _is_int(entry.get("epoch")) and _is_number(entry.get("seconds"))):
            raise ValueError(f"history entry {entry!r} lacks an integer epoch and a number of seconds")
        if not all(value is None or _is_number(value) for value in entry.values()):
            raise ValueError(f"history entry {entry!r} holds values that are not numbers")


def _check_data_note(note) -> None:
    if not isinstance(note, dict):
        raise ValueError("data must be an object")
    if not isinstance(note.get("path"), (str, type(None))):
        raise ValueError(f"data path {note.get('path')!r} is not a string")
    if not (note.get("train_size") is None or _is_int(note["train_size"])):
        raise ValueError(f"data train_size {note.get('train_size')!r} is not an integer")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_rng_state(state) -> None:
    if state is None:
        return
    try:
        np.random.PCG64().state = state
    except Exception as error:  # NumPy raises TypeError, ValueError or KeyError for a bad state
        raise ValueError(f"invalid random generator state ({type(error).__name__}: {error})") from None


def expected_arrays(info: dict) -> dict[str, tuple[int, ...]]:
    """Every array name the description implies, with its shape."""
    sizes = info["model"]["sizes"]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"layers.{i}.w"], shapes[f"layers.{i}.b"] = (n_in, n_out), (n_out,)
    parameter_shapes = list(shapes.values())
    for key, count in info["optimizer"]["arrays"].items():
        shapes.update({f"optimizer.{key}.{j}": shape for j, shape in enumerate(parameter_shapes[:count])})
    return shapes


def _check_arrays(path, arrays: dict, expected: dict, dtype: str) -> None:
    missing = [name for name in expected if name not in arrays]
    extra = [name for name in arrays if name not in expected]
    if missing:
        raise CheckpointError(f"{path}: array {missing[0]!r} is missing (expected shape {expected[missing[0]]})")
    if extra:
        raise CheckpointError(f"{path}: unexpected array {extra[0]!r} of shape {arrays[extra[0]].shape}")
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise CheckpointError(f"{path}: array {name!r} has shape {arrays[name].shape}, expected {shape}")
        if arrays[name].dtype != np.dtype(dtype):
            raise CheckpointError(f"{path}: array {name!r} has dtype {arrays[name].dtype}, expected {dtype}")
