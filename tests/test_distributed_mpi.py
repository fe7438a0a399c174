"""`mpiexec -n 2 nnback train --distributed mpi` against one process, a rank that dies, and a
signal to one rank: real MPI processes, spawned with a timeout, skipped without mpiexec/mpi4py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="the mpi extra is not installed (pip install 'nnback[mpi]')")
MPIEXEC = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH (pip install 'nnback[mpi]')")

# Dropout, input dropout and shifts on, float64, 2 epochs of 1,000 samples in batches of 64 (the
# last batch has 40 rows).
RUN = ["--hidden", "24", "--epochs", "2", "--batch-size", "64", "--dtype", "float64", "--dropout", "0.3",
       "--input-dropout", "0.1", "--augment", "translate", "--val-size", "200", "--seed", "7"]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NNBACK_TIMEOUT": "20"}
# Rank 1 sends itself SIGTERM during its 5th step, as a scheduler or a user might.
SIGNAL_RANK_1 = """
import os, signal, sys
from mpi4py import MPI
import nnback.training as training
step, calls = training.train_step, []
def signalled_step(*args, **kwargs):
    calls.append(1)
    if MPI.COMM_WORLD.Get_rank() == 1 and len(calls) == 5:
        os.kill(os.getpid(), signal.SIGTERM)
    return step(*args, **kwargs)
training.train_step = signalled_step
from nnback.cli import main
sys.exit(main())
"""
FAILING_RANK = """
import os, sys
import nnback
from mpi4py import MPI
def on_step(step, steps):
    if MPI.COMM_WORLD.Get_rank() == 1 and step == 3:
        if sys.argv[2] == "kill":
            os._exit(9)
        if sys.argv[2] == "hang":
            import time
            time.sleep(600)
        raise RuntimeError("rank 1 fails")
nnback.train(nnback.TrainConfig(hidden=[8], epochs=2, batch_size=50, val_size=100, data=sys.argv[1]), comm="mpi",
             on_step=on_step)
"""


def run(command: list[str], timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env or ENV)


def mpi(ranks: int, *args: str, timeout: float = 120, env=None) -> subprocess.CompletedProcess:
    return run([MPIEXEC, "-n", str(ranks), sys.executable, *args], timeout, env)


def weights(path: Path) -> dict:
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files if arrays[name].dtype.kind == "f"}


def assert_same_weights(got: Path, want: Path) -> None:
    got, want = weights(got), weights(want)
    assert got.keys() == want.keys() and got
    for name in want:  # float64: only the order of the weighted gradient sum differs
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from conftest import idx_subset

    return idx_subset(tmp_path_factory.mktemp("mnist-1200"), 1200, 300)


@pytest.fixture(scope="module")
def one_process(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    result = run([sys.executable, "-m", "nnback", "train", "--data", str(data_dir), *RUN, "--save", str(out / "m.npz")])
    assert result.returncode == 0, result.stderr
    return out / "m.npz"


def test_two_ranks_train_the_weights_of_one_process_and_rank_0_alone_writes(data_dir, one_process, tmp_path):
    outputs = ["--save", str(tmp_path / "m.npz"), "--metrics-out", str(tmp_path / "m.json")]
    result = mpi(2, "-m", "nnback", "train", "--distributed", "mpi", "--data", str(data_dir), *RUN, *outputs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_same_weights(tmp_path / "m.npz", one_process)
    assert result.stdout.count("test accuracy") == 1 and result.stdout.count("epoch 2/2") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]
    assert json.loads((tmp_path / "m.json").read_text())["ranks"] == 2


def test_a_signal_to_one_rank_stops_both_with_one_checkpoint_that_resumes_exactly(data_dir, one_process, tmp_path):
    saved = str(tmp_path / "m.npz")
    script = tmp_path / "signal_rank_1.py"
    script.write_text(SIGNAL_RANK_1)
    stopped = mpi(2, str(script), "train", "--distributed", "mpi", "--data", str(data_dir), *RUN, "--save", saved)
    assert stopped.returncode == 143, stopped.stdout + stopped.stderr  # 128 + SIGTERM, from every rank
    assert stopped.stderr.count("saved a resumable checkpoint") == 1, stopped.stderr
    assert "interrupted by signal in epoch 1 after step 5" in stopped.stderr  # rank 0 heard it from rank 1
    resumed = mpi(2, "-m", "nnback", "train", "--distributed", "mpi", "--data", str(data_dir), "--resume", saved,
                  "--save", saved)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_same_weights(tmp_path / "m.npz", one_process)


@pytest.mark.parametrize("how", ["raise", "hang", "kill"])
def test_a_failing_rank_ends_every_rank_with_a_clear_message(data_dir, tmp_path, how):
    """An error on rank 1 ends the job with its one line; a rank that hangs is given up on after
    NNBACK_TIMEOUT by the ranks waiting for it; a killed rank makes mpiexec end the job at once."""
    script = tmp_path / "failing_rank.py"
    script.write_text(FAILING_RANK)
    started = time.monotonic()
    result = mpi(2, str(script), str(data_dir), how, timeout=90, env={**ENV, "NNBACK_TIMEOUT": "4"})
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    if how == "raise":
        assert "nnback: rank 1: RuntimeError: rank 1 fails" in result.stderr, result.stderr
    if how == "hang":
        assert ("nnback: rank 0: no answer from the other ranks within 4 s during the gradient all-reduce "
                "(a rank died or hangs); stopping all ranks") in result.stderr, result.stderr


def test_an_error_on_every_rank_is_reported_once_by_rank_0(tmp_path):
    result = mpi(2, "-m", "nnback", "train", "--distributed", "mpi", "--data", str(tmp_path / "missing"),
                 "--epochs", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("nnback:")]
    assert lines == [f"nnback: {tmp_path / 'missing'}: no such file or directory"], result.stderr
