"""The networks, built by name from a registry so that a checkpoint can rebuild its model.

Every model takes images as float in [0, 1], shape (N, 1, 28, 28) or (N, 28, 28), ink bright on
black, and normalises them itself with the constants from ``mnistlib.preprocess``: training, the
notebooks and the drawing pad cannot disagree about normalisation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mnistlib.preprocess import MNIST_MEAN, MNIST_STD


class Normalize(nn.Module):
    """Subtract the MNIST mean and divide by its standard deviation; shape (N, 1, 28, 28)."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # (N, 28, 28) -> (N, 1, 28, 28)
            x = x.unsqueeze(1)
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class MNISTNet(nn.Module):
    """The original MLP: 784-128-10 with ReLU."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        self.model_args = {"mean": mean, "std": std}
        self.normalize = Normalize(mean, std)
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).flatten(1)  # (N, 784)
        return self.fc2(torch.relu(self.fc1(x)))


class ImprovedMNISTNet(nn.Module):
    """The original improved MLP: 784-256-128-64-10 with ReLU."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        self.model_args = {"mean": mean, "std": std}
        self.normalize = Normalize(mean, std)
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 64)
        self.fc4 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).flatten(1)  # (N, 784)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        x = torch.relu(self.fc3(x))
        return self.fc4(x)


def _conv_block(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv, 2x2 max-pool, BatchNorm, ReLU: pooling first makes BatchNorm and ReLU work on a quarter
    of the pixels, which on a CPU (where these memory-bound layers dominate) trains ~1.4x faster."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),  # BatchNorm has the bias
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """The default model: three conv blocks with BatchNorm and a small hidden layer; trains in seconds on a CPU.

    The widths were chosen by timing training steps on 2 CPU cores (``python -m mnistlib.bench``
    measures the result): a first block of only 16 channels, because the full-size 28x28 maps are
    what costs most there, and a hidden layer of 128 before the output, which buys accuracy almost
    for free.
    """

    def __init__(
        self,
        channels: tuple[int, int, int] = (16, 32, 96),
        hidden: int = 128,
        dropout: float = 0.1,
        mean: float = MNIST_MEAN,
        std: float = MNIST_STD,
    ) -> None:
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.model_args = {"channels": [c1, c2, c3], "hidden": hidden, "dropout": dropout, "mean": mean, "std": std}
        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(
            _conv_block(1, c1, 5),  # (N, c1, 14, 14)
            _conv_block(c1, c2),  # (N, c2, 7, 7)
            _conv_block(c2, c3),  # (N, c3, 3, 3)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * 9, hidden, bias=False),  # BatchNorm has the bias
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )
        # channels_last lets the CPU use its fast (oneDNN) convolutions even for a single image.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).contiguous(memory_format=torch.channels_last)  # (N, 1, 28, 28)
        return self.classifier(self.features(x))


# name -> class; a checkpoint stores the name and the constructor arguments.
REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "mlp": MNISTNet,
    "mlp_improved": ImprovedMNISTNet,
    "cnn": SmallCNN,
}


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Build a registered model by name (``mlp``, ``mlp_improved`` or ``cnn``)."""
    if name not in REGISTRY:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(REGISTRY)}.")
    return REGISTRY[name](**kwargs)


def model_name(model: nn.Module) -> str:
    """Return the registry name of a model instance."""
    for name, cls in REGISTRY.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not a registered model ({sorted(REGISTRY)}).")


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
