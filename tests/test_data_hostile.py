"""Hostile files: FIFOs, sockets and devices are refused without a read; gzip bombs and lying IDX
headers are refused while reading, before they take the memory they claim."""

from __future__ import annotations

import gzip
import os
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from mnist_files import make_sample, write_csv_pair, write_idx_dir, write_npz
from nnback.data import DataError
from nnback.formats import load_dataset

SAMPLE = make_sample()
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")


def refused(path, *fragments):
    with pytest.raises(DataError) as raised:
        load_dataset(path, val_size=0)
    for fragment in fragments:
        assert fragment in str(raised.value), raised.value
    return str(raised.value)


def test_fifo_as_the_data_path(tmp_path, alarm):
    os.mkfifo(tmp_path / "data.csv")
    refused(tmp_path / "data.csv", "data.csv", "not a regular file (a FIFO)")


def test_socket_and_character_device(alarm):
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # AF_UNIX paths are short
        path = Path(short) / "s.csv"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            refused(path, "not a regular file (a socket)")
    refused("/dev/null", "/dev/null", "not a regular file (a character device)")


def test_fifo_partner_of_an_idx_file_is_refused_by_name(tmp_path, alarm):
    directory = write_idx_dir(tmp_path, SAMPLE, gz=False)
    (directory / "t10k-labels-idx1-ubyte").unlink()
    os.mkfifo(directory / "t10k-labels-idx1-ubyte")
    refused(directory / "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "not a regular file (a FIFO)")
    refused(directory, "t10k-labels-idx1-ubyte", "not a regular file (a FIFO)")


def test_fifo_test_sibling_of_a_csv_is_refused(tmp_path, alarm):
    path = write_csv_pair(tmp_path, SAMPLE)
    (tmp_path / "mnist_test.csv").unlink()
    os.mkfifo(tmp_path / "mnist_test.csv")
    refused(path, "mnist_test.csv", "not a regular file (a FIFO)")


def test_fifo_in_a_directory_does_not_hang_the_scan(tmp_path, alarm):
    write_npz(tmp_path / "data.npz", SAMPLE)
    os.mkfifo(tmp_path / "notes.csv")
    os.mkfifo(tmp_path / "pipe")
    assert len(load_dataset(tmp_path, val_size=0).test) == 5


# --- bombs and lying headers -------------------------------------------------------------------

def gzip_bomb(path: Path, prefix: bytes, chunk: bytes, repeats: int) -> Path:
    """A gzip stream inflating to prefix + chunk * repeats, written in about repeats * 16 KB: after a
    full flush deflate starts afresh, so one compressed chunk can be repeated (no trailer: a reader
    that stops in time never reaches it)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = deflate.compress(prefix + chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    path.write_bytes(head + block * (repeats - 1))
    return path


def idx_header(code: int, *shape: int) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}i", *shape)


CHUNK = 32 * 2**20  # 64 of these inflate to 2 GiB


def run_limited(path: Path, limit_mib: int = 768) -> tuple[str, float]:
    """Load ``path`` in a subprocess whose address space is capped, so a regression that inflates a
    bomb fails fast with MemoryError instead of eating the machine. Returns (output, seconds)."""
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mib} << 20, {limit_mib} << 20))
        from nnback.formats import load_dataset
        from nnback.data import DataError
        try:
            load_dataset({str(path)!r}, val_size=0)
            print("LOADED")
        except DataError as error:
            print("DataError:", error)
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    return result.stdout + result.stderr, time.perf_counter() - start


def test_idx_gzip_bomb_stops_at_what_the_header_promises(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE)
    path = directory / "train-images-idx3-ubyte.gz"
    gzip_bomb(path, idx_header(0x08, 8, 28, 28), bytes(CHUNK), 64)
    assert path.stat().st_size < 2**21
    output, seconds = run_limited(directory)
    assert "DataError:" in output and "train-images-idx3-ubyte.gz" in output, output
    assert "more than the 6272 data bytes the header promises" in output, output
    assert seconds < 30


@pytest.mark.parametrize("kind", ["csv", "pickle"])
def test_csv_and_pickle_gzip_bombs_are_refused_by_ratio(tmp_path, kind):
    prefix, chunk = (b"label,a\n", b"0,0\n" * (CHUNK // 4)) if kind == "csv" else (b"\x80\x02", bytes(CHUNK))
    path = gzip_bomb(tmp_path / f"bomb.{kind}.gz", prefix, chunk, 64)
    output, seconds = run_limited(path)
    assert "DataError:" in output and f"bomb.{kind}.gz" in output and "gzip bomb" in output, output
    assert seconds < 30


def test_idx_absurd_header_is_refused_before_allocating(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE)
    (directory / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header(0x0E, 2**31 - 1, 2**16, 2**16)))
    refused(directory, "train-images-idx3-ubyte.gz", "over 4 GiB")
    (directory / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header(0x08, 5, -3, 28)))
    refused(directory, "negative")


def test_raw_idx_size_is_checked_against_the_header_before_reading(tmp_path):
    directory = write_idx_dir(tmp_path, SAMPLE, gz=False)
    raw = idx_header(0x08, 8, 28, 28) + bytes(8 * 784 + 5)
    (directory / "train-images-idx3-ubyte").write_bytes(raw)
    refused(directory, "train-images-idx3-ubyte", "holds 6277 data bytes, the header promises 6272")


def test_honest_small_gzip_files_far_beyond_100x_still_load(tmp_path):
    zeros = np.zeros((2000, 28, 28), np.uint8)  # inflates about 600x, and is a real (dull) data set
    sample = make_sample(n_train=2000, n_test=5)
    sample.train_images[:] = zeros
    data = load_dataset(write_idx_dir(tmp_path, sample), val_size=0)
    assert data.train.features.max() == 0


def test_npz_member_inflating_past_the_bound_is_refused(tmp_path, monkeypatch):
    sniff = sys.modules["nnback.formats.sniff"]  # the package's name "sniff" is the function

    np.savez_compressed(tmp_path / "z.npz", x=np.zeros((2**21, 4), np.uint8), y=np.arange(2**21) % 2)
    monkeypatch.setattr(sniff, "MIN_CAP", 2**20)  # 8 MiB of zeros deflate to about 8 KB: 1000x
    refused(tmp_path / "z.npz", "z.npz", "x inflates from", "refused as a zip bomb")


def test_npz_header_promising_more_than_the_member_holds(tmp_path):
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    with zipfile.ZipFile(tmp_path / "f.npz", "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(64))
        buffer = io.BytesIO()
        np.save(buffer, np.arange(8) % 2)
        archive.writestr("y.npy", buffer.getvalue())
    refused(tmp_path / "f.npz", "f.npz", "x promises 8,796,093,022,208 bytes", "damaged or forged")
