"""Data-parallel training across processes: a small communicator and the glue to the step.

Every rank holds the whole dataset and the same seed, so it starts from the same weights and
draws the same batch order. Each takes its contiguous shard of every *global* batch, computes the
gradient of its shard's mean loss, and the ranks sum those gradients weighted by their shares of
the batch: the result is the one-process gradient, and every rank applies the same update. Dropout
masks and augmentations are keyed by a row's position in the whole batch (``rng.ShardKey``), so N
ranks train the weights one process trains (to the rounding of the sum).

Two engines, both optional and imported only when asked for: MPI through mpi4py (any array
backend; device arrays go through the host) and NCCL through CuPy (GPU only, one GPU per rank,
bootstrapped over MPI). A collective that gets no answer within ``timeout`` seconds (a rank died
or hangs) ends every rank with a one-line message instead of hanging.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

import numpy as np
from array_api_compat import is_cupy_array
from array_api_compat import device as device_of

from .arrays import array_namespace
from .backend import get_backend, to_numpy
from .training import Evaluation, evaluate

ENGINES = ("mpi", "nccl")
DEFAULT_TIMEOUT = 300.0  # seconds; a step, an evaluation or a checkpoint on rank 0 must fit in it
# MPI_Abort lets the launcher kill the job before it has forwarded what the rank just wrote (mpich
# lost the one-line message in 3 of 20 runs): the launcher reads its pipes every few milliseconds.
ABORT_GRACE = 0.5  # seconds
_INSTALL = "pip install 'nnback[mpi]'"


class DistributedError(RuntimeError):
    """The distributed engine is missing, cannot start, or lost a rank."""


class Communicator:
    """One rank of ``size`` ranks: sums and broadcasts lists of arrays. This base class is the
    one-process communicator (rank 0 of 1), so code written for N ranks also runs alone."""

    engine = "local"
    rank, size, local_rank = 0, 1, 0

    def allreduce(self, arrays: list) -> list:
        """The elementwise sums over ranks of ``arrays`` (same shapes and dtype on every rank)."""
        return list(arrays)

    def broadcast(self, arrays: list, root: int = 0) -> list:
        """Rank ``root``'s ``arrays`` on every rank."""
        return list(arrays)

    def abort(self, message: str, code: int = 1):
        """Print ``message`` as one line and end every rank with exit status ``code``."""
        print(f"nnback: {message}", file=sys.__stderr__, flush=True)
        os._exit(code)

    def backend(self, device: str, dtype: str):
        """This rank's backend: on ``cuda``, GPU ``local_rank`` (one GPU per rank on a node)."""
        backend = get_backend(device, dtype)
        if backend.name != "cupy" or self.local_rank == 0:
            return backend
        import cupy

        if self.local_rank >= cupy.cuda.runtime.getDeviceCount():
            raise DistributedError(f"rank {self.rank} needs GPU {self.local_rank}, but this node has "
                                   f"{cupy.cuda.runtime.getDeviceCount()}: start one rank per GPU")
        gpu = cupy.cuda.Device(self.local_rank)
        gpu.use()
        return replace(backend, device=gpu)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank {self.rank} of {self.size})"


def connect(engine: str = "mpi", *, timeout: float | None = None) -> Communicator:
    """This process's rank in the job it was started in (``mpiexec -n N ...``).

    ``timeout`` (default: $NNBACK_TIMEOUT or 300 s) bounds every collective operation.
    """
    if timeout is None:
        timeout = float(os.environ.get("NNBACK_TIMEOUT", DEFAULT_TIMEOUT))
    if engine == "mpi":
        return MPICommunicator(timeout)
    if engine == "nccl":
        return NCCLCommunicator(timeout)
    raise ValueError(f"unknown distributed engine {engine!r}; choose one of {', '.join(ENGINES)}")


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError(f"MPI needs mpi4py and an MPI library; install them with: {_INSTALL}") from None
    except Exception as error:  # a broken MPI library fails inside the import, in many ways
        raise DistributedError(f"MPI could not start ({_first_line(error)})") from None
    return MPI


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _flatten(arrays: list):
    xp = array_namespace(*arrays)
    return xp, xp.concat([xp.reshape(a, (-1,)) for a in arrays])


def _unflatten(xp, flat, like: list) -> list:
    out, start = [], 0
    for a in like:
        count = 1
        for size in a.shape:
            count *= int(size)
        out.append(xp.reshape(flat[start : start + count], tuple(a.shape)))
        start += count
    return out


