"""mnistlib.runtime: the device of a model and eval mode that is restored whatever happens."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnistlib.runtime import device_of, eval_mode


def test_device_of_is_where_the_weights_are_and_the_cpu_without_weights():
    assert device_of(nn.Linear(2, 2)) == torch.device("cpu")
    assert device_of(nn.ReLU()) == torch.device("cpu")


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_switches_to_eval_and_restores_the_previous_mode(training):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train(training)
    with eval_mode(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training is training and model[1].training is training


def test_eval_mode_is_restored_when_the_block_raises():
    model = nn.Linear(2, 2).train()
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("the model failed")
    assert model.training
