"""The training loop: in-memory batches, batch augmentation, OneCycle, bf16 where it is native."""

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import OneCycleLR
from tqdm.auto import tqdm

from mnistlib.evaluate import predict_proba
from mnistlib.models import MODELS, Recipe
from mnistlib.preprocess import to_batch
from mnistlib.runtime import SMOKE_TEST, bf16_supported, pick_device, reusing_freed_memory

# Every model's own recipe, under the model's name: recipe name -> (model name, Recipe).
RECIPES: dict[str, tuple[str, Recipe]] = {spec.name: (spec.name, spec.recipe) for spec in MODELS.values()}


def smoke_subset(X: torch.Tensor, y: torch.Tensor, n: int = 6000) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the first ``n`` samples in smoke mode (CI), everything otherwise."""
    return (X[:n], y[:n]) if SMOKE_TEST else (X, y)


def vary_stroke(
    X: torch.Tensor,
    strength: float,
    generator: torch.Generator | None = None,
    thin: float = 1.0,
    share: float = 1.0,
) -> torch.Tensor:
    """Make the pen of a (N, 1, 28, 28) batch randomly thicker or thinner, by up to ``strength`` px.

    Pad users draw with pens unlike MNIST's. Blending with a dilation adds up to a pixel around each stroke,
    with an erosion removes one; amounts are in [-thin, 1] * strength, for a random ``share`` of the images.
    """
    n = X.shape[0]
    amount = (torch.rand(n, generator=generator) * (1 + thin) - thin) * strength
    if share < 1:  # the rest keep MNIST's own pen, which the test set is written with
        amount = amount * (torch.rand(n, generator=generator) < share)
    # Only the images whose pen changes are pooled: fewer images, less time.
    chosen = (amount != 0).nonzero().squeeze(1)
    if len(chosen) == 0:
        return X
    some, amount = X[chosen], amount[chosen].to(X.dtype).view(-1, 1, 1, 1)
    thicker = torch.lerp(some, _dilate(some), amount.clamp(max=1))
    thinner = torch.lerp(some, -_dilate(-some), (-amount).clamp(max=1))
    out = X.clone()
    out[chosen] = torch.where(amount > 0, thicker, thinner)
    return out


def _dilate(X: torch.Tensor) -> torch.Tensor:
    """Return the 3x3 grey dilation (a stride-1 max-pool) of a (N, 1, H, W) batch."""
    # As the N channels of one channels-last image: on a CPU, several times faster than N images.
    planes = X.transpose(0, 1).contiguous(memory_format=torch.channels_last)
    return F.max_pool2d(planes, 3, stride=1, padding=1).transpose(0, 1).contiguous()


def augment_batch(
    X: torch.Tensor, strength: float, generator: torch.Generator | None = None, shear: float = 0.0
) -> torch.Tensor:
    """Shift, turn and scale each digit of a (N, 1, 28, 28) batch at random; ``shear`` varies slant, width."""
    n = X.shape[0]
    rand = lambda: torch.rand(n, generator=generator) * 2 - 1  # uniform in [-1, 1]
    angle = rand() * math.radians(10) * strength
    scale = 1 + rand() * 0.1 * strength
    shift = torch.stack([rand(), rand()], 1) * (2 * strength * 2 / 28)  # +-2 px in [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)  # (N, 2, 2)
    if shear > 0:  # drawn only when asked for, so recipes without it keep their random stream
        slant, width = rand() * 0.3 * shear, 1 + rand() * 0.15 * shear
        zeros, ones = torch.zeros(n), torch.ones(n)
        skew = torch.stack([torch.stack([1 / width, slant], 1), torch.stack([zeros, ones], 1)], 1)
        theta = theta @ skew  # the grid maps output to input: 1 / width makes the digit width times wider
    theta = torch.cat([theta, shift.unsqueeze(2)], 2).to(X.dtype)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)
    return F.grid_sample(X, grid, align_corners=False, padding_mode="zeros")


def fold_temperature(model: nn.Module, temperature: float) -> None:
    """Divide ``model``'s scores by ``temperature`` for good, by scaling the last Linear layer it defines."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("fold_temperature needs a model whose scores come from a Linear layer.")
    with torch.no_grad():
        linears[-1].weight.div_(temperature)
        if linears[-1].bias is not None:
            linears[-1].bias.div_(temperature)


