"""CPU speed of nnback against PyTorch and scikit-learn on the same networks, in one run.

    python benchmarks/bench_cpu.py [--configs big,keras] [--epochs 3] [--json results.jsonl] [--quick]

Each configuration trains on the bundled MNIST (59,000 training images, the 10,000 test images for
accuracy). nnback runs through its public training path (MLP.create, get_loss, make_optimizer,
Batches, fit) on NumPy float32. PyTorch gets the identical network, initial weights, batch size,
optimizer and thread count, with the data already in memory as tensors and a plain
index-shuffling loop; scikit-learn's MLPClassifier (SGD, no momentum, same batch and step size)
runs where it can express the configuration. After one warm-up epoch each, the systems take turns
epoch by epoch, so a noisy host slows all of them alike.

Dense GFLOP/s counts only the matrix products an MLP needs: per sample and layer, 2·n_in·n_out for
the forward pass, the same for the weight gradient, and the same for the input gradient except in
the first layer. The machine's float32 matmul rate (a large square product, the best of NumPy and
torch) is measured just before each configuration and is the ceiling that figure is compared with.
``step_matmul_gflops`` times one step's products alone at the configuration's batch size in each
library: what a trainer on that library's matmul could reach with zero other work.

``--quick`` trains on 10,000 images with 2 timed epochs and skips the memory check: a smoke test,
not a result. PyTorch or scikit-learn missing: their rows are skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmark the checkout this script lives in

import numpy as np  # noqa: E402

import machine  # noqa: E402
import nnback  # noqa: E402
from nnback.backend import get_backend, seeded_generators  # noqa: E402
from nnback.losses import get_loss  # noqa: E402
from nnback.model import MLP  # noqa: E402
from nnback.optimizers import make_optimizer  # noqa: E402
from nnback.training import Batches, evaluate, fit  # noqa: E402


@dataclass(frozen=True)
class Spec:
    """One benchmark configuration (issue 4's table)."""

    sizes: tuple[int, ...]
    hidden: str
    output: str
    loss: str
    init: str
    optimizer: str
    lr: float
    batch_size: int | None
    timed_epochs: int = 3
    momentum: float = 0.9


CONFIGS = {
    "nielsen": Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic", "normal", "sgd", 3.0, 10),
    "relu100": Spec((784, 100, 10), "relu", "softmax", "cross-entropy", "he", "sgd", 0.1, 64),
    "keras": Spec((784, 1024, 10), "relu", "softmax", "cross-entropy", "xavier", "adam", 1e-3, 32),
    "big": Spec((784, 1024, 1024, 10), "relu", "softmax", "cross-entropy", "he", "momentum", 0.05, 128),
    # One "epoch" is one gradient-descent iteration over all 59,000 images; they are short, so more.
    "fullbatch": Spec((784, 10, 10), "relu", "softmax", "cross-entropy", "he", "sgd", 0.5, None, timed_epochs=20),
}

# Issue 4's targets: nnback median seconds per epoch ÷ the peer's.
TARGETS = {("nielsen", "torch"): 0.5, ("relu100", "torch"): 0.6, ("keras", "torch"): 1.0, ("big", "torch"): 0.85,
           ("fullbatch", "torch"): 0.85, ("relu100", "sklearn"): 1.0}
BIG_FRACTION_TARGET, RSS_TARGET_MIB = 0.75, 1024
LIBRARY = {"nnback": "numpy", "sklearn": "numpy", "torch": "torch"}  # whose matmul each system uses


def dense_flops_per_sample(sizes) -> int:
    """Forward + weight gradient for every layer, + input gradient for all but the first."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(2 * n_in * n_out * (2 if i == 0 else 3) for i, (n_in, n_out) in enumerate(pairs))


def step_matmul_gflops(sizes, batch: int, repeats: int = 20) -> dict:
    """GFLOP/s of one training step's dense products alone, at this batch size, in NumPy and
    torch: the ceiling for a trainer that uses that library's matmul (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    layers = [(rng.standard_normal((batch, n_in), dtype=np.float32), rng.standard_normal((n_in, n_out), dtype=np.float32),
               rng.standard_normal((batch, n_out), dtype=np.float32)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def products(x, w, dz, first):
        x @ w, x.T @ dz
        if not first:
            dz @ w.T

    rates = {"numpy": _step_rate(layers, products, batch, sizes, repeats)}
    try:
        import torch

        as_torch = [tuple(torch.from_numpy(a) for a in layer) for layer in layers]
        rates["torch"] = _step_rate(as_torch, products, batch, sizes, repeats)
    except ImportError:
        pass
    return rates


def _step_rate(layers, products, batch, sizes, repeats) -> float:
    best = float("inf")
    for _ in range(repeats + 1):
        started = time.perf_counter()
        for i, (x, w, dz) in enumerate(layers):
            products(x, w, dz, i == 0)
        best = min(best, time.perf_counter() - started)
    return dense_flops_per_sample(sizes) * batch / best / 1e9


class NnbackRunner:
    name = "nnback"

    def __init__(self, spec: Spec, data, seed: int, blas_threads: int | None = None):
        self.blas_threads = blas_threads  # None: the BLAS's own setting, as a user gets it
        backend = get_backend("cpu", "float32")
        init_rng, shuffle_rng, _ = seeded_generators(seed)
        self.model = MLP.create(spec.sizes, backend, init_rng, spec.hidden, spec.output, spec.init)
        self.initial = [(nnback.to_numpy(layer.w).copy(), nnback.to_numpy(layer.b).copy()) for layer in self.model.layers]
        self.loss = get_loss(spec.loss)
        self.optimizer = make_optimizer(spec.optimizer, spec.lr, spec.momentum)
        to_device = lambda split: (backend.asarray(split.images), backend.asarray(split.labels, backend.xp.int64))  # noqa: E731
        self.batches = Batches(*to_device(data.train), spec.batch_size, shuffle_rng)
        self.test = to_device(data.test)

    def epoch(self) -> float:
        with machine.blas_limit(self.blas_threads):
            started = time.perf_counter()
            fit(self.model, self.loss, self.optimizer, self.batches, epochs=1)
            return time.perf_counter() - started

    def accuracy(self) -> float:
        return evaluate(self.model, self.loss, *self.test)["accuracy"]


class TorchRunner:
    name = "torch"

    def __init__(self, spec: Spec, data, seed: int, initial, threads: int):
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(seed)
        layers = []
        for i, (w, b) in enumerate(initial):
            linear = torch.nn.Linear(*w.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w.T.copy()))
                linear.bias.copy_(torch.from_numpy(b))
            layers.append(linear)
            if i < len(initial) - 1:
                layers.append(torch.nn.Sigmoid() if spec.hidden == "sigmoid" else torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.quadratic = spec.loss == "quadratic"
        params = self.model.parameters()
        if spec.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=spec.lr)
        else:
            self.optimizer = torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum if spec.optimizer == "momentum" else 0.0)
        self.x, self.y = torch.from_numpy(data.train.images), torch.from_numpy(data.train.labels)
        self.test = torch.from_numpy(data.test.images), torch.from_numpy(data.test.labels)
        self.batch_size = spec.batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def _loss(self, z, y):
        F = self.torch.nn.functional
        if self.quadratic:  # ½‖σ(z) − onehot(y)‖² averaged over the batch, as nnback's quadratic cost
            diff = self.torch.sigmoid(z) - F.one_hot(y, z.shape[1]).to(z.dtype)
            return 0.5 * (diff * diff).sum() / z.shape[0]
        return F.cross_entropy(z, y)

    def epoch(self) -> float:
        torch, n = self.torch, int(self.x.shape[0])
        started = time.perf_counter()
        total = torch.zeros(())
        size = self.batch_size or n
        order = torch.randperm(n, generator=self.generator) if self.batch_size else None
        for start in range(0, n, size):
            if order is None:
                xb, yb = self.x, self.y
            else:
                index = order[start : start + size]
                xb, yb = self.x[index], self.y[index]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._loss(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.detach()
        float(total)
        return time.perf_counter() - started

    def accuracy(self) -> float:
        with self.torch.no_grad():
            predicted = self.model(self.test[0]).argmax(dim=1)
        return float((predicted == self.test[1]).double().mean())


class SklearnRunner:
    name = "sklearn"

    def __init__(self, spec: Spec, data, seed: int):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=spec.sizes[1:-1], activation="relu", solver="sgd", alpha=0.0,
            batch_size=spec.batch_size, learning_rate="constant", learning_rate_init=spec.lr, momentum=0.0,
            nesterovs_momentum=False, max_iter=1, shuffle=True, random_state=seed, warm_start=True,
            tol=0.0, n_iter_no_change=10**9,
        )
        self.x, self.y = data.train.images, data.train.labels
        self.test = data.test.images, data.test.labels

    def epoch(self) -> float:
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1 + warm_start: one epoch a call
            started = time.perf_counter()
            self.model.fit(self.x, self.y)
            return time.perf_counter() - started

    def accuracy(self) -> float:
        return float(self.model.score(*self.test))


