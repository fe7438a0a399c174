"""Checkpoints from hostile hands: special files, wrong files, and crafted zips whose npy headers
lie. Each is refused with one line naming the file, before any large allocation."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnback
from nnback.checkpoint import INFO_KEY, CheckpointError, read_checkpoint
from nnback.runner import TrainConfig, prepare

ROOT = Path(__file__).resolve().parents[1]
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """A small valid checkpoint ([784, 4, 10], Adam): its path, description and arrays."""
    rng = np.random.default_rng(0)
    split = nnback.data.Split(rng.random((20, 784), dtype=np.float32), rng.integers(0, 10, 20))
    run = prepare(TrainConfig(layers=[784, 4, 10], epochs=1, batch_size=10, optimizer="adam", lr=0.01, val_size=0),
                  nnback.Dataset(split, split, split, "synthetic"))
    path = tmp_path_factory.mktemp("valid") / "valid.npz"
    run.save(path)
    info, arrays = read_checkpoint(path)
    return path, info, arrays


def npy(array=None, *, shape=None, descr=None, body: bytes | None = None) -> bytes:
    """An npy member: a real array, or a header that says ``shape``/``descr`` followed by ``body``."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + body


def craft(path, info: dict, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr(INFO_KEY + ".npy", npy(np.frombuffer(json.dumps(info).encode(), np.uint8)))
        for name, raw in members.items():
            archive.writestr(name, raw)
    return Path(path)


def members_of(arrays: dict) -> dict[str, bytes]:
    return {f"{name}.npy": npy(array) for name, array in arrays.items()}


def refusal(path) -> str:
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert "allow_pickle" not in message and "context manager" not in message
    return message


def test_a_crafted_copy_of_a_valid_checkpoint_loads(valid, tmp_path):
    """The crafting helper itself makes loadable files, so each refusal below is the damage's."""
    _, info, arrays = valid
    info2, arrays2 = read_checkpoint(craft(tmp_path / "copy.npz", info, members_of(arrays)))
    assert info2 == info and all(np.array_equal(arrays2[k], arrays[k]) for k in arrays)


def test_an_absurd_shape_is_refused_before_allocating(valid, tmp_path):
    _, info, arrays = valid
    members = members_of(arrays)
    members["layers.0.b.npy"] = npy(shape=(2 ** 40,), descr="<f4", body=b"\0" * 16)
    assert "has shape (1099511627776,), expected (4,)" in refusal(craft(tmp_path / "huge.npz", info, members))


def test_an_object_dtype_is_refused_as_a_dtype_not_with_numpy_advice(valid, tmp_path):
    _, info, arrays = valid
    members = members_of(arrays)
    members["layers.0.b.npy"] = npy(shape=(4,), descr="|O", body=b"\x80\x04N.")
    assert "array 'layers.0.b' has dtype object, expected float32" in refusal(craft(tmp_path / "o.npz", info, members))


@pytest.mark.parametrize("extra", [b"", b"\0" * 4096])
def test_a_member_larger_or_smaller_than_its_header_declares_is_refused(valid, tmp_path, extra):
    _, info, arrays = valid
    members = members_of(arrays)
    body = b"\0" * 8 if not extra else b"\0" * 16 + extra  # the header promises 4 float32 = 16 bytes
    members["layers.0.b.npy"] = npy(shape=(4,), descr="<f4", body=body)
    assert "array 'layers.0.b' declares 16 bytes but holds" in refusal(craft(tmp_path / "size.npz", info, members))


@pytest.mark.parametrize("name, message", [("notes.txt", "member 'notes.txt' is not an .npy array"),
                                           ("spare.npy", "unexpected array 'spare' of shape (3,)")])
def test_members_the_description_does_not_name_are_refused(valid, tmp_path, name, message):
    _, info, arrays = valid
    members = {**members_of(arrays), name: npy(np.zeros(3, np.float32))}
    assert message in refusal(craft(tmp_path / "extra.npz", info, members))


def test_a_duplicated_member_is_refused(valid, tmp_path):
    _, info, arrays = valid
    path = craft(tmp_path / "dup.npz", info, members_of(arrays))
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("layers.0.b.npy", npy(np.zeros(4, np.float32)))
    assert "appears twice" in refusal(path)


BOMB = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from nnback.checkpoint import CheckpointError, read_checkpoint
try:
    read_checkpoint(sys.argv[1])
    print("LOADED")
except CheckpointError as error:
    print(error)
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))  # ru_maxrss spans exec
print(int(peak.split()[1]) // 1024, "MiB")
"""


def test_a_zip_bomb_that_matches_its_own_description_is_refused_in_bounded_memory(valid, tmp_path):
    """300 KB of deflated zeros that a description of [784, 100000, 10] asks to expand to 314 MB
    (and whose npy headers agree): refused from the zip directory, in an address-space-limited child."""
    _, info, _ = valid
    sizes = [784, 100_000, 10]
    info = {**info, "model": {**info["model"], "sizes": sizes}, "optimizer": {**info["optimizer"], "arrays": {}}}
    path = tmp_path / "bomb.npz"
    craft(path, info, {}, zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, shape in (("layers.0.w", (784, 100_000)), ("layers.0.b", (100_000,)),
                            ("layers.1.w", (100_000, 10)), ("layers.1.b", (10,))):
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                member.write(npy(shape=shape, descr="<f4", body=b""))
                for start in range(0, int(np.prod(shape)) * 4, 1 << 22):
                    member.write(bytes(min(1 << 22, int(np.prod(shape)) * 4 - start)))
    assert path.stat().st_size < 4 << 20
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", BOMB, str(path)], capture_output=True, text=True, env=env, timeout=120)
    message, memory = result.stdout.splitlines()
    assert "would expand to" in message and "zip bomb" in message, result.stdout + result.stderr
    assert int(memory.split()[0]) < 200  # the interpreter and NumPy take ~60 MiB; the bomb would take 314


@pytest.mark.parametrize("name, content, kind", [
    ("model.json", b'{"layers": [784, 10]}', "JSON"),
    ("model.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
    ("model.csv", b"label,pixel0\n5,0\n", "not a zip archive"),
    ("model.npy", None, "a bare .npy array"),
    ("model.pkl", b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "a Python pickle"),
    ("empty.npz", b"", "an empty file"),
    ("random.npz", bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)), "not a zip archive"),
])
def test_the_wrong_file_as_a_model_is_named_as_such(tmp_path, name, content, kind):
    path = tmp_path / name
    if content is None:
        np.save(path, np.zeros((3, 3)))
    else:
        path.write_bytes(content)
    message = refusal(path)
    assert "not a readable nnback checkpoint" in message and kind in message


def special_files(tmp_path) -> dict:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    return {"a FIFO": fifo, "a socket": sock_path, "a character device": Path("/dev/zero"),
            "a directory": tmp_path, "/dev/null": Path("/dev/null")}


def test_special_files_as_a_checkpoint_are_refused_without_reading(tmp_path):
    for kind, path in special_files(tmp_path).items():
        with pytest.raises(CheckpointError) as error:
            read_checkpoint(path)  # a FIFO opened for reading would block here forever
        assert "not a regular file" in str(error.value), kind


@hypothesis.settings(max_examples=60, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(shape=st.lists(st.integers(0, 2 ** 62), max_size=4).map(tuple),
                  descr=st.sampled_from(["<f4", "<f8", "|O", "<i8", "|u1", "<c16", "|V8", ">f4"]),
                  body=st.integers(0, 64))
def test_any_member_header_loads_only_when_it_matches_the_description(valid, tmp_path, shape, descr, body):
    _, info, arrays = valid
    members = members_of(arrays)
    members["layers.1.b.npy"] = npy(shape=shape, descr=descr, body=b"\0" * body)
    path = craft(tmp_path / "fuzz.npz", info, members)
    try:
        read_checkpoint(path)
    except CheckpointError as error:
        assert "\n" not in str(error) and "allow_pickle" not in str(error)
        return
    assert (shape, descr, body) == ((10,), "<f4", 40)
