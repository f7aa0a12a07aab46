"""The plots of notebook 05 (look inside a network); ``mnistlib.look_inside`` computes what they show.

Each returns a matplotlib Figure (shown when it is the last line of a notebook cell), built with
``mnistlib.viz``'s figure and lesson style; the first-layer filters are drawn by ``viz.plot_filters``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from mnistlib.look_inside import as_batch

# The figures, their style and colour maps are the lesson's own: digits and activations ink bright on
# black (DIGIT_CMAP), weights and saliency red for, blue against, white neither (SIGNED_CMAP).
from mnistlib.viz import DIGIT_CMAP, SIGNED_CMAP, bare_axes, figure, lesson_style


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


@lesson_style
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
    fig = figure(width + (1.8 if image is not None else 0), height)
    grid = fig.add_gridspec(
        len(rows),
        2 if image is not None else 1,
        height_ratios=heights,
        width_ratios=[1.8, width] if image is not None else [1],
    )
    if image is not None:
        ax = fig.add_subplot(grid[:, 0])
        ax.imshow(as_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        ax.set_title("what the\nmodel saw", fontsize=9)
        bare_axes(ax)
    cmap = _cmap(DIGIT_CMAP, "#3b6ea8")  # blue gaps: never mistaken for ink or for black
    for i, ((name, fmap, chosen), mosaic) in enumerate(zip(rows, mosaics)):
        ax = fig.add_subplot(grid[i, -1])
        # one colour scale per layer: the brightest maps are the ones that fire hardest on this digit
        ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=max(float(fmap.max()), 1e-6), interpolation="nearest")
        which = f"the {len(chosen)} most active of" if len(chosen) < len(fmap) else "all"
        size = f"{fmap.shape[1]}x{fmap.shape[2]}"
        ax.set_title(
            f"conv layer {i + 1} ({name}): {which} {len(fmap)} maps, {size} pixels each",
            fontsize=9,
            loc="left",
        )
        bare_axes(ax)
    return fig


def _signed_panel(fig: Figure, ax, values: np.ndarray, outline: np.ndarray, title: str) -> None:
    limit = max(float(np.abs(values).max()), 1e-12)  # symmetric, so white always means zero
    im = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.contour(outline, levels=[0.3], colors="k", linewidths=0.6)  # where the ink is
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    bare_axes(ax, frame=True)  # white means zero: the frame shows where the image ends


# What each kind of saliency map means, shown under its name
SALIENCY_CAPTIONS = {
    "gradient x input": "red ink raised the score",
    "occlusion": "erasing red ink lowers the score",
    "gradient": "more ink on red would raise the score",
}


@lesson_style
def plot_saliency(
    image: np.ndarray | torch.Tensor, maps: dict[str, np.ndarray], digit: int | None = None
) -> Figure:
    """Show the digit next to saliency maps {name: (28, 28)}: red = for the answer, blue = against."""
    x = as_batch(image)[0, 0].numpy()
    fig = figure(3.2 * (len(maps) + 1), 3.2)
    axes = fig.subplots(1, len(maps) + 1)
    axes[0].imshow(x, cmap=DIGIT_CMAP, vmin=0, vmax=1)
    reading = f"\nread as {digit}" if digit is not None else ""
    axes[0].set_title("what the model saw" + reading, fontsize=9)
    bare_axes(axes[0])
    for ax, (name, values) in zip(axes[1:], maps.items()):
        caption = SALIENCY_CAPTIONS.get(name)
        _signed_panel(fig, ax, np.asarray(values), x, f"{name}\n({caption})" if caption else name)
    return fig


@lesson_style
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
    fig = figure(1.1 * ncols + 1.2, 1.1 * nrows + 0.6)
    ax = fig.subplots()
    im = ax.imshow(mosaic, cmap=_cmap(SIGNED_CMAP, "#444444"), vmin=-1, vmax=1, interpolation="nearest")
    if image is not None:
        outline = _mosaic(as_batch(image)[0].expand(len(units), 28, 28), ncols)
        ax.contour(np.nan_to_num(outline), levels=[0.3], colors="k", linewidths=0.6)
    fig.colorbar(im, ax=ax, shrink=0.8, ticks=[-1, 0, 1]).ax.set_yticklabels(["-", "0", "+"])
    what = "the digit's outline on " if image is not None else ""
    ax.set_title(
        f"{what}{len(units)} hidden units' weights: red ink excites a unit, blue ink inhibits it", fontsize=9
    )
    bare_axes(ax)
    return fig


@lesson_style
def plot_embedding(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    you: torch.Tensor | np.ndarray | None = None,
    neighbours: torch.Tensor | np.ndarray | None = None,
    title: str = "The test set in the network's penultimate layer (PCA)",
    you_label: str = "your digit",
) -> Figure:
    """Scatter 2-D points coloured by class, each class's digit at its centre; mark ``you`` with a star."""
    fig = figure(6.5, 5.5)
    ax = fig.subplots()
    _class_clouds(ax, np.asarray(points), np.asarray(labels))
    if neighbours is not None:
        _ring_neighbours(ax, np.asarray(neighbours).reshape(-1, 2))
    if you is not None:
        _star_you(ax, np.asarray(you).reshape(2), you_label)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title, fontsize=10)
    return fig


