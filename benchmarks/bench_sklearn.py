"""nnback's scikit-learn estimators vs scikit-learn's own MLPClassifier and MLPRegressor: same data,
same parameters, one run.

Both libraries get the *same constructor arguments* (scikit-learn's names; nnback takes them as a
drop-in), so the network and recipe are the same on both sides: ReLU, Glorot-uniform weights and
biases, Adam or SGD with momentum 0.9, batch 200, a fixed number of epochs (no L2 penalty, no early
stopping, no tolerance stop), on the host CPU with BLAS limited to ``--threads`` threads.

- classifier: the first ``--train`` MNIST training images (pixels in [0, 1], float32, which both keep
  in float32), [784, 100, 10], scored (accuracy) on the 10,000 test images;
- regressor: scikit-learn's diabetes data (442 patients, 10 features; the only real regression set
  it bundles offline) and ``make_regression`` (20,000 × 100, 50 informative, noise 10), each split
  75/25 with features and target standardised on the training part, [d, 100, 1], scored by R² on
  the held-out quarter.

Fits alternate between the two libraries, so drifting machine load hits both alike; times are wall
clock of ``.fit()`` (median and min of ``--repeats``), scores are the mean ± standard deviation over
the repeats, which use seeds ``--seed``, ``--seed`` + 1, … (the same seeds for both libraries). The
load average before and after is stored with the results.

    python benchmarks/bench_sklearn.py --json benchmarks/results/sklearn_mlp_cpu.json
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import threadpoolctl
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nnback  # noqa: E402
from nnback.cli import write_json_atomic  # noqa: E402
from nnback.sklearn import MLPClassifier as NnbackMLP  # noqa: E402
from nnback.sklearn import MLPRegressor as NnbackRegressor  # noqa: E402


LEARNING_RATES = {"adam": 1e-3, "sgd": 0.05}
REGRESSION = {"diabetes": dict(lr=1e-3, epochs=100), "make_regression": dict(lr=1e-3, epochs=20)}


def parameters(args, seed: int) -> dict:
    """The constructor arguments both libraries get: scikit-learn's names and meanings."""
    momentum = dict(momentum=0.9, nesterovs_momentum=False) if args.optimizer == "sgd" else {}
    return dict(hidden_layer_sizes=args.hidden, activation="relu", solver=args.optimizer, alpha=0.0,
                learning_rate_init=args.lr, batch_size=args.batch_size, max_iter=args.epochs, shuffle=True,
                tol=0.0, n_iter_no_change=args.epochs, early_stopping=False, random_state=seed, **momentum)


def estimators(args, seed: int) -> dict:
    """The two classifiers, built from the same arguments."""
    return {"nnback": NnbackMLP(**parameters(args, seed)), "sklearn": SklearnMLP(**parameters(args, seed))}


def regressors(args, seed: int) -> dict:
    """The two regressors, built from the same arguments."""
    return {"nnback": NnbackRegressor(**parameters(args, seed)), "sklearn": SklearnRegressor(**parameters(args, seed))}


