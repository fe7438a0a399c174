"""Can a training step be captured as a CUDA graph on CuPy, and what does replaying it buy?

    python benchmarks/graph_probe.py [--json FILE] [--steps 200]

Issue 13's question, answered on a GPU before nnback's step is built on the answer. The step is
nnback's default network shape, [784, 1024, 1024, 10] ReLU, softmax cross-entropy, SGD momentum,
written out with CuPy operations over a resident training set, its batch gathered through an index
buffer refilled before each step (as ``training.StepInputs`` does). Routes tried:

1. CuPy's own matmul inside stream capture. CuPy (11 to at least 14.2) refuses: its cuBLAS binding
   raises NotImplementedError from ``setStream`` while the stream is capturing.
2. A cuBLAS handle of our own (``nnback.cuda_graphs.CublasHandle``, through ctypes), its stream
   and workspace set *before* capture begins, the step's GEMMs called through it; a private CuPy
   memory pool, warmed by one eager step, serves the capture and lives as long as the graph.

For route 2 it checks replay against eager steps through the same handle bit for bit (and eager
through CuPy's matmul against the own handle), then times a step at batch 128 and 1024: CuPy eager,
own-handle eager, graph replay, and where PyTorch is installed, PyTorch eager and PyTorch with its
step in a CUDA graph (``torch.cuda.graph``). Every failure is recorded in the JSON, never raised.
It is independent of nnback's training loop (whose own graphs ``bench_gpu.py`` times), so that a
failure there can be told from a failure of the route itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from nnback.cuda_graphs import CublasHandle  # noqa: E402

SIZES = [784, 1024, 1024, 10]
N_TRAIN = 50_000
LR, MOMENTUM = 0.05, 0.9


# --- the step -----------------------------------------------------------------------------------
class Step:
    """One SGD-momentum step of the network on a batch gathered through ``self.index``; all state
    (parameters, velocities, the index buffer, the running loss) is updated in place."""

    def __init__(self, cupy, x, y, batch: int, matmul):
        self.cp, self.x, self.y, self.matmul = cupy, x, y, matmul
        r = np.random.default_rng(0)
        self.params = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            self.params.append(cupy.asarray((r.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)))
            self.params.append(cupy.zeros((n_out,), dtype=cupy.float32))
        self.velocity = [cupy.zeros_like(p) for p in self.params]
        self.index = cupy.zeros((batch,), dtype=cupy.int64)
        self.ones = cupy.ones((1, batch), dtype=cupy.float32)
        self.classes = cupy.arange(SIZES[-1], dtype=cupy.int64)
        self.lr = cupy.asarray(LR, dtype=cupy.float32)
        self.loss_sum = cupy.zeros((), dtype=cupy.float32)

    def snapshot(self):
        return [p.copy() for p in self.params + self.velocity]

    def restore(self, saved) -> None:
        for p, s in zip(self.params + self.velocity, saved):
            p[...] = s

    def __call__(self) -> None:
        cp, mm, batch = self.cp, self.matmul, self.index.shape[0]
        x, y = cp.take(self.x, self.index, axis=0), cp.take(self.y, self.index, axis=0)
        inputs, z = [], x
        for i in range(0, len(self.params), 2):
            if i:
                z = cp.maximum(z, 0.0)
            inputs.append(z)
            z = mm(z, self.params[i])
            z += self.params[i + 1]
        shifted = z - cp.max(z, axis=1, keepdims=True)
        e = cp.exp(shifted)
        total = cp.sum(e, axis=1, keepdims=True)
        onehot = (self.classes[None, :] == y[:, None]).astype(cp.float32)
        self.loss_sum += cp.sum((cp.log(total) - shifted) * onehot) * (1.0 / batch)
        dz = (e / total - onehot) * (1.0 / batch)
        grads = [None] * len(self.params)
        for i in range(len(self.params) - 2, -1, -2):
            a = inputs[i // 2]
            grads[i] = mm(a.T, dz)
            grads[i + 1] = mm(self.ones, dz).reshape(-1)
            if i:
                dz = mm(dz, self.params[i].T) * (a > 0.0)
        for p, v, g in zip(self.params, self.velocity, grads):
            v *= MOMENTUM
            v += g
            p -= self.lr * v


def epoch_order(cp, batch: int, seed: int = 0):
    return cp.asarray(np.random.default_rng(seed).permutation(N_TRAIN)[: (N_TRAIN // batch) * batch])


def time_steps(cp, step: Step, order, run, stream, steps: int) -> float:
    """Median milliseconds per step over ``steps`` steps (index refilled before each), in 5 groups."""
    batch = step.index.shape[0]
    times = []
    with stream:
        for group in range(5):
            stream.synchronize()
            started = time.perf_counter()
            for s in range(steps // 5):
                at = ((group * (steps // 5) + s) * batch) % order.shape[0]
                step.index[...] = order[at : at + batch]
                run()
            stream.synchronize()
            times.append(1e3 * (time.perf_counter() - started) / (steps // 5))
    return statistics.median(times)


def capture(cp, step: Step, stream):
    """(graph, pool): one warm-up step under a private pool, then the captured step."""
    pool = cp.cuda.MemoryPool()
    with stream, cp.cuda.using_allocator(pool.malloc):
        step()  # compiles the kernels and fills the private pool
        stream.synchronize()
        stream.begin_capture()
        try:
            step()
        except BaseException:
            try:
                stream.end_capture()
            except Exception:  # noqa: BLE001 - the step's error is the one to report
                pass
            raise
        graph = stream.end_capture()
    return graph, pool


def probe_cupy(steps: int) -> dict:
    import cupy as cp

    result: dict = {"cupy": cp.__version__, "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
                    "gpu": cp.cuda.runtime.getDeviceProperties(0)["name"].decode()}
    data = np.random.default_rng(1)
    x = cp.asarray(data.random((N_TRAIN, SIZES[0]), dtype=np.float32))
    y = cp.asarray(data.integers(0, SIZES[-1], N_TRAIN))
    stream = cp.cuda.Stream(non_blocking=True)
    (x @ x[:SIZES[0], :]).sum()  # loads cuBLAS
    cp.cuda.Device().synchronize()

    # Everything on one stream: a stream of its own does not wait for the default stream.
    with stream:
        # Route 1: CuPy's matmul inside capture.
        probe = Step(cp, x, y, 128, lambda a, b: a @ b)
        try:
            graph, _ = capture(cp, probe, stream)
            result["route1_cupy_matmul"] = "captured"
        except Exception as error:  # noqa: BLE001 - the answer is the error
            result["route1_cupy_matmul"] = f"{type(error).__name__}: {error}"
        stream.synchronize()

        # Route 2: an own handle.
        try:
            own = CublasHandle(cp, stream)
        except Exception as error:  # noqa: BLE001
            result["route2_own_handle"] = f"no handle: {type(error).__name__}: {error}"
            return result
        cupy_mm = probe.matmul
        for batch in (128, 1024):
            case: dict = {}
            result[f"batch{batch}"] = case
            order = epoch_order(cp, batch)
            try:
                eager = Step(cp, x, y, batch, cupy_mm)
                own_eager = Step(cp, x, y, batch, own.matmul)
                start = eager.snapshot()
                own_eager.restore(start)
                with stream:
                    for s in range(5):
                        eager.index[...] = order[s * batch : (s + 1) * batch]
                        own_eager.index[...] = eager.index
                        eager()
                        own_eager()
                stream.synchronize()
                diffs = [float(cp.max(cp.abs(a - b))) for a, b in zip(eager.params, own_eager.params)]
                case["own_handle_vs_cupy_matmul_max_abs_diff_after_5_steps"] = max(diffs)

                graphed = Step(cp, x, y, batch, own.matmul)
                graphed.restore(start)
                graph, pool = capture(cp, graphed, stream)  # the warm-up step moved the parameters
                graphed.restore(start)
                own_eager.restore(start)
                with stream:
                    for s in range(5):
                        graphed.index[...] = order[s * batch : (s + 1) * batch]
                        own_eager.index[...] = graphed.index
                        graph.launch(stream)
                        own_eager()
                stream.synchronize()
                case["replay_equals_eager_bitwise"] = all(
                    bool(cp.all(a == b)) for a, b in zip(graphed.params + graphed.velocity, own_eager.params + own_eager.velocity))
                case["ms_per_step"] = {
                    "cupy_eager": time_steps(cp, eager, order, eager, stream, steps),
                    "own_handle_eager": time_steps(cp, own_eager, order, own_eager, stream, steps),
                    "graph_replay": time_steps(cp, graphed, order, lambda: graph.launch(stream), stream, steps),
                }
                case["graph_pool_bytes"] = pool.total_bytes()
            except Exception as error:  # noqa: BLE001
                case["error"] = f"{type(error).__name__}: {error}"
                case["traceback"] = traceback.format_exc(limit=4)
    return result


def probe_torch(steps: int) -> dict:
    """PyTorch eager and with its whole step in a CUDA graph, the same network and batches."""
    try:
        import torch
    except ImportError:
        return {"skipped": "PyTorch is not installed"}
    torch.backends.cuda.matmul.allow_tf32 = False
    result: dict = {"torch": torch.__version__}
    device = torch.device("cuda")
    data = np.random.default_rng(1)
    x = torch.as_tensor(data.random((N_TRAIN, SIZES[0]), dtype=np.float32), device=device)
    y = torch.as_tensor(data.integers(0, SIZES[-1], N_TRAIN), device=device)
    for batch in (128, 1024):
        case: dict = {}
        result[f"batch{batch}"] = case
        try:
            layers = [torch.nn.Linear(a, b) for a, b in zip(SIZES[:-1], SIZES[1:])]
            net = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1], torch.nn.ReLU(), layers[2]).to(device)
            optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, capturable=True) \
                if "capturable" in torch.optim.SGD.__init__.__code__.co_varnames else \
                torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
            index = torch.zeros(batch, dtype=torch.int64, device=device)
            order = torch.as_tensor(np.random.default_rng(0).permutation(N_TRAIN)[: (N_TRAIN // batch) * batch], device=device)

            def step():
                optimizer.zero_grad(set_to_none=False)
                loss = torch.nn.functional.cross_entropy(net(x[index]), y[index])
                loss.backward()
                optimizer.step()

            def timed(run) -> float:
                times = []
                for group in range(5):
                    torch.cuda.synchronize()
                    started = time.perf_counter()
                    for s in range(steps // 5):
                        at = ((group * (steps // 5) + s) * batch) % order.shape[0]
                        index.copy_(order[at : at + batch])
                        run()
                    torch.cuda.synchronize()
                    times.append(1e3 * (time.perf_counter() - started) / (steps // 5))
                return statistics.median(times)

            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    step()
            torch.cuda.current_stream().wait_stream(side)
            case["ms_per_step"] = {"torch_eager": timed(step)}
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            case["ms_per_step"]["torch_graph"] = timed(graph.replay)
        except Exception as error:  # noqa: BLE001
            case["error"] = f"{type(error).__name__}: {error}"
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per variant")
    args = parser.parse_args(argv)
    result: dict = {"host": platform.node()}
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # noqa: BLE001
        result["skipped"] = f"no CuPy GPU: {type(error).__name__}: {error}"
    else:
        result["cupy"] = probe_cupy(args.steps)
        result["torch"] = probe_torch(args.steps)
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.json:
        with open(args.json, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