def _optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """Return the recipe's optimizer, with no weight decay on biases and BatchNorm scales."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [
        {"params": decay, "weight_decay": recipe.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[recipe.optimizer]
    # fused: one kernel for all the weights instead of a dozen small ops per tensor (CPU and CUDA only)
    fused = all(p.device.type in ("cpu", "cuda") for p in model.parameters())
    return opt_cls(groups, lr=recipe.lr, fused=fused)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    """Return how many batches an epoch of ``n`` images takes."""
    steps = math.ceil(n / batch_size)
    if n % batch_size == 1 and steps > 1:  # a batch of one would break BatchNorm: leave it out
        steps -= 1
    return steps


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    xb: torch.Tensor,
    yb: torch.Tensor,
    recipe: Recipe,
    generator: torch.Generator,
    use_bf16: bool,
) -> tuple[float, int]:
    """Augment one batch and take one optimizer step; return the batch's summed loss and correct count."""
    if recipe.stroke > 0:  # on MNIST's own pixel grid, before any resampling blurs the strokes
        xb = vary_stroke(xb, recipe.stroke, generator, recipe.thin, recipe.stroke_share)
    if recipe.augment > 0 or recipe.shear > 0:
        xb = augment_batch(xb, recipe.augment, generator, recipe.shear)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        xb = xb.contiguous(memory_format=torch.channels_last)  # the CPU's fast convolutions
    autocast = torch.autocast(xb.device.type, dtype=torch.bfloat16) if use_bf16 else contextlib.nullcontext()
    with autocast:
        logits = model(xb)  # forward
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=recipe.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # the gradient of the loss with respect to every weight
    optimizer.step()  # every weight takes a small step downhill
    return loss.item() * len(yb), (logits.argmax(1) == yb).sum().item()


def fit(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    recipe: Recipe = Recipe(),  # noqa: B008 - frozen: one shared default cannot be changed by a call
    seed: int = 42,
    device: torch.device | str | None = None,
    progress: bool = True,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place and return its history: losses, accuracies and wall time per epoch.

    ``train_data``/``val_data``: (images, labels), images (N, 28, 28) uint8 or (N, 1, 28, 28) in [0, 1].
    Each epoch ends by measuring ``val_data`` and calling ``on_epoch_end(history)`` (notebooks redraw their
    curves there); the recipe's ``temperature`` is folded in at the end.
    """
    device = torch.device(device) if device is not None else pick_device()
    X, y = to_batch(train_data[0]).to(device), train_data[1].to(device)
    is_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    model.to(device=device, memory_format=torch.channels_last if is_conv else torch.contiguous_format)
    optimizer = _optimizer(model, recipe)
    steps, size = _steps_per_epoch(len(X), recipe.batch_size), recipe.batch_size
    one_cycle = None  # made only when used: making one sets the learning rate
    if recipe.onecycle:
        one_cycle = OneCycleLR(optimizer, recipe.lr, total_steps=recipe.num_epochs * steps, pct_start=0.25)
    use_bf16 = recipe.bf16 == "on" or (recipe.bf16 == "auto" and bf16_supported(device))
    generator = torch.Generator().manual_seed(seed)  # shuffling and augmentation, whatever ran before
    keys = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "time")
    history: dict[str, list[float]] = {k: [] for k in keys}
    train_seconds = 0.0  # training time only: measuring is kept off the clock
    with reusing_freed_memory():
        for epoch in range(1, recipe.num_epochs + 1):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(len(X), generator=generator).to(device)
            loss_sum, correct, seen = 0.0, 0, 0
            for step in tqdm(
                range(steps), desc=f"epoch {epoch}/{recipe.num_epochs}", disable=not progress, leave=False
            ):
                idx = order[step * size : (step + 1) * size]
                loss, hits = train_step(model, optimizer, X[idx], y[idx], recipe, generator, use_bf16)
                loss_sum, correct, seen = loss_sum + loss, correct + hits, seen + len(idx)
                if one_cycle is not None:
                    one_cycle.step()
            train_seconds += time.perf_counter() - start
            val_loss, val_acc = measure(model, *val_data, device=device) if val_data else (math.nan,) * 2
            row = (epoch, loss_sum / seen, correct / seen, val_loss, val_acc, train_seconds)
            for key, value in zip(keys, row, strict=True):
                history[key].append(value)
            if progress:
                tqdm.write(
                    f"epoch {epoch}: loss {row[1]:.4f}, train acc {row[2]:.4f}, val acc {val_acc:.4f}, {train_seconds:.1f} s"
                )
            if on_epoch_end is not None:
                on_epoch_end(history)
    if recipe.temperature != 1.0:
        fold_temperature(model, recipe.temperature)
    model.eval()
    return history


def measure(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, device: torch.device | str | None = None
) -> tuple[float, float]:
    """Return the model's mean cross-entropy loss and its accuracy on images ``X`` with labels ``y``."""
    probs = predict_proba(model, X, device=device)
    y = y.cpu()
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), y).item()
    return loss, (probs.argmax(1) == y).float().mean().item()


def recipe_dict(recipe: Recipe) -> dict:
    """Return a recipe as a plain dict (for checkpoints and tables)."""
    return asdict(recipe)


def with_epochs(recipe: Recipe, num_epochs: int) -> Recipe:
    """Return a copy of ``recipe`` with another number of epochs."""
    return replace(recipe, num_epochs=num_epochs)
