"""Matplotlib helpers for the notebooks: each builds one figure in the lesson style and returns it.

A returned figure shows itself when it is the last line of a notebook cell (it renders its own
PNG), in JupyterLab, Voila, nbval and nbclient alike, with no ``%matplotlib`` magic and without
pyplot, so it is never shown twice and never left open.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from torchvision.utils import make_grid

from mnistlib.preprocess import to_batch

DIGIT_CMAP = "gray"  # digits: ink bright on black, as the model sees them
SIGNED_CMAP = "RdBu_r"  # weights: red positive, blue negative, white zero
TRAIN_COLOR, TEST_COLOR, WRONG_COLOR = "#1f77b4", "#ff7f0e", "#d62728"
# One look for every figure of the series.
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "image.interpolation": "nearest",  # pixels stay crisp squares
}


class LessonFigure(Figure):
    """A matplotlib Figure that renders itself as a PNG in IPython (Jupyter, Voila, nbval)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            self.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
        return buf.getvalue()


def figure(width: float, height: float, constrained: bool = True) -> LessonFigure:
    """Return an empty figure in the lesson style (constrained layout), ``width`` x ``height`` inches.

    ``constrained=False`` leaves the axes where they are put: constrained layout places titles and
    colorbars well, but costs ~30 ms per axes to compute.
    """
    with matplotlib.rc_context(STYLE):
        return LessonFigure(figsize=(width, height), layout="constrained" if constrained else None)


def lesson_style(fn):
    """Build the figure under the lesson style (rcParams are read when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _as_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Return images as a float array (N, H, W) from (N, H, W), (N, 1, H, W) or one (H, W), uint8 or float."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"Expected images shaped (N, H, W) or (N, 1, H, W), got {x.shape}.")
    return x.astype(np.float32)


def _as_numpy(values: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def bare_axes(ax, frame: bool = False) -> None:
    """Remove the ticks and the spines; ``frame=True`` draws a thin grey frame instead, for images whose
    edges are white (zero on a signed colour scale) and would otherwise vanish into the page."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set(visible=frame, color="#bbbbbb", linewidth=0.6)


# --------------------------------------------------------------------------------------------------
# The data (notebook 01)


@lesson_style
def show_digits(
    images: torch.Tensor | np.ndarray,
    labels: Sequence[int] | torch.Tensor | None = None,
    predictions: Sequence[int] | torch.Tensor | None = None,
    confidences: Sequence[float] | torch.Tensor | None = None,
    ncols: int = 10,
    title: str | None = None,
    captions: Sequence[str] | None = None,
) -> Figure:
    """Show digits in a grid, each titled with its label (and the model's guess, red when wrong) or a caption."""
    x = _as_images(images)
    n = len(x)
    if n == 0:
        raise ValueError("show_digits got no images to show.")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    lines = sum(x is not None for x in (labels, predictions, captions))
    tall = 0.05 + 0.2 * lines  # room for the caption lines above each digit
    fig = figure(1.05 * ncols, (0.95 + tall) * nrows + (0.35 if title else 0))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    vmax = 255 if x.max() > 1 else 1  # uint8 pixels or floats in [0, 1]
    for i, ax in enumerate(axes):
        bare_axes(ax)
        if i >= n:
            ax.set_visible(False)
            continue
        ax.imshow(x[i], cmap=DIGIT_CMAP, vmin=0, vmax=vmax)
        caption, color = [], "black"
        if predictions is not None:
            pred = int(predictions[i])
            conf = f" ({float(confidences[i]):.1%})" if confidences is not None else ""
            caption.append(f"guess {pred}{conf}")
            if labels is not None and pred != int(labels[i]):
                color = WRONG_COLOR
        if labels is not None:
            caption.append(f"label {int(labels[i])}")
        if captions is not None:
            caption.append(str(captions[i]))
        if caption:
            ax.set_title("\n".join(caption), fontsize=8.5, fontweight="normal", color=color, pad=2)
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


