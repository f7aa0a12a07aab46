"""Shared fixtures: the real MNIST splits and the shipped models, loaded once per test session; Playwright."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnistlib import checkpoints, data
from mnistlib.preprocess import to_float


@pytest.fixture(scope="session")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    """The real MNIST test split: images (10000, 28, 28) uint8 and labels (10000,) int64."""
    return data.load_mnist("test")


@pytest.fixture(scope="session")
def mnist_train() -> tuple[torch.Tensor, torch.Tensor]:
    """The real MNIST training split: images (60000, 28, 28) uint8 and labels (60000,) int64."""
    return data.load_mnist("train")


@pytest.fixture(scope="session")
def shipped_cnn() -> nn.Module:
    """The shipped default CNN (models/mnist_cnn.pt) on the CPU, in eval mode. Do not train it in place."""
    return checkpoints.load_shipped("cnn")


@pytest.fixture(scope="session")
def shipped_mlp() -> nn.Module:
    """The shipped MLP (models/mnist_mlp.pt) on the CPU, in eval mode. Do not train it in place."""
    return checkpoints.load_shipped("mlp")


@pytest.fixture(scope="session")
def digits(mnist_test) -> list[torch.Tensor]:
    """The first five real test digits as (28, 28) float in [0, 1]."""
    X, _ = mnist_test
    return [to_float(X[i]) for i in range(5)]


@pytest.fixture(scope="module")
def playwright():
    """One Playwright per test module: a second sync_playwright() inside a running one is refused."""
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def loop():
    """An event loop in a thread of its own for a module's server tests (tests/server_support.Loop)."""
    from server_support import Loop

    loop = Loop()
    yield loop
    loop.stop()
