"""nnback: fully connected networks written once against the Python Array API.

The same code trains on NumPy (CPU) or CuPy (GPU)::

    import nnback
    result = nnback.train(nnback.TrainConfig(hidden=[100], epochs=5))
    print(result.metrics["test_accuracy"])

and any classification data the same way (``TrainConfig(data="iris.csv", label_column="species")``).
"""

from .backend import Backend, get_backend, to_numpy
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import ConfigError
from .data import Dataset, load_mnist
from .formats import load_dataset, read_examples
from .losses import get_loss
from .model import MLP
from .optimizers import SGD, Adam
from .runner import DataInfo, Run, TrainConfig, Trainer, TrainResult, load_model, prepare, train
from .training import Batches, Evaluation, evaluate, fit, train_step

__version__ = "0.2.0.dev0"

__all__ = [
    "Adam", "Backend", "Batches", "Checkpoint", "ConfigError", "DataInfo", "Dataset", "Evaluation", "MLP", "Run", "SGD",
    "TrainConfig", "TrainResult", "Trainer", "evaluate", "fit", "get_backend", "get_loss", "load_checkpoint",
    "load_dataset", "load_mnist", "load_model", "prepare", "read_examples", "save_checkpoint", "to_numpy", "train",
    "train_step",
]
