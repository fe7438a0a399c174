"""Every named recipe is a valid configuration, and the notebooks' recipes say what they are."""

from __future__ import annotations

import pytest

import nnback
from nnback.presets import PRESETS, get_preset
from nnback.runner import build, dropout_rates


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds(name):
    config = nnback.TrainConfig().replace(**PRESETS[name].values)
    init_rng, _, _ = nnback.backend.seeded_generators(0)
    model, loss, optimizer = build(config, nnback.get_backend("cpu"), init_rng)
    assert model.sizes == config.layers and model.sizes[0] == 784 and model.sizes[-1] == 10
    assert len(dropout_rates(config)) == len(model.layers)


def test_the_notebook_recipes_match_their_originals():
    nielsen = get_preset("nielsen").values
    assert (nielsen["layers"], nielsen["loss"], nielsen["init"], nielsen["lr"], nielsen["batch_size"],
            nielsen["epochs"]) == ([784, 30, 10], "quadratic", "normal", 3.0, 10, 30)
    fullbatch = get_preset("fullbatch").values
    assert (fullbatch["batch_size"], fullbatch["lr"], fullbatch["epochs"], fullbatch["val_size"],
            fullbatch["shuffle_split"], fullbatch["init"]) == (None, 0.1, 500, 1000, True, "uniform")
    keras = get_preset("keras-dense").values
    assert (keras["optimizer"], keras["adam_eps"], keras["init"], keras["batch_size"]) == ("adam", 1e-7, "xavier", 32)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="nielsen, nielsen-100"):
        get_preset("lenet")
