"""Predictions and metrics on whole tensors: accuracy, per class, confusion matrix, worst mistakes."""

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torch import nn

from mnistlib.preprocess import to_batch
from mnistlib.runtime import device_of, eval_mode


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    batch_size: int = 2000,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return probabilities (N, 10) for digits (28, 28), (N, 28, 28) or (N, 1, 28, 28), uint8 or in [0, 1]."""
    device = torch.device(device) if device is not None else device_of(model)
    X = to_batch(X)
    out = []
    with eval_mode(model):
        for start in range(0, len(X), batch_size):
            out.append(torch.softmax(model(X[start : start + batch_size].to(device)).float(), dim=1).cpu())
    return torch.cat(out) if out else torch.empty(0, 10)


def accuracy(
    model: nn.Module, X: torch.Tensor | np.ndarray, y: torch.Tensor, device: torch.device | str | None = None
) -> float:
    """Return the fraction of images whose most probable class is the label."""
    return (predict_proba(model, X, device=device).argmax(1) == y.cpu()).float().mean().item()


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Return a (10, 10) int64 matrix: row = true digit, column = predicted digit."""
    idx = y_true.cpu().long() * num_classes + y_pred.cpu().long()
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Return (10,) float: for each true digit, the fraction predicted correctly."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    return cm.diag().float() / cm.sum(1).clamp(min=1).float()


def most_confident_mistakes(probs: torch.Tensor, y_true: torch.Tensor, k: int = 16) -> torch.Tensor:
    """Return the indices of the ``k`` wrong predictions made with the highest confidence."""
    conf, pred = probs.max(1)
    wrong = (pred != y_true.cpu()).nonzero().squeeze(1)
    return wrong[conf[wrong].argsort(descending=True)[:k]]


def calibration(probs: torch.Tensor, y_true: torch.Tensor, num_bins: int = 10) -> dict[str, torch.Tensor]:
    """Bin predictions by confidence; return each bin's mean confidence, accuracy and count."""
    conf, pred = probs.max(1)
    correct = (pred == y_true.cpu()).float()
    bins = ((conf * num_bins).long()).clamp(max=num_bins - 1)
    count = torch.bincount(bins, minlength=num_bins).float()
    mean_conf = torch.bincount(bins, weights=conf, minlength=num_bins) / count.clamp(min=1)
    acc = torch.bincount(bins, weights=correct, minlength=num_bins) / count.clamp(min=1)
    return {"confidence": mean_conf, "accuracy": acc, "count": count}


# ---- Robustness: accuracy when the test digits are moved or turned (notebook 03) ---------------------
ROBUSTNESS_KINDS = ("shift", "shift_down", "rotate")


def shift_images(X: torch.Tensor | np.ndarray, dx: int, dy: int = 0) -> torch.Tensor | np.ndarray:
    """Return digits moved ``dx`` px right and ``dy`` down: (N, 1, 28, 28) floats, or one (28, 28) image."""
    moved = TF.affine(to_batch(X), angle=0.0, translate=[int(dx), int(dy)], scale=1.0, shear=[0.0, 0.0])
    return moved[0, 0].numpy() if np.ndim(X) == 2 else moved


def rotate_images(X: torch.Tensor | np.ndarray, degrees: float) -> torch.Tensor | np.ndarray:
    """Return digits turned ``degrees`` anticlockwise about their centre, shaped as ``shift_images`` does."""
    turned = TF.rotate(to_batch(X), float(degrees), interpolation=TF.InterpolationMode.BILINEAR).clamp(0, 1)
    return turned[0, 0].numpy() if np.ndim(X) == 2 else turned


def robustness_curve(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    kind: str,
    amounts: list[float] | tuple[float, ...],
    device: torch.device | str | None = None,
) -> list[float]:
    """Return the accuracy per amount: pixels right (shift), pixels down (shift_down) or degrees (rotate)."""
    if kind not in ROBUSTNESS_KINDS:
        raise ValueError(f"kind must be one of {ROBUSTNESS_KINDS}, not {kind!r}.")
    change = {
        "shift": lambda a: shift_images(X, dx=a),
        "shift_down": lambda a: shift_images(X, dx=0, dy=a),
        "rotate": lambda a: rotate_images(X, a),
    }[kind]
    return [accuracy(model, change(a), y, device=device) for a in amounts]


def expected_calibration_error(probs: torch.Tensor, y_true: torch.Tensor, num_bins: int = 10) -> float:
    """Return the gap between confidence and accuracy, averaged over ``calibration``'s bins by their size."""
    cal = calibration(probs, y_true, num_bins)
    return ((cal["accuracy"] - cal["confidence"]).abs() * cal["count"]).sum().item() / max(len(probs), 1)
