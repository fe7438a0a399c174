"""Named recipes: the classic MNIST notebooks reproduced, and nnback's own fast and best MLPs.

A preset is a set of TrainConfig values (hidden sizes only, so it fits any data); any setting
given with it overrides its value (``TrainConfig.from_preset``).
``reported`` records what the original notebook or paper reported, for the README's comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    description: str
    reported: str
    values: dict = field(default_factory=dict)


# The notebooks had neither dropout nor augmentation; the default recipe's are switched off.
_PLAIN = dict(dropout=0.0, augment="none")
_NIELSEN = dict(**_PLAIN, hidden=[30], activation="sigmoid", output_activation="sigmoid", loss="quadratic",
                init="normal", optimizer="sgd", lr=3.0, batch_size=10, epochs=30, schedule="constant")
_FULLBATCH = dict(**_PLAIN, activation="relu", output_activation="softmax", loss="cross-entropy", init="uniform",
                  optimizer="sgd", batch_size=None, schedule="constant", val_size=1000, shuffle_split=True)

PRESETS = {
    "nielsen": Preset(
        "Nielsen's network.py: [784, 30, 10] sigmoid, quadratic cost, N(0, 1) init, SGD batch 10, lr 3.0, 30 epochs",
        "94.6% after ~13 epochs (book: ~95%)", _NIELSEN),
    # With N(0, 1) weights, 100 sigmoid units saturate the output layer, and in most seeds one or
    # two digits' output units never recover under the quadratic cost: seeds 0-6 end at 87, 76,
    # 77, 87, 87, 96.7 and 87% (the book's footnote reports the same spread). The default seed is
    # one that escapes, so the preset shows the book's figure; the README gives the whole spread.
    "nielsen-100": Preset(
        "Nielsen's network.py with 100 hidden neurons (seed 5: see the README on its spread over seeds)",
        "book: ~96.6% (a notebook stayed at 11% with integer training labels)",
        {**_NIELSEN, "hidden": [100], "seed": 5}),
    "fullbatch": Preset(
        "from-scratch notebook: [784, 10, 10] ReLU/softmax, U[-0.5, 0.5) init, full-batch GD lr 0.1, 500 iterations, "
        "59,000 train / 1,000 dev",
        "86.4% on the 1,000 dev images", {**_FULLBATCH, "hidden": [10], "lr": 0.1, "epochs": 500,
                                          "eval_every": 50}),
    "fullbatch-2h": Preset(
        "from-scratch notebook, two hidden layers: [784, 10, 10, 10] ReLU, ReLU, softmax, full-batch GD",
        "92.3-92.5% on the 1,000 dev images (~8,000 iterations at lr 1.0 then 0.5)",
        {**_FULLBATCH, "hidden": [10, 10], "lr": 0.5, "epochs": 3000, "eval_every": 250,
         "schedule": "step"}),
    "dense-relu": Preset(
        "[784, 100, 200, 10] ReLU, softmax cross-entropy, SGD lr 0.1, batch 64, 32 epochs",
        "97.1%", dict(**_PLAIN, hidden=[100, 200], activation="relu", init="he", optimizer="sgd", lr=0.1,
                      batch_size=64, epochs=32, schedule="constant")),
    "keras-dense": Preset(
        "Keras Dense(1024): [784, 1024, 10] ReLU, Adam lr 1e-3 (eps 1e-7), Glorot init, batch 32, 5 epochs",
        "97.2% (Keras)", dict(**_PLAIN, hidden=[1024], activation="relu", init="xavier", optimizer="adam", lr=1e-3,
                               adam_eps=1e-7, batch_size=32, epochs=5, schedule="constant")),
    "fast": Preset(
        "the default recipe, best accuracy in about a minute on a 2-core CPU: [784, 800, 800, 10] ReLU, "
        "dropout 0.2, +-2 px shifts, SGD momentum 0.9, lr 0.05 cosine, batch 128, 15 epochs",
        "target >= 98.5% in <= 60 s (800-unit MLP: ~98.4%, Simard et al. 2003)", {}),
    "max": Preset(
        "the best MLP here: [784, 2048, 2048, 10] ReLU, dropout 0.2, elastic distortions, "
        "SGD momentum, cosine schedule, 100 epochs",
        "target >= 99.2% (MLP + elastic distortions: 99.3%, Simard et al. 2003)",
        dict(hidden=[2048, 2048], optimizer="momentum", lr=0.05, batch_size=128, epochs=100,
             schedule="cosine", warmup_epochs=1.0, dropout=0.2, augment="elastic")),
}


def get_preset(name: str) -> Preset:
    """Look a preset up by name, with the valid names in the error."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
