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
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

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
# The class set (notebook 06)


@lesson_style
def show_class_drawings(
    drawings: Any, ncols: int = 10, max_images: int = 100, title: str | None = None
) -> Figure:
    """Show class drawings in a grid, each captioned "#id: label"; in red with "read d" where the model disagreed.

    ``drawings``: what ``ClassSet.images()`` returns (``images`` (N, 28, 28) uint8, ``labels``,
    ``ids`` and, optionally, ``predicted`` with -1 for "no reading"). Filter first to look at one
    digit or one student: ``show_class_drawings(cs.images(label=3))``. At most ``max_images``
    are shown, the first ones by id; the title says how many were left out. The teacher's gallery
    to spot junk and delete it by id.
    """
    images, labels, ids = np.asarray(drawings.images), np.asarray(drawings.labels), np.asarray(drawings.ids)
    predicted = np.asarray(getattr(drawings, "predicted", np.full(len(ids), -1)))
    n = min(len(images), max_images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = figure(1.0 * ncols, 1.15 * nrows + 0.4, constrained=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.45 / (1.15 * nrows + 0.4), hspace=0.5)
    heading = title or "Class drawings"
    left_out = f" (the first {n} of {len(images)})" if n < len(images) else ""
    fig.suptitle(f"{heading}{left_out}" if n else f"{heading}: none yet", fontsize=11, fontweight="bold")
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(images[i], cmap=DIGIT_CMAP, vmin=0, vmax=255)
        misread = 0 <= predicted[i] != labels[i]
        caption = f"#{ids[i]}: {labels[i]}" + (f" read {predicted[i]}" if misread else "")
        ax.set_title(
            caption, fontsize=8, fontweight="normal", color=WRONG_COLOR if misread else "black", pad=2
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(misread)
            spine.set_color(WRONG_COLOR)
    return fig