def regression_data(name: str):
    """(X_train, y_train, X_test, y_test) as float32, standardised on the training part."""
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = make_regression(n_samples=20_000, n_features=100, n_informative=50, noise=10.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    features, target = StandardScaler().fit(X_train), StandardScaler().fit(y_train[:, None])
    scale = lambda y: target.transform(y[:, None])[:, 0].astype(np.float32)  # noqa: E731
    return (features.transform(X_train).astype(np.float32), scale(y_train),
            features.transform(X_test).astype(np.float32), scale(y_test))


def timed_fit(estimator, X, y) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one fit. On a shared machine the CPU time is
    the steadier figure: other processes' load stretches wall time, not this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached on purpose
        estimator.fit(X, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def run(args, data, make=estimators, score: str = "test_accuracy") -> dict:
    """Fit both libraries ``args.repeats`` times each, alternating; times, test scores, epochs.
    ``data`` is (X_train, y_train, X_test, y_test); ``make(args, seed)`` gives the two estimators."""
    X, y, X_test, y_test = data
    rows = {name: {"fit_seconds": [], "fit_cpu_seconds": [], score: [], "epochs_run": []}
            for name in ("nnback", "sklearn")}
    for estimator in make(args, args.seed).values():  # warm-up: BLAS threads, caches, imports
        timed_fit(estimator.set_params(max_iter=1), X[:1000], y[:1000])
    for seed in range(args.seed, args.seed + args.repeats):
        for name, estimator in make(args, seed).items():
            row = rows[name]
            wall, cpu = timed_fit(estimator, X, y)
            row["fit_seconds"].append(wall)
            row["fit_cpu_seconds"].append(cpu)
            row[score].append(float(estimator.score(X_test, y_test)))
            row["epochs_run"].append(int(estimator.n_iter_))
    for row in rows.values():
        row["fit_seconds_median"] = statistics.median(row["fit_seconds"])
        row["fit_seconds_min"] = min(row["fit_seconds"])
        row["fit_cpu_seconds_median"] = statistics.median(row["fit_cpu_seconds"])
        row[f"{score}_mean"] = statistics.mean(row[score])
        row[f"{score}_std"] = statistics.stdev(row[score]) if args.repeats > 1 else 0.0
    return rows


def environment(threads: int) -> dict:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "nnback": nnback.__version__,
        "blas_threads_limit": threads,
        "threadpoolctl": threadpoolctl.threadpool_info(),
        "env": {key: value for key, value in os.environ.items()
                if key.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO_"))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10_000, help="training images (the first N)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[100])
    parser.add_argument("--optimizers", nargs="+", choices=("adam", "sgd"), default=["adam", "sgd"],
                        help="recipes to compare, each in turn: adam (lr 1e-3) and sgd (momentum 0.9, lr 0.05)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10, help="fits per library, with seeds seed, seed+1, …")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both (threadpoolctl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--regression", nargs="*", choices=tuple(REGRESSION), default=list(REGRESSION),
                        help="regression data sets to compare the regressors on (Adam; none: skip)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    args.hidden = tuple(args.hidden)
    mnist = nnback.load_mnist()
    data = (mnist.train.images[: args.train], mnist.train.labels[: args.train], mnist.test.images, mnist.test.labels)
    load_before = list(os.getloadavg())
    results, regression = {}, {}
    with threadpoolctl.threadpool_limits(limits=args.threads):
        for optimizer in args.optimizers:
            case = argparse.Namespace(**vars(args), optimizer=optimizer, lr=LEARNING_RATES[optimizer])
            results[optimizer] = summarise(case, run(case, data))
        for name in args.regression:
            recipe = REGRESSION[name]
            case = argparse.Namespace(**{**vars(args), **recipe}, optimizer="adam", name=name)
            regression[name] = summarise(case, run(case, regression_data(name), regressors, "test_r2"), "test_r2")
        env = environment(args.threads)
    result = {
        "benchmark": "nnback.sklearn.MLPClassifier/MLPRegressor vs sklearn.neural_network's on the CPU",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": {**{key: value for key, value in vars(args).items() if key not in ("json", "optimizers")},
                   "network": [784, *args.hidden, 10], "test_size": 10_000, "dtype": "float32",
                   "learning_rates": {name: LEARNING_RATES[name] for name in args.optimizers}},
        "results": results,
        "regression": {"recipes": {name: REGRESSION[name] for name in args.regression}, "results": regression},
        "load_average_before_after": [load_before, list(os.getloadavg())],
        "environment": env,
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(str(args.json), result)


def summarise(case, rows: dict, score: str = "test_accuracy") -> dict:
    """Print one recipe's comparison and return it with its speed-ups."""
    print(f"{getattr(case, 'name', 'MNIST')}: {case.optimizer} (lr {case.lr}), {case.epochs} epochs, "
          f"batch {case.batch_size}, {case.repeats} seeds:")
    for name, row in rows.items():
        print(f"  {name:8s} fit {row['fit_seconds_median']:6.2f} s (min {row['fit_seconds_min']:.2f}, "
              f"CPU {row['fit_cpu_seconds_median']:.2f} s)  {score.replace('_', ' ')} {row[score + '_mean']:.4f} "
              f"± {row[score + '_std']:.4f}  epochs {row['epochs_run'][0]}")
    speedup = rows["sklearn"]["fit_seconds_median"] / rows["nnback"]["fit_seconds_median"]
    speedup_cpu = rows["sklearn"]["fit_cpu_seconds_median"] / rows["nnback"]["fit_cpu_seconds_median"]
    print(f"  nnback fits {speedup:.2f}x faster (median wall time), {speedup_cpu:.2f}x (median CPU time)")
    return {**rows, "speedup_median": speedup, "speedup_cpu_median": speedup_cpu}


if __name__ == "__main__":
    main()
