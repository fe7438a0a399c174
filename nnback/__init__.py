"""nnback: fully connected networks written once against the Python Array API.

The same code trains on NumPy (CPU) or CuPy (GPU)::

    import nnback
    result = nnback.train(nnback.TrainConfig(layers=[784, 100, 10], epochs=5))
    print(result.metrics["test_accuracy"])
"""

from .backend import Backend, get_backend, to_numpy
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .data import Dataset, load_mnist
from .formats import load_dataset
from .losses import get_loss
from .model import MLP
from .optimizers import SGD, Adam
from .runner import TrainConfig, TrainResult, train
from .training import Batches, Evaluation, evaluate, fit, train_step

__version__ = "0.2.0.dev0"

__all__ = [
    "Adam", "Backend", "Batches", "Checkpoint", "Dataset", "Evaluation", "MLP", "SGD", "TrainConfig", "TrainResult",
    "evaluate", "fit", "get_backend", "get_loss", "load_checkpoint", "load_dataset", "load_mnist", "save_checkpoint", "to_numpy",
    "train", "train_step",
]
