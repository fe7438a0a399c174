"""What ``nnback evaluate`` and ``nnback predict`` show: predictions on the host, the confusion
matrix, per-class accuracy, top-k tables and a digit drawn in the terminal.

A host edge: the model runs on its backend in chunks and only the outputs come back to NumPy.
"""

from __future__ import annotations

import numpy as np

from .backend import to_numpy
from .formats.checks import printable

SHADES = " ░▒▓█"
ASCII_SHADES = " .:+#"  # for a terminal whose encoding has no block characters


def predict_outputs(model, backend, images: np.ndarray, chunk: int = 10_000) -> np.ndarray:
    """Output activations (n, n_out) on the host for host images (n, n_in), computed in chunks."""
    parts = [to_numpy(model.predict_proba(backend.asarray(images[start:start + chunk])))
             for start in range(0, len(images), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, model.sizes[-1]))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def per_class_accuracy(confusion: np.ndarray) -> list[float | None]:
    """Recall of each true class (None for a class with no examples)."""
    totals = confusion.sum(axis=1)
    return [float(confusion[k, k] / totals[k]) if totals[k] else None for k in range(len(confusion))]


def evaluation_report(labels: np.ndarray, outputs: np.ndarray, classes=None) -> dict:
    """The JSON-ready evaluation: accuracy, per-class accuracy and confusion matrix (rows and
    columns in the order of ``classes``, the class names)."""
    predicted = np.argmax(outputs, axis=1)
    confusion = confusion_matrix(labels, predicted, outputs.shape[1])
    return {
        "classes": [str(k) for k in range(outputs.shape[1])] if classes is None else list(classes),
        "test_size": int(len(labels)),
        "test_accuracy": float(np.mean(predicted == labels)) if len(labels) else None,
        "per_class_accuracy": per_class_accuracy(confusion),
        "confusion_matrix": confusion.tolist(),
    }


# Above this many classes the table's lines outgrow a terminal (300 classes: 1,500 characters a
# line, 460 KB in all), so format_confusion prints a summary instead.
TABLE_CLASSES = 30
SUMMARY_ROWS = 10  # classes and confused pairs listed in that summary


def format_confusion(report: dict, metrics_out=None) -> str:
    """The confusion matrix as a table, with each class's count and accuracy on the right; above
    ``TABLE_CLASSES`` classes, a summary that says where the full matrix is (``metrics_out``)."""
    confusion = np.asarray(report["confusion_matrix"])
    names = [printable(str(name), 40) for name in report.get("classes") or range(len(confusion))]
    if len(confusion) > TABLE_CLASSES:
        return _confusion_summary(confusion, names, report["per_class_accuracy"], metrics_out)
    width = max(5, len(str(confusion.max())) + 1, *(len(name) + 1 for name in names))
    label = max(9, *(len(name) for name in names))
    lines = ["true \\ predicted".ljust(label) + "".join(f"{name:>{width}}" for name in names) + "   count  accuracy"]
    for name, row, accuracy in zip(names, confusion, report["per_class_accuracy"]):
        shown = "      -" if accuracy is None else f"{100 * accuracy:6.2f}%"
        lines.append(f"{name:>{label}}" + "".join(f"{c:>{width}}" for c in row) + f"{row.sum():>8}   {shown}")
    return "\n".join(lines)


def _confusion_summary(confusion: np.ndarray, names: list[str], accuracies: list, metrics_out) -> str:
    """The classes with the lowest accuracy and the most frequent confusions, each a short line."""
    n = len(confusion)
    where = f"written to {metrics_out}" if metrics_out else "written by --metrics-out FILE"
    lines = [f"{n} classes: too many for a table; the full confusion matrix and every class's accuracy "
             f"are in the JSON {where}", "lowest accuracy (of the classes with samples):"]
    scored = sorted((a, k) for k, a in enumerate(accuracies) if a is not None)[:SUMMARY_ROWS]
    lines += [f"  {names[k]:>12}  {100 * a:6.2f}% of {confusion[k].sum()}" for a, k in scored]
    off_diagonal = confusion * (1 - np.eye(n, dtype=confusion.dtype))
    pairs = np.argsort(-off_diagonal, axis=None, kind="stable")[:SUMMARY_ROWS]
    lines.append("most confused (true -> predicted: count):")
    lines += [f"  {names[i]:>12} -> {names[j]:<12}  {off_diagonal[i, j]}"
              for i, j in zip(*np.unravel_index(pairs, confusion.shape)) if off_diagonal[i, j]]
    return "\n".join(lines)


def top_k(outputs: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    """The k largest outputs of one image (n_out,) as (class, value), largest first."""
    order = np.argsort(-outputs, kind="stable")[:k]
    return [(int(c), float(outputs[c])) for c in order]


def digit_art(image: np.ndarray, shape=(28, 28), ascii: bool = False) -> str:
    """A grayscale image in [0, 1] of ``shape`` (h, w) as h/2 lines of shade blocks: each character
    covers two pixel rows (a terminal cell is about twice as tall as it is wide), so the image keeps
    its proportions. ``ascii`` draws with plain ASCII shades instead."""
    shades = ASCII_SHADES if ascii else SHADES
    height, width = (shape, shape) if isinstance(shape, int) else (int(shape[0]), int(shape[1]))
    pixels = np.clip(np.asarray(image, dtype=np.float64).reshape(height, width), 0.0, 1.0)
    if height % 2:
        pixels = np.vstack([pixels, np.zeros((1, width))])
    pairs = (pixels[0::2] + pixels[1::2]) / 2.0
    levels = np.minimum((pairs * len(shades)).astype(int), len(shades) - 1)
    return "\n".join("".join(shades[level] for level in row).rstrip() for row in levels)
