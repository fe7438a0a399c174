"""Write the non-MNIST datasets the README's "Any data" results use, offline, in the formats a user
would bring: ``python benchmarks/datasets.py OUTDIR`` (then ``benchmarks/run_datasets.py`` trains
each one with ``nnback train``'s defaults).

* ``digits.npz`` — scikit-learn's 8×8 digits (1,797 images, 10 classes) as one (n, 8, 8) uint8
  array ``x`` with labels ``y`` (pixel values 0–16, as the data comes); no test part, so nnback cuts
  a stratified test hold-out.
* ``iris.csv``, ``wine.csv``, ``breast_cancer.csv`` — scikit-learn's tabular sets with a header,
  raw feature scales and string class names in a named column (``species``, ``cultivar``,
  ``diagnosis``), which is not the first column.
* ``mnist20/`` — a 20-class IDX image set named like EMNIST's files: 15,000 training and 5,000 test
  MNIST digits upright (classes ``0``–``9``) and the same number rotated by 90° (classes
  ``10``–``19``), so a 6 and a rotated 9 must be told apart.
* ``shapes.npz`` — a non-digit image set: 8 kinds of outlined and filled shapes (circle, square,
  triangle, cross, ring, bar, diamond, ellipse) of random size, position, stroke and noise on
  28×28 pixels, 12,000 training and 3,000 test images; generated from a seed.
* ``mnist6k.csv`` — the first 6,000 MNIST training images as one headed CSV (``label`` first), the
  kind of file that used to fail on the old 10,000-image validation default.
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np


def write_csv(path: Path, header: list[str], rows) -> None:
    with open(path, "w") as handle:
        handle.write(",".join(header) + "\n")
        for row in rows:
            handle.write(",".join(str(cell) for cell in row) + "\n")


def _number(value) -> str:
    return repr(float(value))


def tabular(out: Path) -> None:
    from sklearn import datasets

    for name, loader, label in (("iris", datasets.load_iris, "species"), ("wine", datasets.load_wine, "cultivar"),
                                ("breast_cancer", datasets.load_breast_cancer, "diagnosis")):
        bunch = loader()
        names = [str(n).replace(" ", "_") for n in bunch.feature_names]
        classes = [str(c) for c in bunch.target_names]
        middle = len(names) // 2  # the label column sits among the features, not first
        rows = ([*map(_number, x[:middle]), classes[t], *map(_number, x[middle:])] for x, t in zip(bunch.data, bunch.target))
        write_csv(out / f"{name}.csv", [*names[:middle], label, *names[middle:]], rows)


def digits(out: Path) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    np.savez(out / "digits.npz", x=bunch.images.astype(np.uint8), y=bunch.target.astype(np.int64))


def write_idx(path: Path, array: np.ndarray) -> None:
    code = 0x08
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=6) as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def mnist20(out: Path) -> None:
    from nnback.data import bundled_dir, read_idx_dir

    arrays = read_idx_dir(bundled_dir())
    folder = out / "mnist20"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(20)
    for part, n in (("train", 15_000), ("test", 5_000)):
        images = arrays[f"{part}_images"].reshape(-1, 28, 28)
        labels = arrays[f"{part}_labels"]
        upright = rng.choice(len(images), n, replace=False)
        turned = rng.choice(np.setdiff1d(np.arange(len(images)), upright), n, replace=False)
        x = np.concatenate([images[upright], np.rot90(images[turned], k=1, axes=(1, 2))])
        y = np.concatenate([labels[upright], labels[turned] + 10]).astype(np.uint8)
        order = rng.permutation(len(x))
        write_idx(folder / f"mnist20-{part}-images-idx3-ubyte.gz", x[order])
        write_idx(folder / f"mnist20-{part}-labels-idx1-ubyte.gz", y[order])


SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar", "diamond", "ellipse")


def _shape(kind: str, rng, side: int = 28) -> np.ndarray:
    """One 28×28 image of ``kind``: random centre, size, rotation, stroke and noise, in [0, 255]."""
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    size = rng.uniform(5.0, 10.0)
    cy, cx = rng.uniform(size + 1, side - size - 1, 2)
    angle = rng.uniform(0, np.pi)
    y, x = rows - cy, cols - cx
    u, v = x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)
    stroke = rng.uniform(1.0, 2.5)
    if kind == "circle":
        inside = np.hypot(u, v) <= size
    elif kind == "ring":
        inside = np.abs(np.hypot(u, v) - size) <= stroke
    elif kind == "square":
        inside = np.maximum(np.abs(u), np.abs(v)) <= size * 0.8
    elif kind == "diamond":
        inside = np.abs(u) + np.abs(v) <= size
    elif kind == "triangle":
        inside = (v <= size * 0.6) & (v >= -size + 2 * np.abs(u) * 0.9)
    elif kind == "cross":
        inside = ((np.abs(u) <= stroke) | (np.abs(v) <= stroke)) & (np.maximum(np.abs(u), np.abs(v)) <= size)
    elif kind == "bar":
        inside = (np.abs(u) <= size) & (np.abs(v) <= stroke)
    else:  # ellipse
        inside = (u / size) ** 2 + (v / (size * 0.5)) ** 2 <= 1.0
    image = inside * rng.uniform(150, 255) + rng.normal(0, 20, (side, side))
    return np.clip(image, 0, 255)


def shapes(out: Path, seed: int = 8) -> None:
    rng = np.random.default_rng(seed)
    parts = {}
    for part, n in (("train", 12_000), ("test", 3_000)):
        labels = rng.integers(0, len(SHAPES), n)
        parts[f"x_{part}"] = np.stack([_shape(SHAPES[k], rng) for k in labels]).astype(np.uint8)
        parts[f"y_{part}"] = np.asarray(SHAPES)[labels]
    np.savez(out / "shapes.npz", **parts)


def mnist6k(out: Path) -> None:
    from nnback.data import bundled_dir, read_idx_dir

    arrays = read_idx_dir(bundled_dir())
    x, y = arrays["train_images"][:6000].reshape(6000, -1), arrays["train_labels"][:6000]
    write_csv(out / "mnist6k.csv", ["label", *(f"pixel{i}" for i in range(784))],
              ([int(label), *row.tolist()] for label, row in zip(y, x)))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for make in (tabular, digits, mnist20, shapes, mnist6k):
        make(out)
        print(f"wrote {make.__name__}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="datasets", type=Path, help="folder to write into (default: datasets)")
    main(parser.parse_args().out)