def peers(name: str, spec: Spec, data, seed: int, initial, threads: int, notes: list) -> list:
    """The comparison runners this configuration gets, with a note for each one missing."""
    runners = []
    try:
        runners.append(TorchRunner(spec, data, seed, initial, threads))
    except ImportError:
        notes.append(f"{name}: PyTorch not installed, skipped")
    if name == "relu100":
        try:
            runners.append(SklearnRunner(spec, data, seed))
        except ImportError:
            notes.append(f"{name}: scikit-learn not installed, skipped")
    return runners


def run_config(name: str, spec: Spec, data, seed: int, threads: int, timed: int, notes: list,
               nnback_threads: int | None = None) -> list[dict]:
    """Warm up every system once, then time them in turns; one result dict per system."""
    matmul = machine.matmul_gflops()
    step_matmul = step_matmul_gflops(spec.sizes, spec.batch_size or len(data.train), repeats=3 if spec.batch_size is None else 20)
    nn = NnbackRunner(spec, data, seed, nnback_threads)
    runners = [nn] + peers(name, spec, data, seed, nn.initial, threads, notes)
    warmup = {runner.name: runner.epoch() for runner in runners}
    times: dict[str, list[float]] = {runner.name: [] for runner in runners}
    for _ in range(timed):
        for runner in runners:
            times[runner.name].append(runner.epoch())
    n = len(data.train)
    gflop = dense_flops_per_sample(spec.sizes) * n / 1e9
    limit = max(matmul.values())
    results = []
    for runner in runners:
        median, fastest = statistics.median(times[runner.name]), min(times[runner.name])
        results.append({
            "record": "result", "config": name, "system": runner.name, **asdict(spec), "n_train": n,
            "threads": threads, "blas_threads": (nnback_threads or threads) if runner is nn else threads,
            "warmup_seconds": warmup[runner.name], "epoch_seconds": times[runner.name],
            "median_seconds": median, "min_seconds": fastest, "samples_per_second": n / median,
            "test_accuracy": runner.accuracy(), "dense_gflop_per_epoch": gflop, "gflops": gflop / median,
            "matmul_gflops": matmul, "limit_gflops": limit, "fraction_of_limit": gflop / median / limit,
            "step_matmul_gflops": step_matmul,
            # The epoch if the step were nothing but its products at this batch's rate in the
            # system's matmul library: a floor no trainer on that library goes below.
            "floor_seconds": gflop / step_matmul.get(LIBRARY[runner.name], float("nan")),
            "loadavg": list(os.getloadavg()),
        })
    return results


