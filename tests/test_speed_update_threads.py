"""The CPU update's thread pool: every block runs once, errors surface, and the bits do not move."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import nnback.optimizers as optimizers
from nnback.optimizers import run_blocks

from conftest import make_backend
from test_speed_optimizer_bits import CASES, STORED, key, trajectory


@pytest.fixture
def three_threads(monkeypatch):
    """A fresh pool of three threads, whatever this machine's CPU count, gone after the test."""
    monkeypatch.setattr(optimizers, "update_threads", lambda: 3)
    monkeypatch.setattr(optimizers, "_pool", None)
    monkeypatch.setattr(optimizers, "_pool_threads", 0)
    yield
    if optimizers._pool is not None:
        optimizers._pool.shutdown()


def test_every_job_runs_once_spread_over_the_threads(three_threads):
    seen, names = [], set()
    lock = threading.Lock()

    def work(i):
        with lock:
            seen.append(i)
            names.add(threading.current_thread().name)
        time.sleep(0.001)  # long enough that no thread finishes its run before the others start

    run_blocks(work, [(i,) for i in range(30)], [optimizers.PARALLEL_MIN // 10] * 30, parallel=True)
    assert sorted(seen) == list(range(30))
    assert len(names) == 3


def test_small_or_non_numpy_updates_stay_on_the_calling_thread(three_threads):
    names = set()
    record = lambda i: names.add(threading.current_thread().name)  # noqa: E731
    run_blocks(record, [(0,), (1,)], [1, 1], parallel=True)
    run_blocks(record, [(0,), (1,)], [optimizers.PARALLEL_MIN] * 2, parallel=False)
    assert names == {threading.current_thread().name}


def test_an_error_in_a_pool_thread_reaches_the_caller(three_threads):
    def work(i):
        if i == 29:
            raise ValueError("block 29")

    with pytest.raises(ValueError, match="block 29"):
        run_blocks(work, [(i,) for i in range(30)], [optimizers.PARALLEL_MIN] * 30, parallel=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, decay", CASES)
def test_threaded_blocked_updates_are_bit_identical_to_the_stored_values(three_threads, monkeypatch, dtype, name, decay):
    """Two-row blocks on three threads, the parallel path forced on a tiny network."""
    monkeypatch.setattr(optimizers, "PARALLEL_MIN", 1)
    stored = np.load(STORED)
    for i, p in enumerate(trajectory(make_backend("numpy", dtype), name, decay, block=12)):
        np.testing.assert_array_equal(p.view(np.uint8), stored[key("numpy", dtype, name, decay, i)].view(np.uint8))


def test_a_forked_child_makes_its_own_pool(three_threads):
    """The parent's pool threads do not exist in a fork; the child must not wait on them."""
    import os

    run_blocks(lambda i: None, [(i,) for i in range(3)], [optimizers.PARALLEL_MIN] * 3, parallel=True)
    assert optimizers._pool is not None
    pid = os.fork()
    if pid == 0:  # the child: exits 0 only if it could run a parallel update, killed if it hangs
        import signal

        signal.alarm(20)
        try:
            run_blocks(lambda i: None, [(i,) for i in range(3)], [optimizers.PARALLEL_MIN] * 3, parallel=True)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