@lesson_style
def plot_pixel_values(image: torch.Tensor | np.ndarray, label: int | None = None) -> Figure:
    """Show one digit as the grid of numbers it really is: every pixel's value written on it."""
    x = _as_images(image)[0]
    fig = figure(8.5, 8.5)
    ax = fig.subplots()
    vmax = 255 if x.max() > 1 else 1
    ax.imshow(x, cmap=DIGIT_CMAP, vmin=0, vmax=vmax)
    for (r, c), v in np.ndenumerate(x):
        if v:  # zeros are left blank: the paper
            text = f"{int(v)}" if vmax == 255 else f"{v:.2f}".lstrip("0")
            ax.text(
                c, r, text, ha="center", va="center", fontsize=5.5, color="black" if v > vmax / 2 else "white"
            )
    ax.set_xticks(range(0, x.shape[1], 4))
    ax.set_yticks(range(0, x.shape[0], 4))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    what = f"a {label}" if label is not None else "one digit"
    ax.set_title(
        f"{what} is a {x.shape[0]}x{x.shape[1]} grid of numbers (0 = black paper, {vmax} = full ink)"
    )
    return fig


@lesson_style
def plot_class_balance(splits: Mapping[str, torch.Tensor | np.ndarray], num_classes: int = 10) -> Figure:
    """Bar chart of how many images each digit has, one group of bars per split (e.g. train and test)."""
    fig = figure(7, 3)
    ax = fig.subplots()
    width = 0.8 / len(splits)
    digits = np.arange(num_classes)
    for j, (name, labels) in enumerate(splits.items()):
        counts = np.bincount(_as_numpy(labels).astype(int), minlength=num_classes)
        share = counts / counts.sum()
        bars = ax.bar(
            digits + (j - (len(splits) - 1) / 2) * width, share, width, label=f"{name} ({counts.sum():,})"
        )
        ax.bar_label(bars, labels=[f"{c:,}" for c in counts], fontsize=6.5, rotation=90, padding=2)
    ax.axhline(1 / num_classes, color="grey", lw=1, ls="--", label="perfectly balanced")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the counts and the legend
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("share of the split")
    ax.set_title("How many examples of each digit?")
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    return fig