def _class_clouds(ax, points: np.ndarray, labels: np.ndarray) -> None:
    """Draw the points coloured by class, and each class's digit at its median point."""
    cmap = colormaps["tab10"]
    # rasterized: thousands of dots stay one fast image instead of thousands of vector paths
    ax.scatter(
        points[:, 0], points[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=9.5, s=3, alpha=0.5, rasterized=True
    )
    for digit in np.unique(labels):
        cx, cy = np.median(points[labels == digit], axis=0)
        color = cmap(int(digit))
        ax.text(
            cx,
            cy,
            str(digit),
            fontsize=16,
            weight="bold",
            ha="center",
            va="center",
            color=color,
            # above the star, see-through: a digit landing on its class's middle hides neither
            bbox={"boxstyle": "circle", "fc": "white", "ec": color, "alpha": 0.7},
            zorder=6,
        )


def _ring_neighbours(ax, nb: np.ndarray) -> None:
    """Circle the nearest neighbours' (k, 2) points."""
    ax.scatter(
        nb[:, 0],
        nb[:, 1],
        s=60,
        facecolors="none",
        edgecolors="k",
        linewidths=1.5,
        zorder=5.5,  # over the star: the nearest neighbours often land right beside it
        label="nearest neighbours",
    )


def _star_you(ax, y: np.ndarray, you_label: str) -> None:
    """Mark the student's point with a gold star, and add the legend."""
    ax.scatter(
        [y[0]],
        [y[1]],
        marker="*",
        s=500,
        c="gold",
        edgecolors="k",
        linewidths=1.5,
        zorder=5,
        label=you_label,
    )
    ax.legend(loc="best", fontsize=9)


@lesson_style
def plot_neighbours(
    image: np.ndarray | torch.Tensor,
    images: torch.Tensor | np.ndarray,
    labels: Sequence[int] | torch.Tensor,
    distances: Sequence[float] | torch.Tensor | None = None,
) -> Figure:
    """Show the query digit, then its neighbours (K, 28, 28) with their labels (and distances)."""
    images = np.asarray(images)
    fig = figure(1.3 * (len(images) + 1), 1.9)
    axes = fig.subplots(1, len(images) + 1)
    axes[0].imshow(as_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
    axes[0].set_title("yours", fontsize=9, weight="bold")
    for i, ax in enumerate(axes[1:]):
        ax.imshow(images[i], cmap=DIGIT_CMAP)
        extra = f"\nd={float(distances[i]):.1f}" if distances is not None else ""
        ax.set_title(f"label {int(labels[i])}{extra}", fontsize=9)
    for ax in axes:
        bare_axes(ax)
    return fig


@lesson_style
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
    fig = figure(1.6 * len(titles) + 0.4, height, constrained=False)  # a fixed grid: placed by hand, fast
    axes = fig.subplots(
        2,
        len(titles),
        squeeze=False,
        gridspec_kw={
            "height_ratios": [1.3, 1],
            "wspace": 0.12,
            "hspace": 0.08,
            "left": 0.3 / (1.6 * len(titles) + 0.4),
            "right": 0.99,
            "bottom": 0.3 / height,
            "top": 1 - (0.2 + 0.17 * (1 + len(runs))) / height,  # room for the titles' lines
        },
    )
    for i, title in enumerate(titles):
        top, bottom = axes[0, i], axes[1, i]
        top.imshow(np.asarray(images[i]), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        verdicts = []
        for j, (name, p) in enumerate(runs.items()):
            digit = int(p[i].argmax())
            verdicts.append(f"{name + ': ' if name else ''}{digit} ({p[i, digit]:.0%})")
            bottom.bar(
                np.arange(10) + (j - (len(runs) - 1) / 2) * width,
                p[i],
                width=width,
                color=f"C{j}",
                label=name or None,
            )
        top.set_title("\n".join([title, *verdicts]), fontsize=8.5)
        bare_axes(top)
        bottom.set_ylim(0, 1)
        bottom.set_xticks(range(10))
        bottom.tick_params(labelsize=7)
        if i:
            bottom.set_yticklabels([])
    if len(runs) > 1:
        axes[1, 0].legend(fontsize=7, loc="upper left")
    return fig
