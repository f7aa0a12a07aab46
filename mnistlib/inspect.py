"""Look inside a trained network: feature maps, filters, saliency, embeddings; the plots of notebook 05.

Every function that takes one ``image`` expects what the model saw: a (28, 28) float array in
[0, 1], ink bright on black, such as ``mnistlib.predict(model, drawing).model_input``.

    python -m mnistlib.inspect     # time each plot for one digit (median of a few runs)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont
from torch import nn
from torchvision.utils import make_grid

from mnistlib.data import to_float
from mnistlib.evaluate import _device_of, predict_proba, rotate_images, shift_images
# The figures, their style and colour maps are the lesson's own: digits and activations ink bright on
# black (DIGIT_CMAP), weights and saliency red for, blue against, white neither (SIGNED_CMAP).
from mnistlib.viz import DIGIT_CMAP, SIGNED_CMAP, _bare, _styled
from mnistlib.viz import figure as _figure


# --------------------------------------------------------------------------------------------------
# Inputs


def as_batch(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Turn one (28, 28) image in [0, 1] into a float32 tensor of shape (1, 1, 28, 28)."""
    # np.array copies: Prediction.model_input is read-only, and torch warns about wrapping those
    x = image if isinstance(image, torch.Tensor) else torch.from_numpy(np.array(image, dtype=np.float32))
    x = x.detach().float().cpu()
    if x.numel() != 28 * 28:
        raise ValueError(
            f"Expected one 28x28 image, got shape {tuple(x.shape)}. Pass what the model saw: "
            "pred = mnistlib.predict(model, drawing); then use pred.model_input."
        )
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"Expected pixel values in [0, 1], got [{x.min():.3g}, {x.max():.3g}]. "
            "Use pred.model_input from mnistlib.predict, or divide uint8 pixels by 255."
        )
    return x.reshape(1, 1, 28, 28)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Switch to eval mode (BatchNorm running stats, no dropout) and restore the previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def probabilities(model: nn.Module, images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Return class probabilities (N, 10) for images (N, 28, 28) or one (28, 28) in [0, 1], as they are."""
    if isinstance(images, torch.Tensor):
        X = images.float()
    else:
        X = torch.from_numpy(np.array(images, dtype=np.float32))
    return predict_proba(model, X.reshape(-1, 28, 28)).numpy()


# --------------------------------------------------------------------------------------------------
# What the convolutional layers compute


_NO_CONV = "{} has no convolutional layers; use a CNN such as load_shipped('cnn'), or mlp_first_layer()."


def conv_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return (conv name, module to watch) for each Conv2d: the first activation after it, else the conv.

    The activation (after BatchNorm and ReLU, and after the pooling where a block pools first, as
    SmallCNN's do) is what the layer passes on to the next one, so that is the feature map worth
    looking at.
    """
    chosen: list[tuple[str, nn.Module]] = []
    pending: tuple[str, nn.Module] | None = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if pending is not None:
                chosen.append(pending)
            pending = (name, module)
        elif pending is not None and isinstance(module, (nn.ReLU, nn.GELU, nn.SiLU, nn.LeakyReLU)):
            chosen.append((pending[0], module))
            pending = None
        elif pending is not None and isinstance(module, nn.Linear):
            chosen.append(pending)  # no activation before the classifier: show the conv output itself
            pending = None
    if pending is not None:
        chosen.append(pending)
    return chosen


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

    handles = [module.register_forward_hook(keep(name)) for name, module in watched]
    try:
        with _eval_mode(model):
            model(as_batch(image).to(_device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    return maps


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """Return the first conv layer's filters, shape (out_channels, k, k), one input channel."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(_NO_CONV.format(type(model).__name__))
    return convs[0].weight.detach().float().cpu()[:, 0]


# --------------------------------------------------------------------------------------------------
# What the fully connected models look for


def mlp_first_layer(model: nn.Module) -> torch.Tensor:
    """Return the first Linear layer's weights as images, shape (hidden units, 28, 28)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears or linears[0].in_features != 784:
        raise ValueError(
            f"{type(model).__name__} does not start with a Linear layer reading 784 pixels; "
            "use an MLP such as load_shipped('mlp_improved')."
        )
    return linears[0].weight.detach().float().cpu().reshape(-1, 28, 28)


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer; use one of the mnistlib models.")
    return linears


@torch.no_grad()
def mlp_top_units(
    model: nn.Module, image: np.ndarray | torch.Tensor, k: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the indices and activations (after ReLU) of the ``k`` first-layer units the image excites most.

    For an MLP such as ``load_shipped("mlp_improved")``; both are tensors of shape (k,).
    """
    first = _linear_layers(model)[0]
    seen: list[torch.Tensor] = []
    handle = first.register_forward_hook(lambda module, args, output: seen.append(output[0].detach().cpu()))
    try:
        with _eval_mode(model):
            model(as_batch(image).to(_device_of(model)))
    finally:
        handle.remove()
    activation = torch.relu(seen[0])
    top = activation.topk(min(k, activation.numel()))
    return top.indices, top.values


# --------------------------------------------------------------------------------------------------
# Saliency: which pixels pushed the decision


def gradient_saliency(
    model: nn.Module, image: np.ndarray | torch.Tensor, target: int | None = None, times_input: bool = True
) -> np.ndarray:
    """Return (28, 28): the gradient of the target's score with respect to each pixel, times the pixel.

    ``target`` defaults to the predicted digit. With ``times_input=False`` you get the plain
    gradient, which also says where *adding* ink would change the score.
    """
    x = as_batch(image).to(_device_of(model)).requires_grad_(True)
    with _eval_mode(model):
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

    Each patch x patch square (moved ``stride`` pixels at a time) is set to ``baseline`` (0 = blank
    paper); a pixel's value is the mean drop over the patches that cover it. ``score`` is "logit"
    (the same score gradient x input explains; it still moves when the model is 99.99% sure) or
    "probability". All patches go through the model in one batch.
    """
    if not 1 <= patch <= 28 or stride < 1:
        raise ValueError(f"Need 1 <= patch <= 28 and stride >= 1, got patch={patch}, stride={stride}.")
    if score not in ("logit", "probability"):
        raise ValueError(f'score must be "logit" or "probability", got {score!r}.')
    x = as_batch(image)[0, 0]
    starts = list(range(0, 28 - patch + 1, stride))
    if starts[-1] != 28 - patch:
        starts.append(28 - patch)  # make sure the last rows and columns are covered too
    corners = [(r, c) for r in starts for c in starts]
    batch = x.repeat(len(corners) + 1, 1, 1)  # image 0 is the untouched original
    for i, (r, c) in enumerate(corners, 1):
        batch[i, r : r + patch, c : c + patch] = baseline
    with _eval_mode(model):
        logits = model(batch.to(_device_of(model))).float().cpu()
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


# --------------------------------------------------------------------------------------------------
# The penultimate layer: a map of the whole data set


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = 1000) -> torch.Tensor:
    """Return the penultimate-layer features (N, D) of images (N, 28, 28): what the last Linear layer reads.

    ``images`` may be uint8 (0-255, like ``load_mnist``) or float in [0, 1].
    """
    X = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images))
    if X.shape[-2:] != (28, 28):
        raise ValueError(f"Expected images shaped (N, 28, 28), got {tuple(X.shape)}.")
    X = (to_float(X) if X.dtype == torch.uint8 else X.float()).reshape(-1, 28, 28)
    last = _linear_layers(model)[-1]
    out: list[torch.Tensor] = []

    def keep(module: nn.Module, args: tuple) -> None:
        out.append(args[0].flatten(1).float().cpu())  # the input of the last layer, batch by batch

    handle = last.register_forward_pre_hook(keep)
    try:
        with _eval_mode(model):
            for start in range(0, len(X), batch_size):
                model(X[start : start + batch_size].to(_device_of(model)))
    finally:
        handle.remove()
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
        raise ValueError(
            f"Need rows X of shape (N >= 2, D) and 1 <= k <= min(N, D); got {tuple(X.shape)}, k={k}."
        )
    mean = X.mean(0)
    Xc = X - mean
    # Eigenvectors of the D x D covariance: much faster than an SVD of the N x D data when N >> D;
    # float64 for the small eigenproblem so the leading directions are accurate.
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
    query = torch.as_tensor(query).float()
    query = query.unsqueeze(0) if query.dim() == 1 else query
    if query.shape[-1] != bank.shape[-1]:
        raise ValueError(
            f"Query has {query.shape[-1]} features but the bank has {bank.shape[-1]}: "
            "embed both with the same model."
        )
    # Exact distances: cdist's faster matrix-product formula is off by ~1e-2 here, so a digit's
    # distance to itself would not be 0.
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


# --------------------------------------------------------------------------------------------------
# Out-of-distribution moments: the same digit changed, or something that is no digit at all


def shift(image: np.ndarray | torch.Tensor, dx: int, dy: int) -> np.ndarray:
    """Return the image moved ``dx`` pixels right and ``dy`` down; what leaves the frame is lost."""
    return shift_images(as_batch(image), dx, dy)[0, 0].numpy()  # a batch of one


def rotate(image: np.ndarray | torch.Tensor, degrees: float) -> np.ndarray:
    """Return the image turned ``degrees`` anticlockwise about its centre (bilinear)."""
    return rotate_images(as_batch(image), degrees)[0, 0].numpy()  # a batch of one


def thicken(image: np.ndarray | torch.Tensor, pixels: int = 1) -> np.ndarray:
    """Return the strokes made ``pixels`` thicker on each side (negative: thinner): grey-level dilation."""
    x = as_batch(image)[0]  # (1, 28, 28)
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


# --------------------------------------------------------------------------------------------------
# Plots: each returns a matplotlib Figure (shown when it is the last line of a notebook cell), built
# with mnistlib.viz's figure and lesson style. The first-layer filters are drawn by viz.plot_filters.


def _mosaic(images: torch.Tensor, ncols: int) -> np.ndarray:
    """Tile images (N, H, W) into one array with NaN gaps, so the gaps can get their own colour."""
    grid = make_grid(images.float().unsqueeze(1), nrow=ncols, padding=1, pad_value=float("nan"))
    return grid[0].numpy()


def _enlarge(maps: torch.Tensor, size: int = 28) -> torch.Tensor:
    """Repeat each pixel of maps (N, H, W) so that H becomes about ``size``; nearest neighbour, no blur."""
    factor = max(1, round(size / maps.shape[-2]))
    return maps.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def _cmap(name: str, gaps: str) -> Colormap:
    return colormaps[name].with_extremes(bad=gaps)


@_styled
def plot_feature_maps(
    maps: dict[str, torch.Tensor], image: np.ndarray | torch.Tensor | None = None, top: int | None = 8
) -> Figure:
    """Show each conv layer's ``top`` most active feature maps (None: all) in one row per layer."""
    rows = []
    for name, fmap in maps.items():
        order = fmap.flatten(1).mean(1).argsort(descending=True)  # most active first
        rows.append((name, fmap, fmap[order[:top]] if top else fmap))
    ncols = top or 16
    # small maps enlarged to about 28x28 with square pixels, so every row's tiles and gaps match
    mosaics = [_mosaic(_enlarge(chosen), min(ncols, len(chosen))) for _, _, chosen in rows]
    heights = [m.shape[0] / m.shape[1] for m in mosaics]  # each row as wide as the figure
    width = 9.0
    height = width * sum(heights) + 0.45 * len(rows) + 0.3  # plus room for the titles
    fig = _figure(width + (1.8 if image is not None else 0), height)
    grid = fig.add_gridspec(len(rows), 2 if image is not None else 1, height_ratios=heights,
                            width_ratios=[1.8, width] if image is not None else [1])
    if image is not None:
        ax = fig.add_subplot(grid[:, 0])
        ax.imshow(as_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        ax.set_title("what the\nmodel saw", fontsize=9)
        _bare(ax)
    cmap = _cmap(DIGIT_CMAP, "#3b6ea8")  # blue gaps: never mistaken for ink or for black
    for i, ((name, fmap, chosen), mosaic) in enumerate(zip(rows, mosaics)):
        ax = fig.add_subplot(grid[i, -1])
        # one colour scale per layer: the brightest maps are the ones that fire hardest on this digit
        ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=max(float(fmap.max()), 1e-6), interpolation="nearest")
        which = f"the {len(chosen)} most active of" if len(chosen) < len(fmap) else "all"
        size = f"{fmap.shape[1]}x{fmap.shape[2]}"
        ax.set_title(f"conv layer {i + 1} ({name}): {which} {len(fmap)} maps, {size} pixels each",
                     fontsize=9, loc="left")
        _bare(ax)
    return fig


def _signed_panel(fig: Figure, ax, values: np.ndarray, outline: np.ndarray, title: str) -> None:
    limit = max(float(np.abs(values).max()), 1e-12)  # symmetric, so white always means zero
    im = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.contour(outline, levels=[0.3], colors="k", linewidths=0.6)  # where the ink is
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    _bare(ax, frame=True)  # white means zero: the frame shows where the image ends


# What each kind of saliency map means, shown under its name
SALIENCY_CAPTIONS = {
    "gradient x input": "red ink raised the score",
    "occlusion": "erasing red ink lowers the score",
    "gradient": "more ink on red would raise the score",
}


@_styled
def plot_saliency(
    image: np.ndarray | torch.Tensor, maps: dict[str, np.ndarray], digit: int | None = None
) -> Figure:
    """Show the digit next to saliency maps {name: (28, 28)}: red = for the answer, blue = against."""
    x = as_batch(image)[0, 0].numpy()
    fig = _figure(3.2 * (len(maps) + 1), 3.2)
    axes = fig.subplots(1, len(maps) + 1)
    axes[0].imshow(x, cmap=DIGIT_CMAP, vmin=0, vmax=1)
    reading = f"\nread as {digit}" if digit is not None else ""
    axes[0].set_title("what the model saw" + reading, fontsize=9)
    _bare(axes[0])
    for ax, (name, values) in zip(axes[1:], maps.items()):
        caption = SALIENCY_CAPTIONS.get(name)
        _signed_panel(fig, ax, np.asarray(values), x, f"{name}\n({caption})" if caption else name)
    return fig


@_styled
def plot_mlp_weights(
    weights: torch.Tensor,
    units: Sequence[int] | torch.Tensor | None = None,
    image: np.ndarray | torch.Tensor | None = None,
    ncols: int = 8,
) -> Figure:
    """Show first-layer MLP weights (H, 28, 28) of ``units`` (default: the first 32) as images.

    With ``image``, its outline is drawn on every template, to show where the ink falls.
    """
    units = list(range(min(32, len(weights)))) if units is None else [int(u) for u in units]
    chosen = weights[units]
    # each unit scaled to its own largest weight
    scaled = chosen / chosen.flatten(1).abs().amax(1).clamp(min=1e-12)[:, None, None]
    ncols = min(ncols, len(units))
    mosaic = _mosaic(scaled, ncols)
    nrows = math.ceil(len(units) / ncols)
    fig = _figure(1.1 * ncols + 1.2, 1.1 * nrows + 0.6)
    ax = fig.subplots()
    im = ax.imshow(mosaic, cmap=_cmap(SIGNED_CMAP, "#444444"), vmin=-1, vmax=1, interpolation="nearest")
    if image is not None:
        outline = _mosaic(as_batch(image)[0].expand(len(units), 28, 28), ncols)
        ax.contour(np.nan_to_num(outline), levels=[0.3], colors="k", linewidths=0.6)
    fig.colorbar(im, ax=ax, shrink=0.8, ticks=[-1, 0, 1]).ax.set_yticklabels(["-", "0", "+"])
    what = "the digit's outline on " if image is not None else ""
    ax.set_title(f"{what}{len(units)} hidden units' weights: red ink excites a unit, blue ink inhibits it",
                 fontsize=9)
    _bare(ax)
    return fig


@_styled
def plot_embedding(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    you: torch.Tensor | np.ndarray | None = None,
    neighbours: torch.Tensor | np.ndarray | None = None,
    title: str = "The test set in the network's penultimate layer (PCA)",
    you_label: str = "your digit",
) -> Figure:
    """Scatter 2-D points coloured by class, each class's digit at its centre; mark ``you`` with a star."""
    points, labels = np.asarray(points), np.asarray(labels)
    fig = _figure(6.5, 5.5)
    ax = fig.subplots()
    cmap = colormaps["tab10"]
    # rasterized: thousands of dots stay one fast image instead of thousands of vector paths
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=9.5, s=3, alpha=0.5,
               rasterized=True)
    for digit in np.unique(labels):
        cx, cy = np.median(points[labels == digit], axis=0)
        color = cmap(int(digit))
        ax.text(cx, cy, str(digit), fontsize=16, weight="bold", ha="center", va="center", color=color,
                bbox={"boxstyle": "circle", "fc": "white", "ec": color, "alpha": 0.85})
    if neighbours is not None:
        nb = np.asarray(neighbours).reshape(-1, 2)
        ax.scatter(nb[:, 0], nb[:, 1], s=40, facecolors="none", edgecolors="k", linewidths=1,
                   label="nearest neighbours")
    if you is not None:
        y = np.asarray(you).reshape(2)
        ax.scatter([y[0]], [y[1]], marker="*", s=500, c="gold", edgecolors="k", linewidths=1.5, zorder=5,
                   label=you_label)
        ax.legend(loc="best", fontsize=9)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title, fontsize=10)
    return fig


