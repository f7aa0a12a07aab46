"""Look inside a trained network (notebook 05): feature maps, filters, saliency, embeddings, variations.

The computations only; the plots are in ``mnistlib.viz``. One ``image`` means what the model saw:
(28, 28) floats in [0, 1], ink bright, such as ``mnistlib.predict(model, drawing).model_input``.
"""

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from mnistlib.preprocess import to_batch
from mnistlib.runtime import device_of, eval_mode


def one_digit(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Return one (28, 28) digit in [0, 1] as a float32 batch (1, 1, 28, 28), or say what to pass instead."""
    x = to_batch(np.array(image) if isinstance(image, np.ndarray) else image)  # model_input is read-only
    if len(x) != 1:
        raise ValueError(f"Expected one 28x28 digit, got {len(x)}: pass pred.model_input (mnistlib.predict).")
    return x


# ---- What the convolutional layers compute -----------------------------------------------------------
_NO_CONV = "{} has no convolutional layers; use a CNN such as load_shipped('cnn'), or mlp_first_layer()."


def conv_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return (conv name, module) per Conv2d: the activation after it (what it passes on), else the conv."""
    activations = (nn.ReLU, nn.GELU, nn.SiLU, nn.LeakyReLU)
    chosen, pending = [], None  # pending: the last conv, until an activation, a Linear or a conv follows
    for name, module in model.named_modules():
        if pending and isinstance(module, (*activations, nn.Linear, nn.Conv2d)):
            chosen.append((pending[0], module) if isinstance(module, activations) else pending)
            pending = None
        if isinstance(module, nn.Conv2d):
            pending = (name, module)
    return chosen + ([pending] if pending else [])


@torch.no_grad()
def feature_maps(model: nn.Module, image: np.ndarray | torch.Tensor) -> dict[str, torch.Tensor]:
    """Return every conv layer's feature maps for one image: {conv name: (channels, H, W)}, in order."""
    watched = conv_activations(model)
    if not watched:
        raise ValueError(_NO_CONV.format(type(model).__name__))
    maps: dict[str, torch.Tensor] = {}

    def keep(name: str):
        # clone: an in-place ReLU after the watched module would otherwise change the kept tensor
        return lambda module, args, output: maps.__setitem__(name, output[0].detach().float().cpu().clone())

    with contextlib.ExitStack() as hooks, eval_mode(model):  # the hooks are removed when the block ends
        for name, module in watched:
            hooks.enter_context(module.register_forward_hook(keep(name)))
        model(one_digit(image).to(device_of(model)))
    return maps


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """Return the first conv layer's filters, shape (out_channels, k, k), one input channel."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(_NO_CONV.format(type(model).__name__))
    return convs[0].weight.detach().float().cpu()[:, 0]


# ---- What the fully connected models look for --------------------------------------------------------
def mlp_first_layer(model: nn.Module) -> torch.Tensor:
    """Return the first Linear layer's weights as images, shape (hidden units, 28, 28)."""
    first = _linear_layers(model)[0]
    if first.in_features != 784:
        raise ValueError(f"{type(model).__name__} is not an MLP reading 784 pixels: use load_shipped('mlp').")
    return first.weight.detach().float().cpu().reshape(-1, 28, 28)


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer; use one of the mnistlib models.")
    return linears


@torch.no_grad()
def mlp_top_units(
    model: nn.Module, image: np.ndarray | torch.Tensor, k: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the (k,) indices and ReLU activations of the first-layer units the image excites most."""
    seen: list[torch.Tensor] = []
    hook = _linear_layers(model)[0].register_forward_hook(lambda module, args, out: seen.append(out[0].cpu()))
    with hook, eval_mode(model):  # the hook is removed on leaving, even when the model raises
        model(one_digit(image).to(device_of(model)))
    activation = torch.relu(seen[0])
    top = activation.topk(min(k, activation.numel()))
    return top.indices, top.values


# ---- Saliency: which pixels pushed the decision ------------------------------------------------------
def gradient_saliency(
    model: nn.Module, image: np.ndarray | torch.Tensor, target: int | None = None, times_input: bool = True
) -> np.ndarray:
    """Return (28, 28): the gradient of the target's score with respect to each pixel, times the pixel.

    ``target`` defaults to the predicted digit; ``times_input=False``: the plain gradient, where ink helps.
    """
    x = one_digit(image).to(device_of(model)).requires_grad_(True)
    with eval_mode(model):
        logits = model(x)
    target = int(logits.argmax(1)) if target is None else _check_target(target)
    # autograd.grad rather than backward(): the model's own .grad buffers stay untouched.
    (grad,) = torch.autograd.grad(logits[0, target], x)
    result = grad * x if times_input else grad
    return result.detach()[0, 0].cpu().numpy()


@torch.no_grad()
def occlusion_saliency(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    target: int | None = None,
    patch: int = 6,
    stride: int = 2,
    baseline: float = 0.0,
    score: str = "logit",
) -> np.ndarray:
    """Return (28, 28): how much the target's score drops when a patch around each pixel is erased.

    Squares of ``patch`` pixels, ``stride`` apart, are set to ``baseline`` (0 = blank paper); a pixel gets
    the mean drop of the squares over it. The "logit" score still moves when the model is 99.99 % sure.
    """
    if not 1 <= patch <= 28 or stride < 1:
        raise ValueError(f"Need 1 <= patch <= 28 and stride >= 1, got patch={patch}, stride={stride}.")
    if score not in ("logit", "probability"):
        raise ValueError(f'score must be "logit" or "probability", got {score!r}.')
    x = one_digit(image)[0, 0]
    starts = [*range(0, 28 - patch, stride), 28 - patch]  # the last rows and columns are covered too
    corners = [(r, c) for r in starts for c in starts]
    batch = x.repeat(len(corners) + 1, 1, 1)  # image 0 is the untouched original
    for i, (r, c) in enumerate(corners, 1):
        batch[i, r : r + patch, c : c + patch] = baseline
    with eval_mode(model):
        logits = model(batch.to(device_of(model))).float().cpu()
    scores = logits if score == "logit" else torch.softmax(logits, dim=1)
    target = int(logits[0].argmax()) if target is None else _check_target(target)
    drop = scores[0, target] - scores[1:, target]
    total, count = torch.zeros(28, 28), torch.zeros(28, 28)
    for d, (r, c) in zip(drop, corners):
        total[r : r + patch, c : c + patch] += d
        count[r : r + patch, c : c + patch] += 1
    return (total / count).numpy()


def _check_target(target: int) -> int:
    if not 0 <= int(target) <= 9:
        raise ValueError(f"target must be a digit 0-9, got {target!r}.")
    return int(target)


# ---- The penultimate layer: a map of the whole data set ----------------------------------------------
@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = 1000) -> torch.Tensor:
    """Return the features (N, D) the last Linear layer reads, of images (N, 28, 28) uint8 or in [0, 1]."""
    X = to_batch(np.array(images) if isinstance(images, np.ndarray) else images)
    last = _linear_layers(model)[-1]
    out: list[torch.Tensor] = []  # the last layer's input, batch by batch
    hook = last.register_forward_pre_hook(lambda module, args: out.append(args[0].flatten(1).float().cpu()))
    with hook, eval_mode(model):
        for start in range(0, len(X), batch_size):
            model(X[start : start + batch_size].to(device_of(model)))
    return torch.cat(out) if out else torch.empty(0, last.in_features)


@dataclass
class PCA:
    """A principal-component projection fitted on some rows: the mean and the top directions."""

    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (k, D), orthonormal rows
    explained_variance_ratio: torch.Tensor  # (k,) share of the total variance each component keeps

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Project rows (N, D) or one row (D,) onto the components: (N, k) or (k,)."""
        return (torch.as_tensor(X).float() - self.mean) @ self.components.T


def fit_pca(X: torch.Tensor, k: int = 2) -> PCA:
    """Fit a k-component PCA to rows X (N, D) exactly (deterministic, unlike the randomised pca_lowrank)."""
    X = torch.as_tensor(X).float()
    if X.dim() != 2 or len(X) < 2 or not 1 <= k <= min(X.shape):
        raise ValueError(f"Need X shaped (N >= 2, D) and 1 <= k <= min(N, D); got {tuple(X.shape)}, k={k}.")
    mean = X.mean(0)
    Xc = X - mean
    # the D x D covariance's eigenvectors, in float64 for accuracy: much faster than an SVD when N >> D
    variance, vectors = torch.linalg.eigh((Xc.T @ Xc).double() / (len(X) - 1))
    order = variance.argsort(descending=True)[:k]
    components = vectors[:, order].T  # (k, D)
    # eigenvector signs are arbitrary: make each one's largest loading positive, so reruns agree
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    ratio = variance[order] / variance.clamp(min=0).sum()
    return PCA(mean, (components * signs).float(), ratio.float())


def nearest_neighbours(
    query: torch.Tensor, bank: torch.Tensor, k: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the indices and Euclidean distances (M, k) of the rows of ``bank`` nearest each query row."""
    query = torch.atleast_2d(torch.as_tensor(query).float())  # one row (D,) becomes (1, D)
    if query.shape[-1] != bank.shape[-1]:
        raise ValueError(
            f"Query has {query.shape[-1]} features, bank {bank.shape[-1]}: embed both with the same model."
        )
    # exact: cdist's faster matrix-product formula is ~1e-2 off, and a digit's own distance would not be 0
    distances = torch.cdist(query, bank.float(), compute_mode="donot_use_mm_for_euclid_dist")
    top = distances.topk(min(k, len(bank)), largest=False)
    return top.indices, top.values


def nearest_centroid_accuracy(points: torch.Tensor, labels: torch.Tensor) -> float:
    """Return how often a point's nearest class centroid is its own class (0.1 is chance, 1.0 perfect)."""
    points, labels = torch.as_tensor(points).float(), torch.as_tensor(labels).long()
    classes = labels.unique()
    centroids = torch.stack([points[labels == c].mean(0) for c in classes])
    predicted = classes[torch.cdist(points, centroids).argmin(1)]
    return (predicted == labels).float().mean().item()


# ---- Out-of-distribution moments: the same digit changed, or something that is no digit at all -------
def thicken(image: np.ndarray | torch.Tensor, pixels: int = 1) -> np.ndarray:
    """Return the strokes made ``pixels`` thicker on each side (negative: thinner): grey-level dilation."""
    x = one_digit(image)[0]  # (1, 28, 28)
    if pixels == 0:
        return x[0].numpy()
    size = 2 * abs(pixels) + 1
    if pixels > 0:
        return F.max_pool2d(x, size, stride=1, padding=abs(pixels))[0].numpy()
    return (-F.max_pool2d(-x, size, stride=1, padding=abs(pixels)))[0].numpy()  # erosion = -dilate(-x)


def render_text(text: str, size: int = 280) -> np.ndarray:
    """Return ``text`` drawn in white on a black size x size square (uint8), as if drawn on the pad."""
    font = ImageFont.load_default(size=int(size * 0.7))
    canvas = Image.new("L", (size, size), 0)
    ImageDraw.Draw(canvas).text((size / 2, size / 2), text, fill=255, font=font, anchor="mm")
    return np.asarray(canvas)


def scribble(seed: int = 0, num_strokes: int = 3, size: int = 280) -> np.ndarray:
    """Return random pen strokes in white on a black size x size square (uint8): ink that is no digit."""
    rng = np.random.default_rng(seed)
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(num_strokes):
        # a smooth random walk: the direction drifts a little at each step, like a hand
        point, angle, path = rng.uniform(0.25, 0.75, 2) * size, rng.uniform(0, 2 * math.pi), []
        for _ in range(25):
            path.append(tuple(point))
            angle += rng.normal(0, 0.5)
            step = size / 30 * np.array([math.cos(angle), math.sin(angle)])
            point = np.clip(point + step, 0.05 * size, 0.95 * size)
        draw.line(path, fill=255, width=max(1, size // 14), joint="curve")
    return np.asarray(canvas)
