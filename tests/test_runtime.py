"""mnistlib.runtime: the device of a model, eval mode that is restored whatever happens, freed memory reused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from mnistlib import runtime
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


# Ten real CNN training steps (the shipped recipe's augmentation included) in a fresh process, after
# three to warm up; prints the page faults the ten took.
_TRAINING_STEPS = """
import contextlib, resource, sys
import torch
from mnistlib import train
from mnistlib.models import MODELS, SmallCNN
from mnistlib.runtime import reusing_freed_memory

torch.set_num_threads(2)
X, y = torch.rand(3328, 1, 28, 28), torch.randint(0, 10, (3328,))
model = SmallCNN().to(memory_format=torch.channels_last)
recipe = MODELS["cnn"].recipe
optimizer, generator = train._optimizer(model, recipe), torch.Generator().manual_seed(0)
with reusing_freed_memory() if sys.argv[1] == "reuse" else contextlib.nullcontext():
    for i in range(13):
        if i == 3:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        batch = slice(i * 256, (i + 1) * 256)
        train.train_step(model, optimizer, X[batch], y[batch], recipe, generator, use_bf16=False)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(runtime._glibc() is None, reason="mallopt is glibc's: elsewhere the block does nothing")
def test_training_steps_reuse_freed_memory_instead_of_faulting_in_fresh_pages():
    # glibc's own mmap threshold adapts as big blocks are freed, so without the block a run's faults
    # vary by orders of magnitude from run to run. A fixed threshold (glibc's default 128 KB, set by environment) turns that adapting off: the
    # baseline is then always the allocator that maps and unmaps every big tensor, as it does before
    # it adapts and whenever it trims, and the block (its mallopt overrides the variable) must still win.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}

    def page_faults(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _TRAINING_STEPS, mode], capture_output=True, text=True, check=True, env=env
        )
        return int(done.stdout.split()[-1])

    plain, reused = page_faults("plain"), page_faults("reuse")
    assert reused * 10 < plain, (reused, plain)


def test_reusing_freed_memory_lets_an_error_through_and_can_be_entered_again():
    with pytest.raises(ValueError, match="inside"), runtime.reusing_freed_memory():
        raise ValueError("inside")
    with runtime.reusing_freed_memory():
        assert torch.ones(3).sum() == 3
