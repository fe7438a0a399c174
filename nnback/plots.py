"""Pictures: training curves (``train --plot``), the confusion matrix (``evaluate --plot``) and
augmented digits (``augment --plot``).

matplotlib is an optional extra (``pip install "nnback[plot]"``). It is imported only here, with
the non-interactive Agg backend, and :func:`require_matplotlib` lets the CLI find out that it is
missing before an hour of training rather than after. Files are written atomically.
"""

from __future__ import annotations

from .atomic import atomic_write


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib():
    """The ``matplotlib.pyplot`` module on the Agg backend, or a :class:`PlotUnavailable`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable('plotting needs matplotlib, which is not installed; '
                              'install it with: pip install "nnback[plot]"') from None
    return plt


def plot_history(history: list[dict], path) -> None:
    """Loss (left) and accuracy (right) per epoch or iteration, for every set that has them."""
    plt = require_matplotlib()
    from matplotlib.ticker import MaxNLocator

    epochs = [entry["epoch"] for entry in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation"), ("test_loss", "test")):
        _curve(loss_axes, history, epochs, key, label, scale=1.0)
    for key, label in (("val_accuracy", "validation"), ("test_accuracy", "test")):
        _curve(accuracy_axes, history, epochs, key, label, scale=100.0)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="Loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if axes.lines:
            axes.legend()
    _save(plt, figure, path)


def _curve(axes, history, epochs, key, label, scale: float) -> None:
    values = [entry.get(key) for entry in history]
    if any(value is not None for value in values):
        axes.plot(epochs, [float("nan") if v is None else scale * v for v in values], marker=".", label=label)


# Above this many classes, cell counts and class names are too small to read and one text
# artist per cell makes drawing slow (300 classes: 79 s and a 4.4 MB PNG), so only the heat map.
LABELLED_CLASSES = 40
MAX_SIDE = 20.0  # inches, at 0.35 inch per class reached at 57 classes; a cell then shrinks instead


def plot_confusion(confusion, path, title: str = "Confusion matrix", classes=None) -> None:
    """The confusion matrix as a heat map; up to ``LABELLED_CLASSES`` classes, with the count in
    each cell and the class names on the axes, else with class indices as the axes' ticks."""
    plt = require_matplotlib()
    n = len(confusion)
    side = min(max(5.5, 0.35 * n), MAX_SIDE)
    figure, axes = plt.subplots(figsize=(side + 1.0, side))
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes)
    axes.set(xlabel="predicted", ylabel="true", title=title)
    if n <= LABELLED_CLASSES:
        _label_cells(axes, confusion)
        _label_classes(axes, n, classes)
    else:
        axes.set(xlabel="predicted (class index)", ylabel="true (class index)")
    _save(plt, figure, path)


def _label_cells(axes, confusion) -> None:
    """Each cell's count, white on the darker half of the colour map."""
    peak = max((max(row) for row in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            color = "white" if count > peak / 2 else "black"
            axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)


def _label_classes(axes, n: int, classes) -> None:
    """A tick per class, named when ``classes`` gives the names."""
    axes.set(xticks=range(n), yticks=range(n))
    if classes is not None:
        axes.set_xticklabels(classes, rotation=90 if max(map(len, classes)) > 2 else 0)
        axes.set_yticklabels(classes)


def plot_digit_grid(rows, path, title: str) -> None:
    """A grid of 28×28 digits: ``rows`` is a list of (label, images (n, 784)) pairs, one per row."""
    plt = require_matplotlib()
    columns = max(len(images) for _, images in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(columns * 0.9, len(rows) * 0.95), squeeze=False)
    for (label, images), line in zip(rows, axes):
        for column, cell in enumerate(line):
            cell.set_axis_off()
            if column < len(images):
                cell.imshow(images[column].reshape(28, 28), cmap="gray_r", vmin=0.0, vmax=1.0)
        line[0].set_title(label, fontsize=7, loc="left")
    figure.suptitle(title, fontsize=9)
    _save(plt, figure, path)


def _save(plt, figure, path) -> None:
    try:
        figure.tight_layout()
        with atomic_write(path) as file:
            figure.savefig(file, format="png", dpi=100)
    finally:
        plt.close(figure)
