"""The networks, how each is trained (``Recipe``), and ``MODELS``: one entry per model.

A new model is one class and one ``ModelSpec`` in ``MODELS``, which the recipes, shipped files, pad menu
and tools read. Every model records its arguments (``ModelBase``) so a checkpoint can rebuild it, and
normalises its input itself: floats in [0, 1], (N, 1, 28, 28) or (N, 28, 28), ink bright.
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlib.paths import MODELS_DIR
from mnistlib.preprocess import MNIST_MEAN, MNIST_STD


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; stored in every checkpoint so a result can be reproduced."""

    num_epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3  # peak learning rate of the OneCycle schedule
    weight_decay: float = 5e-4
    optimizer: str = "adamw"  # or "adam", as in the lessons
    onecycle: bool = True
    label_smoothing: float = 0.0
    # scores are divided by this, folded into the last layer (fitted by python -m tools.recipe_trial)
    temperature: float = 1.0
    augment: float = 0.0  # strength of random shift/rotation/scale; 0 = off, 1 = +-2 px, 10 deg, 10 %
    shear: float = 0.0  # random slant and aspect, as people draw: 0 = off, 1 = slant +-0.3, width +-15 %
    stroke: float = 0.0  # random pen width: 0 = off, 1 = up to one pixel thicker on every side
    thin: float = 1.0  # how far the pen may also get thinner, as a fraction of ``stroke`` (0 = only thicker)
    stroke_share: float = 1.0  # the fraction of each batch whose pen width ``stroke`` changes
    bf16: str = "auto"  # "auto" uses bf16 autocast only where the hardware does it natively


class ModelBase(nn.Module):
    """A module that records the arguments each subclass's ``__init__`` was called with, as ``model_args``."""

    model_args: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: nn.Module, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls:  # only the class actually built records, after every parent's __init__
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self.model_args = {k: v for k, v in list(bound.arguments.items())[1:]}

        cls.__init__ = recording_init


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


class MLP(ModelBase):
    """A multi-layer perceptron: 784 pixels in a row, a hidden layer of 128 units with ReLU, 10 scores."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x).flatten(1)  # (N, 784)
        return self.fc2(torch.relu(self.fc1(x)))


class PlainCNN(ModelBase):
    """The lessons' CNN: two blocks of convolution, ReLU and 2x2 max-pooling, then one linear layer."""

    def __init__(
        self, channels: tuple[int, int] = (16, 32), mean: float = MNIST_MEAN, std: float = MNIST_STD
    ) -> None:
        super().__init__()
        c1, c2 = (int(c) for c in channels)
        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, c2, 7, 7)
        )  # fmt: skip
        self.classifier = nn.Linear(c2 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)).flatten(1))


def _conv_block(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv, 2x2 max-pool, BatchNorm, ReLU: pooling first makes BatchNorm and ReLU work on a quarter
    of the pixels, which on a CPU (where these memory-bound layers dominate) trains faster."""
    conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)  # BatchNorm has the bias
    return nn.Sequential(conv, nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SmallCNN(ModelBase):
    """The default model: three conv blocks with BatchNorm, a small hidden layer; trains in seconds on a CPU.

    The first block has only 16 channels, as its 28x28 maps cost most; the 128 hidden units are nearly free.
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


@dataclass(frozen=True)
class ModelSpec:
    """Everything the project knows about one model, besides its class's code."""

    name: str  # stored in checkpoints; also the name of its own training recipe
    cls: type[ModelBase]
    recipe: Recipe  # how the lessons (02a, 02b), tools/ship.py and tools/bench.py train it
    shipped_file: str | None = None  # the trained file in models/, if the project ships one
    menu_label: str | None = None  # how the drawing pad's model menu names the shipped file

    @property
    def shipped_path(self) -> Path | None:
        """Return the shipped checkpoint's path, or None if the project ships none."""
        return None if self.shipped_file is None else MODELS_DIR / self.shipped_file


# Label smoothing aims every clear digit at "91 % sure" and the temperature sharpens it back to honest;
# the pen-width augmentation is for the pad's thick pens. docs/benchmarks.md has the measurements.
_CNN_RECIPE = Recipe(
    num_epochs=5, batch_size=256, lr=6e-3, weight_decay=5e-4, label_smoothing=0.1, temperature=0.43,
    augment=0.5, stroke=1.0, thin=0.5, stroke_share=0.3,
)  # fmt: skip
# The MLP and the plain CNN train alike (Adam, constant rate, no augmentation): only their shape differs.
LESSON_RECIPE = Recipe(
    num_epochs=5, batch_size=64, lr=1e-3, weight_decay=0.0, optimizer="adam", onecycle=False
)

# name -> spec; the shipped models first, in the pad menu's order: the first is load_model()'s default.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("cnn", SmallCNN, _CNN_RECIPE, shipped_file="mnist_cnn.pt", menu_label="CNN (shipped)"),
        ModelSpec("mlp", MLP, LESSON_RECIPE, shipped_file="mnist_mlp.pt", menu_label="MLP (shipped)"),
        ModelSpec(
            "plain_cnn",
            PlainCNN,
            LESSON_RECIPE,
            shipped_file="mnist_plain_cnn.pt",
            menu_label="Plain CNN (shipped)",
        ),
    ]
}

# name -> class: what a checkpoint's model name is built from.
REGISTRY: dict[str, Callable[..., nn.Module]] = {name: spec.cls for name, spec in MODELS.items()}


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Build a model of ``MODELS`` by name (``cnn``, ``mlp`` or ``plain_cnn``)."""
    if name not in REGISTRY:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(REGISTRY)}.")
    return REGISTRY[name](**kwargs)


def model_name(model: nn.Module) -> str:
    """Return the ``MODELS`` name of a model instance."""
    for name, cls in REGISTRY.items():
        if type(model) is cls:
            return name
    raise ValueError(
        f"{type(model).__name__} is not a registered model ({sorted(REGISTRY)}): add a ModelSpec to MODELS."
    )


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
