"""Every model of mnistlib.models.MODELS: output shape, the originals' exact layer sizes, the table, model_args."""

from __future__ import annotations

import pytest
import torch

from mnistlib import models, train


@pytest.mark.parametrize("name", sorted(models.REGISTRY))
@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 28, 28)])
def test_output_shape(name, shape):
    model = models.build_model(name).eval()
    assert model(torch.rand(shape)).shape == (5, 10)


def test_the_lessons_models_keep_their_sizes():
    def sizes(model):
        return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]

    assert sizes(models.MLP()) == [(784, 128), (128, 10)]
    assert models.count_parameters(models.MLP()) == 784 * 128 + 128 + 128 * 10 + 10
    # The plain CNN: two 3x3 convolutions (16 and 32 filters), then one linear layer on 32 x 7 x 7.
    assert models.count_parameters(models.PlainCNN()) == (9 * 16 + 16) + (9 * 16 * 32 + 32) + (
        32 * 49 * 10 + 10
    )
    assert models.count_parameters(models.PlainCNN()) < models.count_parameters(models.MLP()) / 4


def test_the_mlp_and_the_plain_cnn_are_trained_the_same_way():
    assert models.MODELS["mlp"].recipe == models.MODELS["plain_cnn"].recipe == models.LESSON_RECIPE


def test_cnn_uses_batchnorm():
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in models.SmallCNN().modules())


def test_cnn_stays_small():
    # The default CNN must train in seconds on a laptop CPU; its size is part of that promise.
    assert 50_000 < models.count_parameters(models.SmallCNN()) < 200_000


def test_models_normalise_inputs_themselves():
    model = models.MLP()
    x = torch.full((1, 1, 28, 28), 0.1307)
    assert torch.allclose(model.normalize(x), torch.zeros_like(x), atol=1e-6)


def test_registry_round_trip_and_unknown_name():
    for name in models.REGISTRY:
        assert models.model_name(models.build_model(name)) == name
    with pytest.raises(ValueError, match="resnet"):
        models.build_model("resnet")


def test_every_model_records_the_arguments_it_was_built_with():
    cnn = models.SmallCNN(channels=(8, 8, 8), hidden=32)
    assert cnn.model_args == {
        "channels": (8, 8, 8),
        "hidden": 32,
        "dropout": 0.1,
        "mean": 0.1307,
        "std": 0.3081,
    }
    for name in models.MODELS:
        model = models.build_model(name)
        rebuilt = models.build_model(name, **model.model_args)
        assert rebuilt.model_args == model.model_args


def test_a_subclass_records_its_own_arguments():
    class Wider(models.MLP):
        def __init__(self, extra: int = 3, mean: float = 0.5) -> None:
            super().__init__(mean=mean)
            self.extra = extra

    assert Wider(extra=4).model_args == {"extra": 4, "mean": 0.5}


def test_the_model_table_is_consistent():
    labels = [spec.menu_label for spec in models.MODELS.values() if spec.shipped_file]
    assert None not in labels and len(set(labels)) == len(labels)  # every shipped model has its own label
    for name, spec in models.MODELS.items():
        assert spec.name == name and issubclass(spec.cls, models.ModelBase)
        assert train.RECIPES[name] == (name, spec.recipe)


def test_an_unlisted_model_says_where_to_add_it():
    with pytest.raises(ValueError, match="add a ModelSpec"):
        models.model_name(torch.nn.Linear(2, 2))
