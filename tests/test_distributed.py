"""Data-parallel training equals one process: shards draw the whole batch's noise, N ranks (threads
here, MPI processes in test_distributed_mpi.py) train the weights one process trains, and a stop
asked of one rank stops every rank after the same step."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from click.testing import CliRunner

from nnback import to_numpy
from nnback.augment import elastic, translate
from nnback.cli import main
from nnback.config import TrainConfig
from nnback.distributed import Communicator, DistributedError, MPICommunicator, _flatten, _unflatten, connect
from nnback.rng import ShardKey, keep_mask, stream_key
from nnback.runner import DataInfo, Trainer
from nnback.training import Evaluation, TrainingInterrupted

SHAPE = (16, 16)
BOUNDS = [(0, 0), (0, 3), (3, 4), (4, 9)]  # shards of a 9-row batch, one of them empty


class ThreadComm(Communicator):
    """Ranks as threads of this process: sums in rank order, so every rank gets the same bits."""

    engine = "threads"

    def __init__(self, rank: int, shared: dict):
        self.rank, self.size, self.shared = rank, shared["size"], shared

    def _exchange(self, arrays: list, combine) -> list:
        xp, flat = _flatten(arrays)
        slots, barrier = self.shared["slots"], self.shared["barrier"]
        slots[self.rank] = np.array(to_numpy(flat), copy=True)
        barrier.wait()
        result = combine(slots)
        barrier.wait()
        return _unflatten(xp, xp.asarray(result, device=flat.device), arrays)

    def allreduce(self, arrays: list) -> list:
        def add(slots):
            total = slots[0].copy()
            for part in slots[1:]:
                total += part
            return total
        return self._exchange(arrays, add)

    def broadcast(self, arrays: list, root: int = 0) -> list:
        return self._exchange(arrays, lambda slots: slots[root].copy())


def run_ranks(size: int, work) -> list:
    """``work(comm)`` on ``size`` thread ranks; their results (or the first error, raised)."""
    shared = {"size": size, "slots": [None] * size, "barrier": threading.Barrier(size, timeout=60)}
    results: list = [None] * size

    def target(rank):
        try:
            results[rank] = work(ThreadComm(rank, shared))
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            results[rank] = error
            shared["barrier"].abort()

    threads = [threading.Thread(target=target, args=(rank,)) for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def data(backend, n: int = 65, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.random((n, SHAPE[0] * SHAPE[1]))
    y = rng.integers(0, 4, size=n)
    return backend.asarray(x), backend.asarray(y, backend.xp.int64)


def config(**changes) -> TrainConfig:
    # 65 samples in batches of 16: the last batch has 1 row, so with 3 ranks two shards are empty.
    settings = dict(hidden=[12, 8], epochs=2, batch_size=16, dtype="float64", dropout=0.3, input_dropout=0.1,
                    augment="translate", optimizer="momentum", lr=0.1, seed=5, val_size=0)
    settings.update(changes)
    return TrainConfig(**settings)


INFO = DataInfo(SHAPE[0] * SHAPE[1], ("a", "b", "c", "d"), SHAPE)


def test_a_shard_draws_the_rows_it_has_in_the_whole_batch(backend):
    x = backend.asarray(np.random.default_rng(0).random((9, SHAPE[0] * SHAPE[1])))
    key = stream_key(1, 2, 3)
    for draw in (lambda a, k: translate(a, k, shape=SHAPE), lambda a, k: elastic(a, k, shape=SHAPE),
                 lambda a, k: keep_mask(a, 0.4, stream_key(k, 7))):
        whole = to_numpy(draw(x, key))
        for first, last in BOUNDS:
            shard = draw(x[first:last, :], ShardKey(key, first, 9))
            np.testing.assert_array_equal(to_numpy(shard), whole[first:last])


@pytest.mark.parametrize("ranks, batch_size", [(2, 16), (3, 16), (2, None)])
def test_ranks_train_the_weights_of_one_process(backend, ranks, batch_size):
    """Dropout, input dropout and shifts on, float64, uneven and empty shards, mini-batch and full
    batch: the same weights to the rounding of the weighted gradient sum, and the same reports."""
    x, y = data(backend)
    evaluation = Evaluation({"val": data(backend, 23, seed=4)})
    alone = Trainer(config(batch_size=batch_size), INFO, backend=backend)
    alone_history = alone.fit(x, y, evaluation)
    expected = [to_numpy(p) for p in alone.model.parameters()]

    def work(comm):
        trainer = Trainer(config(batch_size=batch_size), INFO, backend=backend, comm=comm)
        history = trainer.fit(x, y, evaluation)
        return [to_numpy(p) for p in trainer.model.parameters()], history

    for result in run_ranks(ranks, work):
        assert not isinstance(result, BaseException), result
        weights, history = result
        for got, want in zip(weights, expected):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)  # float64 summation order only
        assert [h["val_accuracy"] for h in history] == [h["val_accuracy"] for h in alone_history]
        assert [h["train_loss"] for h in history] == pytest.approx([h["train_loss"] for h in alone_history], rel=1e-10)


def test_a_stop_asked_of_one_rank_stops_every_rank_after_the_same_step(backend, tmp_path):
    x, y = data(backend)

    def work(comm):
        calls = {"n": 0}

        def only_rank_1_is_signalled() -> bool:
            calls["n"] += 1
            return comm.rank == 1 and calls["n"] >= 3

        trainer = Trainer(config(), INFO, backend=backend, comm=comm)
        try:
            trainer.fit(x, y, should_stop=only_rank_1_is_signalled)
        except TrainingInterrupted as stop:
            trainer.save(tmp_path / f"rank{comm.rank}.npz")
            return stop.position.epoch, stop.position.step
        return None

    assert run_ranks(2, work) == [(0, 3), (0, 3)]
    assert [p.name for p in tmp_path.iterdir()] == ["rank0.npz"]  # rank 0 alone writes


def test_one_rank_communicator_changes_nothing(backend):
    x, y = data(backend)
    alone = Trainer(config(), INFO, backend=backend)
    alone.fit(x, y)
    one = Trainer(config(), INFO, backend=backend, comm=Communicator())
    one.fit(x, y)
    for got, want in zip(one.model.parameters(), alone.model.parameters()):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))


def test_importing_nnback_imports_no_engine():
    import subprocess
    import sys

    code = ("import sys, nnback, nnback.cli, nnback.distributed, nnback.runner; "
            "print(sorted(m for m in ('mpi4py', 'cupy', 'dask', 'distributed') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_unknown_engine_is_a_value_error():
    with pytest.raises(ValueError, match="unknown distributed engine 'gloo'; choose one of mpi, nccl"):
        connect("gloo")


def test_missing_mpi4py_is_one_line_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mpi4py", None)
    with pytest.raises(DistributedError, match=r"pip install 'nnback\[mpi\]'"):
        MPICommunicator()
    result = CliRunner().invoke(main, ["train", "--distributed", "mpi", "--epochs", "1"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: MPI needs mpi4py and an MPI library; install them with: pip install 'nnback[mpi]'"]


@pytest.mark.cuda
def test_nccl_one_rank_on_one_gpu_trains_the_weights_of_one_process():
    """NCCL refuses two ranks on one GPU; one rank proves the engine, the packing and the hook."""
    from conftest import make_backend

    backend = make_backend("cupy", "float64")  # skips without a GPU; with NNBACK_REQUIRE_GPU=1 it fails instead
    comm = connect("nccl")
    assert (comm.rank, comm.size) == (0, 1)
    x, y = data(backend)
    alone = Trainer(config(), INFO, backend=backend)
    alone.fit(x, y)
    with_nccl = Trainer(config(), INFO, backend=backend, comm=comm)
    with_nccl.fit(x, y, Evaluation({"val": data(backend, 23, seed=4)}))
    for got, want in zip(with_nccl.model.parameters(), alone.model.parameters()):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 8 iterations on purpose
def test_a_grid_search_runs_on_a_dask_cluster_through_joblib():
    """Sweeps run unchanged on Dask: joblib's "dask" backend sends each fit to a worker of a local
    cluster (one in-process worker, two threads, to stay within seconds on two cores)."""
    pytest.importorskip("sklearn")
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from nnback.sklearn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    grid = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [1e-2, 3e-2]}
    search = GridSearchCV(MLPClassifier(max_iter=8, random_state=0), grid, cv=2, n_jobs=-1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        search.fit(X, y)
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert any(name.startswith("batch_of__fit_and_score") for name in prefixes), prefixes  # the fits ran on Dask
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert search.best_score_ > 0.7
