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
written on a GPU loads on the CPU and the other way round.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .atomic import atomic_write
from .backend import DTYPES, get_backend, to_numpy
from .data import DataError
from .files import NotRegularFile, require_regular_file
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
    """The verified description and host arrays of a checkpoint file; never runs stored code.

    Nothing is trusted before it is checked: the path must be a regular file (a FIFO would block),
    the zip's member names must be the ones the description implies, and every member's npy header
    (dtype, shape, hence byte size) must match both the description and the member's stored size
    before any array is allocated, so a small crafted file cannot make us allocate gigabytes.
    """
    if isinstance(path, (str, os.PathLike)):
        try:
            require_regular_file(path, "checkpoint file")
        except NotRegularFile as error:
            raise CheckpointError(str(error)) from None
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_archive(path, archive)
    except CheckpointError:
        raise
    except Exception as error:  # a damaged zip raises many kinds: BadZipFile, OSError, ValueError, EOFError...
        raise CheckpointError(f"{path}: not a readable nnback checkpoint ({_what_it_is(path, error)})") from None


def _what_it_is(path, error: Exception) -> str:
    """Name what a file that is not a zip archive looks like, from its first bytes."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not isinstance(error, zipfile.BadZipFile) or not isinstance(path, (str, os.PathLike)):
        return reason
    with open(path, "rb") as file:
        head = file.read(64)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"{kind}, not an .npz archive"
    if not head:
        return "an empty file"
    if head.lstrip()[:1] in (b"{", b"["):
        return "JSON or text, not an .npz archive"
    return "not a zip archive"


_MAGIC = ((b"\x93NUMPY", "a bare .npy array"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"\x1f\x8b", "a gzip file"), (b"\x80", "a Python pickle"))
# nnback stores members uncompressed; real weights deflate by a few percent. A ratio beyond this is
# a zip bomb: a few megabytes of file that would take gigabytes of memory.
MAX_EXPANSION = 100
MAX_INFO_BYTES = 64 << 20  # the description: configuration, history, RNG states; far below this


def _read_archive(path, archive: zipfile.ZipFile) -> tuple[dict, dict[str, np.ndarray]]:
    members = archive.infolist()
    names = [member.filename for member in members]
    if len(set(names)) != len(names):
        raise CheckpointError(f"{path}: damaged checkpoint (a member name appears twice)")
    if not all(name.endswith(".npy") for name in names):
        odd = next(name for name in names if not name.endswith(".npy"))
        raise CheckpointError(f"{path}: not an nnback checkpoint (member {odd[:80]!r} is not an .npy array)")
    size = archive.fp.seek(0, os.SEEK_END) if archive.fp is not None else 0
    if sum(member.compress_size for member in members) > size:
        raise CheckpointError(f"{path}: damaged checkpoint (its members claim more bytes than the file holds)")
    for member in members:
        if member.file_size > MAX_EXPANSION * member.compress_size + (1 << 20):
            raise CheckpointError(f"{path}: refused member {member.filename[:80]!r}: {member.compress_size} bytes "
                                  f"would expand to {member.file_size} (a zip bomb?)")
    by_name = {name[:-4]: member for name, member in zip(names, members)}
    if INFO_KEY not in by_name:
        raise CheckpointError(f"{path}: not an nnback checkpoint (no {INFO_KEY} entry)")
    raw = _read_member(path, archive, by_name.pop(INFO_KEY), np.dtype(np.uint8), None, MAX_INFO_BYTES)
    info = _info(path, raw)
    expected = expected_arrays(info)
    _check_names(path, archive, by_name, expected)
    dtype = np.dtype(info["dtype"])
    return info, {name: _read_member(path, archive, by_name[name], dtype, expected[name]) for name in expected}


def _check_names(path, archive, members: dict, expected: dict) -> None:
    missing = [name for name in expected if name not in members]
    extra = [name for name in members if name not in expected]
    if missing:
        raise CheckpointError(f"{path}: array {missing[0]!r} is missing (expected shape {expected[missing[0]]})")
    if extra:
        with archive.open(members[extra[0]]) as file:  # the header only, to name what it is
            shape = _npy_header(path, extra[0], file)[0]
        raise CheckpointError(f"{path}: unexpected array {extra[0][:80]!r} of shape {shape}")


def _read_member(path, archive, member, dtype: np.dtype, shape: tuple | None, max_bytes: int | None = None):
    """One member as an array, after its npy header is checked against ``dtype`` and ``shape``
    (any 1-D length up to ``max_bytes`` when ``shape`` is None) and against the member's size."""
    name = member.filename[:-4]
    with archive.open(member) as file:
        header_shape, dtype_read, header_bytes = _npy_header(path, name, file)
    if dtype_read.hasobject or dtype_read != dtype:
        raise CheckpointError(f"{path}: array {name!r} has dtype {dtype_read}, expected {dtype}")
    if shape is None and (len(header_shape) != 1 or header_shape[0] * dtype.itemsize > max_bytes):
        raise CheckpointError(f"{path}: array {name!r} has shape {header_shape}, expected at most {max_bytes} bytes")
    if shape is not None and header_shape != shape:
        raise CheckpointError(f"{path}: array {name!r} has shape {header_shape}, expected {shape}")
    declared = math.prod(header_shape) * dtype.itemsize
    if member.file_size != header_bytes + declared:
        raise CheckpointError(f"{path}: array {name!r} declares {declared} bytes but holds "
                              f"{member.file_size - header_bytes}")
    with archive.open(member) as file:
        return np.lib.format.read_array(file, allow_pickle=False)


def _npy_header(path, name, file) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, header length) of an npy stream, refusing anything unusual."""
    try:
        version = np.lib.format.read_magic(file)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"npy format version {version}")
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(file)
    except Exception as error:  # ValueError for a bad header, EOFError for a short one...
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: array {name!r} has a damaged header ({reason[:200]})") from None
    return tuple(shape), dtype, file.tell()


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