class MPICommunicator(Communicator):
    """A rank of ``MPI.COMM_WORLD``. Arrays are packed into one buffer per call and, unless the
    MPI is CUDA-aware, summed on the host; the wait polls, so a lost rank times out."""

    engine = "mpi"

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD
        self.rank, self.size, self.timeout = self.comm.Get_rank(), self.comm.Get_size(), float(timeout)
        self.local_rank = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED).Get_rank()
        # GPU buffers go to MPI directly only where the MPI says it takes them, or where the user
        # says so (NNBACK_CUDA_AWARE_MPI=1: e.g. an MPI built with CUDA but without the query).
        query = getattr(self.MPI, "Query_cuda_support", None)
        self.cuda_aware = os.environ.get("NNBACK_CUDA_AWARE_MPI") == "1" or bool(query and query())

    def _wait(self, request, what: str) -> None:
        deadline, polls = time.monotonic() + self.timeout, 0
        while not request.Test():
            if time.monotonic() > deadline:
                self.abort(f"rank {self.rank}: no answer from the other ranks within {self.timeout:g} s during "
                           f"{what} (a rank died or hangs); stopping all ranks")
            polls += 1
            time.sleep(0.0 if polls < 2000 else 0.001)  # yield the core: ranks may share it

    def _buffer(self, flat):
        if is_cupy_array(flat) and self.cuda_aware:
            import cupy

            cupy.cuda.get_current_stream().synchronize()
            return flat, False
        return np.ascontiguousarray(to_numpy(flat)), True

    def _back(self, xp, host, like):
        return xp.asarray(host, device=device_of(like))

    def allreduce(self, arrays: list) -> list:
        xp, flat = _flatten(arrays)
        buffer, on_host = self._buffer(flat)
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM), "the gradient all-reduce")
        return _unflatten(xp, self._back(xp, buffer, flat) if on_host else buffer, arrays)

    def broadcast(self, arrays: list, root: int = 0) -> list:
        xp, flat = _flatten(arrays)
        buffer, on_host = self._buffer(flat)
        self._wait(self.comm.Ibcast(buffer, root=root), "a broadcast")
        return _unflatten(xp, self._back(xp, buffer, flat) if on_host else buffer, arrays)

    def broadcast_object(self, value, root: int = 0):
        """A small picklable object from rank ``root`` (used to bootstrap NCCL)."""
        return self.comm.bcast(value, root=root)

    def abort(self, message: str, code: int = 1):
        print(f"nnback: {message}", file=sys.__stderr__, flush=True)
        time.sleep(ABORT_GRACE)
        self.comm.Abort(code)


class NCCLCommunicator(Communicator):
    """One GPU per rank, summed by NCCL on the device; rank and the NCCL id come from MPI (a
    single rank runs without it). A collective is polled through a CUDA event, so it times out."""

    engine = "nccl"

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        try:
            import cupy
            from cupy.cuda import nccl
        except ImportError:
            raise DistributedError("NCCL needs CuPy with NCCL; install it with: pip install 'nnback[cuda]'") from None
        self.cupy, self.nccl, self.timeout = cupy, nccl, float(timeout)
        try:
            self.host: MPICommunicator | None = MPICommunicator(timeout)
        except DistributedError:
            self.host = None  # fine for one rank
        self.rank, self.size = (self.host.rank, self.host.size) if self.host else (0, 1)
        self.local_rank = self.host.local_rank if self.host else 0
        if self.local_rank >= cupy.cuda.runtime.getDeviceCount():
            raise DistributedError(f"rank {self.rank} needs GPU {self.local_rank}, but this node has "
                                   f"{cupy.cuda.runtime.getDeviceCount()}: NCCL takes one GPU per rank")
        cupy.cuda.Device(self.local_rank).use()
        unique_id = nccl.get_unique_id() if self.rank == 0 else None
        if self.host is not None:
            unique_id = self.host.broadcast_object(unique_id)
        self.comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)

    def _run(self, call, flat, what: str):
        stream = self.cupy.cuda.get_current_stream()
        types = {"float32": self.nccl.NCCL_FLOAT32, "float64": self.nccl.NCCL_FLOAT64}
        call(flat.data.ptr, flat.size, types[str(flat.dtype)], stream.ptr)
        done = stream.record()
        deadline = time.monotonic() + self.timeout
        while not done.done:
            if time.monotonic() > deadline:
                self.comm.abort()
                self.abort(f"rank {self.rank}: no answer from the other GPUs within {self.timeout:g} s during "
                           f"{what} (a rank died or hangs); stopping all ranks")
            time.sleep(0.0001)
        return flat

    def allreduce(self, arrays: list) -> list:
        xp, flat = _flatten(arrays)
        op = self.nccl.NCCL_SUM
        self._run(lambda ptr, n, t, s: self.comm.allReduce(ptr, ptr, n, t, op, s), flat, "the gradient all-reduce")
        return _unflatten(xp, flat, arrays)

    def broadcast(self, arrays: list, root: int = 0) -> list:
        xp, flat = _flatten(arrays)
        self._run(lambda ptr, n, t, s: self.comm.broadcast(ptr, ptr, n, t, root, s), flat, "a broadcast")
        return _unflatten(xp, flat, arrays)

    def abort(self, message: str, code: int = 1):
        if self.host is not None:
            self.host.abort(message, code)
        super().abort(message, code)