@_styled
def plot_neighbours(
    image: np.ndarray | torch.Tensor,
    images: torch.Tensor | np.ndarray,
    labels: Sequence[int] | torch.Tensor,
    distances: Sequence[float] | torch.Tensor | None = None,
) -> Figure:
    """Show the query digit, then its neighbours (K, 28, 28) with their labels (and distances)."""
    images = np.asarray(images)
    fig = _figure(1.3 * (len(images) + 1), 1.9)
    axes = fig.subplots(1, len(images) + 1)
    axes[0].imshow(as_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
    axes[0].set_title("yours", fontsize=9, weight="bold")
    for i, ax in enumerate(axes[1:]):
        ax.imshow(images[i], cmap=DIGIT_CMAP)
        extra = f"\nd={float(distances[i]):.1f}" if distances is not None else ""
        ax.set_title(f"label {int(labels[i])}{extra}", fontsize=9)
    for ax in axes:
        _bare(ax)
    return fig


@_styled
def plot_variations(
    images: Sequence[np.ndarray] | np.ndarray,
    probs: np.ndarray | dict[str, np.ndarray],
    titles: Sequence[str],
) -> Figure:
    """Show images (M, 28, 28) above bar charts of their probabilities (M, 10), titled with the verdicts.

    ``probs`` may be one (M, 10) array or {model name: (M, 10)} to compare models bar by bar.
    """
    runs = {name: np.asarray(p) for name, p in (probs.items() if isinstance(probs, dict) else [("", probs)])}
    width = 0.8 / len(runs)
    height = 3.2 + 0.2 * len(runs)
    fig = _figure(1.6 * len(titles) + 0.4, height, constrained=False)  # a fixed grid: placed by hand, fast
    axes = fig.subplots(2, len(titles), squeeze=False, gridspec_kw={
        "height_ratios": [1.3, 1], "wspace": 0.12, "hspace": 0.08,
        "left": 0.3 / (1.6 * len(titles) + 0.4), "right": 0.99, "bottom": 0.3 / height,
        "top": 1 - (0.2 + 0.17 * (1 + len(runs))) / height,  # room for the titles' lines
    })
    for i, title in enumerate(titles):
        top, bottom = axes[0, i], axes[1, i]
        top.imshow(np.asarray(images[i]), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        verdicts = []
        for j, (name, p) in enumerate(runs.items()):
            digit = int(p[i].argmax())
            verdicts.append(f"{name + ': ' if name else ''}{digit} ({p[i, digit]:.0%})")
            bottom.bar(np.arange(10) + (j - (len(runs) - 1) / 2) * width, p[i], width=width,
                       color=f"C{j}", label=name or None)
        top.set_title("\n".join([title, *verdicts]), fontsize=8.5)
        _bare(top)
        bottom.set_ylim(0, 1)
        bottom.set_xticks(range(10))
        bottom.tick_params(labelsize=7)
        if i:
            bottom.set_yticklabels([])
    if len(runs) > 1:
        axes[1, 0].legend(fontsize=7, loc="upper left")
    return fig


# --------------------------------------------------------------------------------------------------
# Benchmark: python -m mnistlib.inspect


def _benchmark(repeats: int = 5) -> None:
    """Print the median time of each computation + plot + render for one test digit."""
    import statistics
    import time

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mnistlib.checkpoints import load_shipped
    from mnistlib.data import load_mnist
    from mnistlib.predict import predict
    from mnistlib.viz import plot_filters

    cnn, mlp = load_shipped("cnn"), load_shipped("mlp_improved")
    X_test, y_test = load_mnist("test")
    X_train, y_train = load_mnist("train")
    image = X_test[0].float() / 255
    start = time.perf_counter()
    test_emb = embed(cnn, X_test)
    t_embed_test = time.perf_counter() - start
    start = time.perf_counter()
    train_emb = embed(cnn, X_train[:10_000])
    t_embed_train = time.perf_counter() - start
    start = time.perf_counter()
    pca = fit_pca(test_emb)
    t_pca = time.perf_counter() - start
    test_points = pca.transform(test_emb)

    def place_and_map() -> Figure:
        point = pca.transform(embed(cnn, image[None]))[0]
        return plot_embedding(test_points, y_test, you=point)

    def neighbours() -> Figure:
        idx, dist = nearest_neighbours(embed(cnn, image[None]), train_emb, k=8)
        return plot_neighbours(image, X_train[idx[0]], y_train[idx[0]], dist[0])

    def variations() -> Figure:
        imgs = np.stack([image.numpy(), shift(image, 6, 0), rotate(image, 90), rotate(image, 180),
                         thicken(image, 1), thicken(image, 2), predict(cnn, render_text("A")).model_input])
        probs = {"CNN": probabilities(cnn, imgs), "MLP": probabilities(mlp, imgs)}
        return plot_variations(imgs, probs, ["as drawn", "shifted", "90°", "180°", "thick", "thicker", "A"])

    jobs = {
        "feature maps (CNN)": lambda: plot_feature_maps(feature_maps(cnn, image), image),
        "first-layer filters (CNN)": lambda: plot_filters(first_layer_filters(cnn)),
        "saliency: grad x input + occlusion": lambda: plot_saliency(image, {
            "gradient x input": gradient_saliency(cnn, image), "occlusion": occlusion_saliency(cnn, image)
        }),
        "MLP first-layer weights": lambda: plot_mlp_weights(
            mlp_first_layer(mlp), mlp_top_units(mlp, image, 16)[0], image
        ),
        "embedding map, digit placed": place_and_map,
        "nearest training neighbours": neighbours,
        "rotate / thicken / shift, 2 models": variations,
    }
    print(f"once: embed 10,000 test digits {t_embed_test:.2f} s, 10,000 training digits "
          f"{t_embed_train:.2f} s, PCA {t_pca:.2f} s; torch threads: {torch.get_num_threads()}")
    print(f"per digit, compute + plot + render to pixels, median of {repeats}:")
    for name, job in jobs.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            FigureCanvasAgg(job()).draw()
            times.append(time.perf_counter() - start)
        print(f"  {name:<38} {statistics.median(times):.3f} s")


if __name__ == "__main__":
    _benchmark()
