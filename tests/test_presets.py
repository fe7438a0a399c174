"""Every named recipe is a valid configuration, and the notebooks' recipes say what they are."""

from __future__ import annotations

import pytest

import nnback
from conftest import mnist_trainer
from nnback.config import dropout_rates
from nnback.presets import PRESETS, get_preset
from nnback.runner import DataInfo, Trainer


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds(name):
    config = nnback.TrainConfig.from_preset(name)
    model = mnist_trainer(config, nnback.get_backend("cpu")).model
    assert model.sizes == config.network_sizes(784, 10) and config.preset == name
    assert len(dropout_rates(config)) == len(model.layers)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_fits_other_data(name):
    """Presets give hidden sizes only, so they train any data: here 64 features in 3 classes."""
    config = nnback.TrainConfig.from_preset(name, augment="none")
    trainer = Trainer(config, DataInfo(64, ("a", "b", "c")), backend=nnback.get_backend("cpu"))
    assert trainer.model.sizes[0] == 64 and trainer.model.sizes[-1] == 3


def test_the_notebook_recipes_match_their_originals():
    nielsen = get_preset("nielsen").values
    assert (nielsen["hidden"], nielsen["loss"], nielsen["init"], nielsen["lr"], nielsen["batch_size"],
            nielsen["epochs"]) == ([30], "quadratic", "normal", 3.0, 10, 30)
    fullbatch = get_preset("fullbatch").values
    assert (fullbatch["batch_size"], fullbatch["lr"], fullbatch["epochs"], fullbatch["val_size"],
            fullbatch["shuffle_split"], fullbatch["init"]) == (None, 0.1, 500, 1000, True, "uniform")
    keras = get_preset("keras-dense").values
    assert (keras["optimizer"], keras["adam_eps"], keras["init"], keras["batch_size"]) == ("adam", 1e-7, "xavier", 32)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="nielsen, nielsen-100"):
        get_preset("lenet")