class DataParallel:
    """The data-parallel part of one run: the ``reduce`` hook of ``training.train_step`` and the
    stop flag, which rides on every step's all-reduce so that a signal to any rank stops all ranks
    after the same step."""

    def __init__(self, comm: Communicator, should_stop=None):
        self.comm, self.local_stop, self.stop = comm, should_stop, False

    def reduce(self, model, value, share: float):
        """Sum the ranks' gradients and losses, each weighted by its ``share`` of the batch, into
        every layer's ``dw`` and ``db``; return the batch loss. ``value`` None: an empty shard."""
        parameters = model.parameters()
        xp, dev = array_namespace(*parameters), device_of(parameters[0])
        dtype = parameters[0].dtype
        if value is None:
            parts = [xp.zeros_like(p) for p in parameters] + [xp.zeros((1,), dtype=dtype, device=dev)]
        else:
            parts = [g * share for g in model.gradients()] + [xp.reshape(value * share, (1,))]
        stop = 1.0 if self.local_stop is not None and self.local_stop() else 0.0
        parts.append(xp.asarray([stop], dtype=dtype, device=dev))
        summed = self.comm.allreduce(parts)
        for i, layer in enumerate(model.layers):
            layer.dw, layer.db = summed[2 * i], summed[2 * i + 1]
        self.stop = float(summed[-1][0]) > 0.0
        return xp.reshape(summed[-2], ())

    def should_stop(self) -> bool:
        """Whether any rank asked to stop, as of the last step (the same answer on every rank)."""
        return self.stop

    def guarded(self, function):
        """``function`` such that an error on one rank, which would leave the others waiting in the
        next all-reduce, ends the job with its one-line message instead. Interrupts and divergence
        reach every rank at the same step and pass through."""
        from .training import TrainingDiverged, TrainingInterrupted

        def call(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except (TrainingInterrupted, TrainingDiverged):
                raise
            except Exception as error:
                if self.comm.size > 1:
                    self.comm.abort(f"rank {self.comm.rank}: {type(error).__name__}: {_first_line(error)}")
                raise

        return call

    def same_start(self, model) -> None:
        """Give every rank rank 0's parameters (they agree already when the seed and files do)."""
        model.load_parameters(self.comm.broadcast(model.parameters()))


class ShardedEvaluation(Evaluation):
    """An :class:`Evaluation` in which each rank evaluates its contiguous share of every set and
    the counts are summed, so every rank reports the one-process figures."""

    def __init__(self, sets: dict, comm: Communicator):
        super().__init__({})
        self.comm, self.totals = comm, {}
        for name, (x, y) in sets.items():
            n = int(x.shape[0])
            first, last = n * comm.rank // comm.size, n * (comm.rank + 1) // comm.size
            self.sets[name], self.totals[name] = (x[first:last, :], y[first:last]), n

    def __call__(self, model, loss) -> dict:
        names = [name for name, total in self.totals.items() if total]
        if not names:
            return {}
        sums = []
        for name in names:
            x, y = self.sets[name]
            n = int(x.shape[0])
            result = evaluate(model, loss, x, y) if n else {"loss": 0.0, "accuracy": 0.0}
            sums += [result["loss"] * n, result["accuracy"] * n]
        like = model.parameters()[0]
        xp = array_namespace(like)
        summed = self.comm.allreduce([xp.asarray(sums, dtype=xp.float64, device=device_of(like))])[0]
        values = [float(v) for v in to_numpy(summed)]
        stats = {}
        for i, name in enumerate(names):
            total = self.totals[name]
            stats[f"{name}_loss"], stats[f"{name}_accuracy"] = values[2 * i] / total, round(values[2 * i + 1]) / total
        return stats