@lesson_style
def plot_mean_digits(
    images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, show_std: bool = True
) -> Figure:
    """Show the average image of each digit (and, below it, how much its pixels vary across writers)."""
    x, y = _as_images(images), _as_numpy(labels).astype(int)
    x = x / 255.0 if x.max() > 1 else x
    classes = np.unique(y)
    rows = 2 if show_std else 1
    fig = figure(1.0 * len(classes) + 0.6, 1.15 * rows + 0.4)
    axes = fig.subplots(rows, len(classes), squeeze=False)
    for j, digit in enumerate(classes):
        group = x[y == digit]
        axes[0, j].imshow(group.mean(0), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        axes[0, j].set_title(str(digit), fontsize=10)
        if show_std:
            axes[1, j].imshow(group.std(0), cmap="magma", vmin=0, vmax=0.5)
        for ax in axes[:, j]:
            bare_axes(ax)
    axes[0, 0].set_ylabel("mean", fontsize=9)
    if show_std:
        axes[1, 0].set_ylabel("spread\n(std)", fontsize=9)
    fig.suptitle(
        "The average digit of each class" + (" and where writers disagree" if show_std else ""),
        fontsize=11,
        fontweight="bold",
    )
    return fig


@lesson_style
def plot_pixel_histogram(values: Mapping[str, torch.Tensor | np.ndarray], bins: int = 51) -> Figure:
    """Histogram of pixel values, one panel per named array (e.g. raw, scaled, normalised); log counts."""
    fig = figure(3.3 * len(values), 2.9)
    axes = np.atleast_1d(fig.subplots(1, len(values)))
    for ax, (name, v) in zip(axes, values.items()):
        flat = _as_numpy(v).astype(np.float64).ravel()
        ax.hist(flat, bins=bins, color=TRAIN_COLOR, log=True)
        ax.axvline(flat.mean(), color=TEST_COLOR, lw=1.5, label=f"mean {flat.mean():.2f}")
        ax.axvspan(
            flat.mean() - flat.std(),
            flat.mean() + flat.std(),
            color=TEST_COLOR,
            alpha=0.12,
            label=f"± std {flat.std():.2f}",
        )
        ax.set_title(name)
        ax.set_xlabel("pixel value")
        ax.legend(fontsize=8, loc="upper center")
    axes[0].set_ylabel("number of pixels (log scale)")
    return fig


# --------------------------------------------------------------------------------------------------
# Training (notebook 02)


@lesson_style
def plot_loss_curve(
    losses: Sequence[float] | torch.Tensor, smooth: int = 50, title: str = "Loss of every mini-batch"
) -> Figure:
    """Plot the loss of every mini-batch and its moving average: noisy steps, downward trend."""
    y = _as_numpy(losses).astype(float)
    fig = figure(6.5, 3)
    ax = fig.subplots()
    ax.plot(np.arange(1, len(y) + 1), y, color=TRAIN_COLOR, alpha=0.3, lw=0.8, label="one mini-batch")
    k = max(1, min(smooth, len(y)))
    if k > 1:
        avg = np.convolve(y, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(k, len(y) + 1), avg, color=TRAIN_COLOR, lw=2, label=f"average of the last {k}")
    ax.set_yscale("log")
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel("cross-entropy loss (log scale)")
    ax.set_title(title)
    ax.grid(True, which="major")
    ax.legend(fontsize=8)
    return fig


@lesson_style
def plot_softmax(
    scores: torch.Tensor | np.ndarray | Sequence[float], label: int | None = None, title: str | None = None
) -> Figure:
    """Show a model's ten scores (logits) next to the probabilities softmax makes of them, values on the bars."""
    s = _as_numpy(scores).astype(np.float64).ravel()
    p = np.exp(s - s.max())  # minus the largest score: the same result, and exp never overflows
    p /= p.sum()
    fig = figure(9, 2.9)
    ax_s, ax_p = fig.subplots(1, 2)
    digits = np.arange(len(s))
    colors = [TEST_COLOR if d == label else TRAIN_COLOR for d in digits]
    bars = ax_s.bar(digits, s, color=colors)
    decimals = 2 if np.abs(s).max() < 1 else 1  # small scores (an untrained model) need two
    ax_s.bar_label(bars, labels=[f"{v:.{decimals}f}" for v in s], fontsize=7, padding=2)
    ax_s.margins(y=0.15)  # room for the labels above and below the bars
    ax_s.axhline(0, color="grey", lw=0.8)
    ax_s.set_title("Scores (logits): any number, any sign")
    ax_s.set_ylabel("score")
    bars = ax_p.bar(digits, p, color=colors)
    ax_p.bar_label(bars, labels=[f"{v:.0%}" for v in p], fontsize=7, padding=2)
    ax_p.set_ylim(0, 1.12)
    ax_p.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax_p.set_title("After softmax: probabilities that add up to 100 %")
    ax_p.set_ylabel("probability")
    for ax in (ax_s, ax_p):
        ax.set_xticks(digits)
        ax.set_xlabel("digit" + ("" if label is None else f" (orange: the label, {label})"))
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


@lesson_style
def plot_running_accuracy(
    batch_accuracy: Sequence[float] | torch.Tensor,
    end_accuracy: float,
    end_label: str = "test accuracy after the epoch",
) -> Figure:
    """Plot each mini-batch's accuracy during one epoch, their running average (what ``fit`` reports as the
    epoch's training accuracy) and the accuracy the model has at the end of the epoch."""
    acc = _as_numpy(batch_accuracy).astype(float)
    steps = np.arange(1, len(acc) + 1)
    running = np.cumsum(acc) / steps
    fig = figure(6.5, 3)
    ax = fig.subplots()
    ax.plot(steps, acc, color=TRAIN_COLOR, alpha=0.25, lw=0.8, label="one mini-batch")
    ax.plot(
        steps,
        running,
        color=TRAIN_COLOR,
        lw=2,
        label=f"average since the start: {running[-1]:.1%} at the end",
    )
    ax.axhline(end_accuracy, color=TEST_COLOR, lw=2, ls="--", label=f"{end_label}: {end_accuracy:.1%}")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step (mini-batch)")
    ax.set_ylabel("accuracy")
    ax.set_title("Training accuracy is an average over the whole epoch")
    ax.grid(True)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _draw_history(
    axes,
    history: Mapping[str, Sequence[float]],
    color: str | None = None,
    name: str = "",
    held_out: str = "test",
) -> None:
    """Draw one history into a (loss, accuracy) pair of axes; ``held_out`` names the data fit measured on."""
    ax_loss, ax_acc = axes
    epochs = list(history["epoch"])
    dot, square = ("o-", "s-") if len(epochs) <= 20 else ("-", "-")  # markers would blot out long runs
    ax_loss.plot(epochs, history["train_loss"], dot, color=color or TRAIN_COLOR, label=name or "training")
    if color is None:  # one model: training and test accuracy side by side
        ax_acc.plot(epochs, history["train_acc"], dot, color=TRAIN_COLOR, label="training")
    test = np.asarray(history.get("test_acc", []), dtype=float)
    if len(test) and not np.isnan(test).all():
        ax_acc.plot(epochs, test, square, color=color or TEST_COLOR, label=name or held_out)


def _finish_history_axes(axes, num_epochs: int | None = None) -> None:
    ax_loss, ax_acc = axes
    ax_loss.set_title("Loss (lower is better)")
    ax_loss.set_ylabel("training loss")
    ax_acc.set_title("Accuracy (higher is better)")
    ax_acc.set_ylabel("accuracy")
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if num_epochs:
            ax.set_xlim(0.7, num_epochs + 0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)


@lesson_style
def plot_history(histories: Mapping[str, Any], held_out: str = "test") -> Figure:
    """Plot loss and accuracy per epoch of one ``fit`` history, or of {model name: history} to compare.

    ``held_out`` names the data ``fit`` measured on after each epoch ("test", or "validation").
    """
    single = "epoch" in histories
    fig = figure(9, 3.2)
    axes = fig.subplots(1, 2)
    runs = {"": histories} if single else histories
    for i, (name, history) in enumerate(runs.items()):
        _draw_history(axes, history, color=None if single else f"C{i}", name=name, held_out=held_out)
    _finish_history_axes(axes, max(max(h["epoch"], default=1) for h in runs.values()))
    if not single:
        axes[1].set_title(f"{held_out.capitalize()} accuracy (higher is better)")
    return fig


class LiveHistoryPlot:
    """Loss and accuracy curves that redraw after every epoch: pass it as ``fit(..., on_epoch_end=...)``.

    The figure is shown once in the cell's output and updated in place through an IPython display
    handle, so it works in JupyterLab and headless (nbval, nbclient) alike. Outside IPython it
    does nothing but keep ``fig`` up to date.
    """

    def __init__(
        self, num_epochs: int | None = None, title: str | None = None, held_out: str = "test"
    ) -> None:
        self.num_epochs, self.title, self.held_out = num_epochs, title, held_out
        self.fig = figure(9, 3.2)
        self._handle = None

    @lesson_style
    def __call__(self, history: Mapping[str, Sequence[float]]) -> None:
        """Redraw the curves from the history so far and refresh the displayed figure."""
        self.fig.clear()
        axes = self.fig.subplots(1, 2)
        _draw_history(axes, history, held_out=self.held_out)
        _finish_history_axes(axes, self.num_epochs)
        done = len(history["epoch"])
        total = f"/{self.num_epochs}" if self.num_epochs else ""
        self.fig.suptitle(
            f"{self.title + ': ' if self.title else ''}epoch {done}{total}", fontsize=11, fontweight="bold"
        )
        self._show()

    def _show(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # plain Python: nothing to display to
            return
        if get_ipython() is None:
            return
        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)


# --------------------------------------------------------------------------------------------------
# Evaluation (notebook 03)


@lesson_style
def plot_per_class_accuracy(accuracies: Mapping[str, torch.Tensor | np.ndarray | Sequence[float]]) -> Figure:
    """Bar chart of the accuracy on each digit, one bar per model; the y axis zooms in on the top."""
    fig = figure(7.5, 3)
    ax = fig.subplots()
    width = 0.8 / len(accuracies)
    lowest = 1.0
    for j, (name, acc) in enumerate(accuracies.items()):
        acc = _as_numpy(acc).astype(float)
        lowest = min(lowest, float(acc.min()))
        ax.bar(
            np.arange(len(acc)) + (j - (len(accuracies) - 1) / 2) * width,
            acc,
            width,
            label=name,
            color=f"C{j}",
        )
    # Zoom in: every digit is above 90 %, so a 0-100 % axis would hide the differences.
    ax.set_ylim(max(0.0, math.floor((lowest - 0.01) * 50) / 50), 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xticks(range(10))
    ax.set_xlabel("true digit")
    ax.set_ylabel("accuracy (axis zoomed in)")
    ax.set_title("Accuracy on each digit")
    ax.grid(True, axis="y")
    if len(accuracies) > 2:  # more bars than the lower left corner can take without covering some
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.legend(fontsize=8, loc="lower left")
    return fig


@lesson_style
def plot_confusion_matrix(cm: torch.Tensor | np.ndarray, title: str = "Confusion matrix") -> Figure:
    """Show a (10, 10) confusion matrix with counts; the colour scale ignores the diagonal so mistakes stand out."""
    m = _as_numpy(cm).astype(int)
    k = len(m)
    mistakes = m.copy()
    np.fill_diagonal(mistakes, 0)
    fig = figure(5.6, 5)
    ax = fig.subplots()
    im = ax.imshow(
        np.ma.masked_where(np.eye(k, dtype=bool), mistakes), cmap="Reds", vmin=0, vmax=max(1, mistakes.max())
    )
    ax.imshow(np.ma.masked_where(~np.eye(k, dtype=bool), np.ones_like(m)), cmap="Greens", vmin=0, vmax=2.5)
    for i in range(k):
        for j in range(k):
            if m[i, j]:
                dark = i != j and mistakes[i, j] > 0.6 * mistakes.max()
                ax.text(
                    j,
                    i,
                    f"{m[i, j]}",
                    ha="center",
                    va="center",
                    fontsize=7.5 if i == j else 8,
                    color="white" if dark else "black",
                    fontweight="bold" if i != j else "normal",
                )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="mistakes (off the diagonal)")
    return fig


@lesson_style
def plot_reliability(
    calibration: Mapping[str, torch.Tensor | np.ndarray], title: str = "Is the confidence honest?"
) -> Figure:
    """Reliability diagram from ``evaluate.calibration``: accuracy against confidence per bin, with bin sizes."""
    conf = _as_numpy(calibration["confidence"]).astype(float)
    acc = _as_numpy(calibration["accuracy"]).astype(float)
    count = _as_numpy(calibration["count"]).astype(float)
    num_bins = len(count)
    edges = np.linspace(0, 1, num_bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    used = count > 0
    fig = figure(9, 3.4)
    ax, ax_count = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfectly honest")
    ax.bar(
        centers[used],
        acc[used],
        width=1 / num_bins,
        color=TRAIN_COLOR,
        edgecolor="white",
        alpha=0.85,
        label="accuracy in the bin",
    )
    # The gap between a bar's top and its dot is the miscalibration of that bin.
    ax.plot(centers[used], conf[used], "o", color=TEST_COLOR, ms=5, label="mean confidence in the bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence (highest probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    ax_count.bar(centers, count, width=1 / num_bins, color=TRAIN_COLOR, edgecolor="white", log=True)
    ax_count.set_xlim(0, 1)
    ax_count.set_xlabel("confidence (highest probability)")
    ax_count.set_ylabel("images (log scale)")
    ax_count.set_title("How often is the model that sure?")
    return fig


@lesson_style
def plot_robustness(
    amounts: Sequence[float], accuracies: Mapping[str, Sequence[float]], xlabel: str, title: str | None = None
) -> Figure:
    """Plot accuracy against how much the test images were changed (shift, rotation), one line per model."""
    fig = figure(5.5, 3.3)
    ax = fig.subplots()
    for i, (name, acc) in enumerate(accuracies.items()):
        ax.plot(list(amounts), list(acc), "o-", color=f"C{i}", label=name)
    ax.axhline(0.1, color="grey", lw=1, ls="--", label="chance (10 %)")
    ax.set_xticks(list(amounts))
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.set_title(title or "Accuracy as the digits are changed")
    ax.grid(True)
    ax.legend(fontsize=8)
    return fig


@lesson_style
def plot_filters(weights: torch.Tensor | np.ndarray, ncols: int = 8, title: str | None = None) -> Figure:
    """Show first-layer weights as small images: conv filters (C, 1, k, k) or (C, k, k), or MLP rows (C, 784).

    Each filter gets its own symmetric colour scale (white = 0), so weak filters still show their pattern.
    """
    w = _as_numpy(weights).astype(np.float32)
    if w.ndim == 2 and w.shape[1] == 784:  # an MLP's first layer: one 28x28 template per hidden unit
        w = w.reshape(-1, 28, 28)
    if w.ndim == 4 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 3:
        raise ValueError(f"Expected filters shaped (C, 1, k, k), (C, k, k) or (C, 784), got {w.shape}.")
    n = len(w)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = figure(0.75 * ncols + 0.8, 0.75 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        bare_axes(ax)
        if i >= n:
            ax.set_visible(False)
            continue
        for spine in ax.spines.values():  # a thin frame: a filter's white (zero) border stays visible
            spine.set(visible=True, color="#bbbbbb", linewidth=0.6)
        im = ax.imshow(w[i] / max(float(np.abs(w[i]).max()), 1e-12), cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    cbar = fig.colorbar(im, ax=axes.tolist(), shrink=0.8, ticks=[-1, 0, 1])
    cbar.ax.set_yticklabels(["−", "0", "+"])
    fig.suptitle(
        title
        or f"{n} first-layer filters ({w.shape[1]}x{w.shape[2]}): red adds the pixel, blue subtracts it",
        fontsize=10,
        fontweight="bold",
    )
    return fig


# --------------------------------------------------------------------------------------------------
# Drawing and predicting (notebook 04)


@lesson_style
def plot_preprocessing_steps(steps: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """Show each named step of the preprocessing [(name, image), ...] with its size, pixels kept square."""
    if not steps:
        raise ValueError("No steps to show: pass preprocessing_steps(drawing), a list of (name, image).")
    fig = figure(2 * len(steps), 2.4)
    axes = np.atleast_1d(fig.subplots(1, len(steps)))
    for ax, (name, image) in zip(axes, steps):
        image = np.asarray(image)
        # uint8 pictures (0-255) and float model inputs (0-1) on the same grey scale
        top = 255 if image.dtype == np.uint8 else 1
        ax.imshow(image, cmap=DIGIT_CMAP, vmin=0, vmax=top)
        ax.set_title(f"{name}\n{image.shape[1]} x {image.shape[0]}", fontsize=9, fontweight="normal")
        bare_axes(ax)
    return fig


@lesson_style
def plot_shift_confidence(
    shifts: Sequence[int],
    probabilities: Mapping[str, Sequence[float] | torch.Tensor | np.ndarray],
    digit: int = 7,
    title: str = "Sliding the digit sideways",
) -> Figure:
    """Plot each model's probability for ``digit`` against how far the digit was moved, one line per model."""
    fig = figure(5.5, 3)
    ax = fig.subplots()
    for i, (name, p) in enumerate(probabilities.items()):
        values = np.asarray(p.detach().cpu() if isinstance(p, torch.Tensor) else p, dtype=float)
        if len(values) != len(shifts):
            raise ValueError(
                f"{name}: {len(values)} probabilities for {len(shifts)} shifts; give one per shift."
            )
        ax.plot(list(shifts), values, "o-", color=f"C{i}", label=name)
    ax.set(xlabel="shift to the right (pixels)", ylabel=f"P(it is a {digit})", ylim=(-0.05, 1.05))
    ax.set_title(title)
    ax.grid(True)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# Looking inside a network (notebook 05); mnistlib.look_inside computes what these show


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
        ax.imshow(to_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
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
    x = to_batch(image)[0, 0].numpy()
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
        outline = _mosaic(to_batch(image)[0].expand(len(units), 28, 28), ncols)
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
    axes[0].imshow(to_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
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
