"""tools/recipe_trial.py: variants parse, the temperature is fitted and folded, the split is held out."""

from __future__ import annotations

import pytest
import torch

from mnistlib.models import build_model
from mnistlib.train import RECIPES, fold_temperature
from tools import recipe_trial


def test_a_variant_names_recipe_fields_and_widths():
    v = recipe_trial.parse_variant("narrow: label_smoothing=0.1 channels=8,32,64 onecycle=no num_epochs=4")
    _, shipped = RECIPES["cnn"]
    assert v.name == "narrow" and v.model_args == {"channels": (8, 32, 64)}
    assert (v.recipe.label_smoothing, v.recipe.onecycle, v.recipe.num_epochs) == (0.1, False, 4)
    assert v.recipe.stroke == shipped.stroke  # everything not named stays the shipped recipe's
    assert recipe_trial.parse_variant("shipped:").recipe == shipped
    with pytest.raises(SystemExit, match="Unknown change 'lr_peak'"):
        recipe_trial.parse_variant("typo: lr_peak=1")


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    torch.manual_seed(0)
    logits = torch.randn(20_000, 10) * 4
    labels = torch.distributions.Categorical(logits=logits / 0.5).sample()  # the true temperature is 0.5
    assert recipe_trial.fit_temperature(logits, labels) == pytest.approx(0.5, rel=0.05)


def test_folding_a_temperature_divides_the_logits_and_keeps_every_answer():
    model = build_model("cnn").eval()
    x = torch.rand(8, 1, 28, 28)
    before = model(x).detach()
    fold_temperature(model, 0.4)
    after = model(x).detach()
    torch.testing.assert_close(after, before / 0.4, rtol=1e-5, atol=1e-5)
    assert torch.equal(after.argmax(1), before.argmax(1))


def test_the_validation_split_is_held_out_and_the_same_every_time():
    train, val = recipe_trial.validation_split(1000, 100)
    assert len(val) == 100 and len(train) == 900
    assert (
        set(train.tolist()).isdisjoint(val.tolist()) and len(set(train.tolist()) | set(val.tolist())) == 1000
    )
    assert torch.equal(val, recipe_trial.validation_split(1000, 100)[1])
