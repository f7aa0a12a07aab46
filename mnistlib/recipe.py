"""How a model is trained, as data: a ``Recipe`` is stored in every checkpoint so a result can be reproduced.

Its own small module so that ``mnistlib.models`` (which gives every model its recipe) and
``mnistlib.train`` (which follows one) can both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; stored in every checkpoint so a result can be reproduced."""

    num_epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3  # peak learning rate of the OneCycle schedule
    weight_decay: float = 5e-4
    optimizer: str = "adamw"  # "adam" (the original MLP recipe) or "adamw"
    onecycle: bool = True
    label_smoothing: float = 0.0
    # The trained model's scores are divided by this for good (folded into its last layer): label
    # smoothing makes a model under-confident, and a temperature below 1, fitted on training digits
    # held out from training (python -m tools.recipe_trial), makes its confidence honest again.
    temperature: float = 1.0
    augment: float = 0.0  # strength of random shift/rotation/scale; 0 = off, 1 = +-2 px, 10 deg, 10 %
    shear: float = 0.0  # random slant and aspect, as people draw: 0 = off, 1 = slant +-0.3, width +-15 %
    stroke: float = 0.0  # random pen width: 0 = off, 1 = up to one pixel thicker on every side
    thin: float = 1.0  # how far the pen may also get thinner, as a fraction of ``stroke`` (0 = only thicker)
    stroke_share: float = 1.0  # the fraction of each batch whose pen width ``stroke`` changes
    bf16: str = "auto"  # "auto" uses bf16 autocast only where the hardware does it natively