# Runs in the child at exit. VmHWM is the peak RSS of the child's own address space; ru_maxrss
# would also count the parent's pages that the child had between fork and exec.
_REPORT_PEAK = """
import atexit, resource, sys
def report():
    try:
        with open("/proc/self/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("peak-rss-kib", kib, file=sys.stderr)
atexit.register(report)
from nnback.cli import main
main()
"""


def peak_rss_mib(args: list[str]) -> dict:
    """Peak RSS of ``nnback train <args>`` run in a child process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _REPORT_PEAK, "train", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    reports = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-rss-kib")]
    peak = int(reports[-1]) / 1024 if reports else float("nan")
    return {"record": "rss", "command": "nnback train " + " ".join(args), "returncode": done.returncode,
            "peak_rss_mib": peak, "seconds": seconds, "target_mib": RSS_TARGET_MIB, "holds": peak <= RSS_TARGET_MIB,
            "output": done.stdout.strip().splitlines()[-1:]}


def verdicts(results: list[dict]) -> list[dict]:
    """Issue 4's targets against this run's medians."""
    by = {(r["config"], r["system"]): r for r in results}
    checks = []
    for (config, peer), target in TARGETS.items():
        if (config, "nnback") in by and (config, peer) in by:
            ratio = by[config, "nnback"]["median_seconds"] / by[config, peer]["median_seconds"]
            checks.append({"record": "target", "what": f"{config}: nnback / {peer} time per epoch",
                           "value": ratio, "target": f"<= {target}", "holds": ratio <= target})
    for config in sorted({config for config, _ in by}):
        if (config, "nnback") in by and (config, "torch") in by:
            floor = by[config, "nnback"]["floor_seconds"] / by[config, "torch"]["median_seconds"]
            checks.append({"record": "floor", "what": f"{config}: NumPy's step products alone / torch time per epoch",
                           "value": floor, "target": "the lowest nnback / torch any NumPy trainer reaches"})
    if ("big", "nnback") in by:
        fraction = by["big", "nnback"]["fraction_of_limit"]
        checks.append({"record": "target", "what": "big: nnback dense GFLOP/s / matmul rate", "value": fraction,
                       "target": f">= {BIG_FRACTION_TARGET}", "holds": fraction >= BIG_FRACTION_TARGET})
    return checks


def print_table(results: list[dict], checks: list[dict], rss: dict | None) -> None:
    """mm-only: GFLOP/s of the step's products alone in the library the system multiplies with."""
    head = f"{'config':10} {'system':8} {'median s':>9} {'min s':>8} {'samples/s':>10} {'GFLOP/s':>8} {'of limit':>8} {'test acc':>8} {'vs torch':>8} {'mm-only':>8}"
    print(head)
    print("-" * len(head))
    torch_median = {r["config"]: r["median_seconds"] for r in results if r["system"] == "torch"}
    for r in results:
        ratio = r["median_seconds"] / torch_median[r["config"]] if r["config"] in torch_median else float("nan")
        print(f"{r['config']:10} {r['system']:8} {r['median_seconds']:9.4f} {r['min_seconds']:8.4f} "
              f"{r['samples_per_second']:10.0f} {r['gflops']:8.1f} {r['fraction_of_limit']:8.1%} "
              f"{r['test_accuracy']:8.2%} {ratio:8.2f} {r['step_matmul_gflops'].get(LIBRARY[r['system']], float('nan')):8.1f}")
    print()
    for check in checks:
        verdict = "floor " if check["record"] == "floor" else "holds " if check["holds"] else "MISSED"
        print(f"{verdict}  {check['what']}: {check['value']:.3f} ({'' if verdict == 'floor ' else 'target '}{check['target']})")
    if rss:
        print(f"{'holds ' if rss['holds'] else 'MISSED'}  peak RSS of `{rss['command']}`: {rss['peak_rss_mib']:.0f} MiB "
              f"(target <= {RSS_TARGET_MIB} MiB)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--epochs", type=int, help="timed epochs per system (default: 3; 20 for fullbatch)")
    parser.add_argument("--json", help="append JSON lines (machine, results, targets, memory) to this file")
    parser.add_argument("--quick", action="store_true", help="10,000 training images, 2 timed epochs, no memory check")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS check of the default `nnback train` (12 epochs, ~1.5 min)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nnback-blas-threads", type=int, help="limit NumPy's BLAS to this many threads while nnback "
                        "trains (threadpoolctl); the peers keep the machine's count")
    args = parser.parse_args(argv)
    args.configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in args.configs if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown config {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def load_data(quick: bool):
    data = nnback.load_mnist(val_size=1000)
    if not quick:
        return data
    cut = nnback.data.Split(data.train.images[:10_000], data.train.labels[:10_000])
    return nnback.Dataset(cut, data.val, data.test, data.source)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    threads = machine.numpy_blas_threads()
    try:
        import torch

        torch.set_num_threads(threads)  # before any torch product is timed, matmul rate included
    except ImportError:
        pass
    info = {"record": "machine", **machine.describe(), "matmul_gflops": machine.matmul_gflops(),
            "command": " ".join(["python", "benchmarks/bench_cpu.py", *(argv if argv is not None else sys.argv[1:])])}
    kernels = sorted({str(pool.get("architecture")) for pool in info["blas"] if pool.get("user_api") == "blas"})
    print(f"{info['cpu_model']}, {info['cpu_count']} CPUs, load {info['loadavg'][0]:.2f}; BLAS threads {threads}; "
          f"OpenBLAS kernel {', '.join(kernels)}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"float32 matmul {', '.join(f'{k} {v:.0f}' for k, v in info['matmul_gflops'].items())} GFLOP/s")
    data = load_data(args.quick)
    notes: list[str] = []
    results = []
    for name in args.configs:
        spec = CONFIGS[name]
        timed = args.epochs or (2 if args.quick and spec.batch_size else 5 if args.quick else spec.timed_epochs)
        results += run_config(name, spec, data, args.seed, threads, timed, notes, args.nnback_blas_threads)
        print(f"  {name} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    rss = None if args.quick or args.no_rss else peak_rss_mib(["--quiet"])
    checks = verdicts(results)
    print()
    print_table(results, checks, rss)
    for note in notes:
        print("note:", note)
    summary = {"record": "summary", "seconds": time.perf_counter() - started, "notes": notes,
               "loadavg_end": list(os.getloadavg()), "quick": args.quick}
    if args.json:
        machine_fields = {key: info[key] for key in ("blas", "thread_env", "versions", "cpu_model", "date")}
        lines = [info, *({**r, "machine": machine_fields} for r in results), *checks, *([rss] if rss else []), summary]
        with open(args.json, "a") as out:
            out.writelines(json.dumps(line) + "\n" for line in lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
