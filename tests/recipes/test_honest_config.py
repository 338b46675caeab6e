"""config.json records what ran: a quick run's validation size is the one it used."""

from __future__ import annotations

import pytest

from deepgrad.recipes import available, get
from deepgrad.recipes._config import resolve

# quick runs take `subset` training images; at most a fifth of them validate
QUICK_VAL = {"mnist-mlp": 600, "mnist-lenet": 300, "mnist-transfer": 600, "adversarial": 300,
             "deep-dream": 300, "distillation": 300, "forgetting": 300, "mc-dropout": 300}  # fmt: skip


@pytest.mark.parametrize("name", sorted(QUICK_VAL))
def test_quick_config_records_the_validation_size_it_uses(name):
    assert resolve(get(name), quick=True)["val_size"] == QUICK_VAL[name]


def test_a_validation_size_within_the_data_is_kept():
    assert resolve(get("mnist-mlp"))["val_size"] == 5000
    config = resolve(get("mnist-mlp"), overrides={"subset": "1000", "val_size": "100"})
    assert config["val_size"] == 100 and config["subset"] == 1000


@pytest.mark.parametrize("name", sorted(available()))
def test_a_recorded_config_resolves_to_itself(name):
    """What config.json records, read back (as --resume and --config do), is what ran."""
    recipe = get(name)
    for quick in (False, True):
        config = resolve(recipe, quick=quick)
        again = resolve(recipe, overrides={k: v for k, v in config.items() if k != "quick"},
                        quick=quick)  # fmt: skip
        assert again == config


@pytest.mark.parametrize("name", ["mnist-mlp", "adversarial"])
def test_the_recorded_validation_size_is_the_number_of_validation_images(name, mnist_dir):
    from deepgrad.recipes.mnist_mlp import load

    config = resolve(get(name), overrides={"data": str(mnist_dir.parent)}, quick=True)
    _, (x_val, y_val), _ = load(config)
    assert len(y_val) == len(x_val) == config["val_size"] == QUICK_VAL[name]
