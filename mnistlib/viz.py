"""Plots for the notebooks: each function builds one figure in the lesson style and returns it.

A returned figure renders its own PNG when it ends a notebook cell (JupyterLab, Voila, nbval), with no
pyplot, so it is never shown twice. Made for the room: Okabe-Ito colours, one colour per model in every
lesson, text of 12 pt or more, figures at most 9 inches wide, and mistakes marked by a word or a frame too.
"""

import functools
import io
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib import colormaps, cycler
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator, NullFormatter, PercentFormatter
from torchvision.utils import make_grid

from mnistlib.preprocess import to_batch

Array = torch.Tensor | np.ndarray  # images, labels or values, from torch or numpy
Values = torch.Tensor | np.ndarray | Sequence[float]

# Okabe-Ito: colours that people with any common colour-vision deficiency tell apart
BLUE, ORANGE, SKY, PURPLE = "#0072B2", "#E69F00", "#56B4E9", "#CC79A7"
VERMILLION, GREEN, YELLOW, BLACK = "#D55E00", "#009E73", "#F0E442", "#000000"
GREY, LIGHT_GREY = "#999999", "#DDDDDD"
# One colour per model in every lesson; a name that mentions a model ("CNN on MNIST") gets its colour
MODEL_COLORS = {"MLP": BLUE, "CNN": ORANGE, "Plain CNN": ORANGE, "PlainCNN": ORANGE, "SmallCNN": ORANGE}
PALETTE = (PURPLE, GREEN, BLUE, ORANGE, SKY, BLACK)  # for other names, in this order; no vermillion
# Ten classes need ten colours: Okabe-Ito without vermillion (no red beside the green), and two more
CLASS_COLORS = (BLUE, ORANGE, SKY, GREEN, YELLOW, PURPLE, BLACK, GREY, "#332288", "#8C510A")
WRONG_COLOR = VERMILLION  # always with a word, a cross or a thick frame as well
DIGIT_CMAP = "gray"  # digits: ink bright on black, as the model sees them
SIGNED_CMAP = "RdBu_r"  # weights and saliency: red positive, blue negative, white zero
MAX_WIDTH = 8.8  # inches: JupyterLab shows 900 pixels unscaled, margins included, so 12 pt stays 12 pt
HATCHES, MARKERS = ("", "//", "..", "xx"), ("o", "s", "^", "D")  # a model's second, third... series
FONTS = ("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize")
STYLE = dict.fromkeys(FONTS, 12) | {"axes.titlesize": 13, "figure.titlesize": 14, "figure.dpi": 100}
STYLE |= {"axes.titleweight": "bold", "figure.titleweight": "bold", "axes.prop_cycle": cycler(color=PALETTE)}
STYLE |= {"axes.spines.top": False, "axes.spines.right": False, "grid.alpha": 0.3, "legend.frameon": False}
STYLE |= {"savefig.dpi": 100, "image.interpolation": "nearest"}  # nearest: pixels stay crisp squares


class LessonFigure(Figure):
    """A matplotlib Figure that renders itself as a PNG in IPython (Jupyter, Voila, nbval)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            self.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
        return buf.getvalue()


def figure(width: float, height: float) -> LessonFigure:
    """Return an empty figure in the lesson style (constrained layout), at most 9 inches wide."""
    with matplotlib.rc_context(STYLE):
        return LessonFigure(figsize=(min(width, MAX_WIDTH), height), layout="constrained")


def lesson_style(fn):
    """Build the figure under the lesson style (rcParams are read when artists are created)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _numpy(values: Any) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _as_images(images: Any) -> np.ndarray:
    """Return images (N, H, W) from (N, H, W), (N, 1, H, W) or one (H, W), their dtype kept."""
    x = _numpy(images)
    x = x[:, 0] if x.ndim == 4 and x.shape[1] == 1 else x[None] if x.ndim == 2 else x
    if x.ndim != 3:
        raise ValueError(f"Expected images shaped (N, H, W) or (N, 1, H, W), got {x.shape}.")
    return x


def _full_ink(image: np.ndarray) -> int:
    return 255 if image.dtype == np.uint8 or image.max() > 1 else 1


def bare_axes(ax, frame: str | None = None, width: float = 1.0) -> None:
    """Remove ticks and spines; ``frame`` colours a frame instead (white edges would vanish into the page)."""
    ax.set(xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set(visible=frame is not None, color=frame or GREY, linewidth=width)


def _wrap(text: str, inches: float) -> str:
    """Wrap text into lines that fit ``inches`` in a bold title (about eight characters an inch)."""
    return "\n".join(textwrap.fill(line, max(8, int(inches * 8))) for line in text.split("\n"))


def model_styles(names: Sequence[str], free: Sequence[str] = PALETTE) -> list[tuple[str, int]]:
    """(colour, variant) per name: its model's colour, or the next ``free`` one; ``variant`` counts the
    earlier names of that colour (their bars hatched, their lines other markers)."""
    keys = sorted(MODEL_COLORS, key=len, reverse=True)  # "Plain CNN" before "CNN"
    styles: list[tuple[str, int]] = []
    for name in names:
        key = next((k for k in keys if re.search(rf"\b{re.escape(k)}\b", str(name), re.IGNORECASE)), None)
        used = [c for c, _ in styles]
        color = MODEL_COLORS[key] if key else next((c for c in free if c not in used), BLACK)
        styles.append((color, used.count(color)))
    return styles


def _legend(fig: Figure, handles: list | None = None, ncol: int = 3) -> None:
    """One legend under the plots: ``handles``, or the labelled artists of the first axes."""
    handles = handles or fig.axes[0].get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), ncol))


def _bars(ax, series: Mapping[str, Values], styles: Sequence[tuple[str, int]] | None = None) -> None:
    """Grouped bars at 0, 1, ...: one bar per series {name: values}, coloured by model."""
    styles, width = styles or model_styles(series), 0.8 / len(series)
    for j, ((name, values), (color, variant)) in enumerate(zip(series.items(), styles)):
        v = _numpy(values).astype(float)
        x = np.arange(len(v)) + (j - (len(series) - 1) / 2) * width
        ax.bar(x, v, width, label=name, color=color, hatch=HATCHES[variant % 4], edgecolor="white")
    ax.set_xticks(range(len(v)))


def _line_figure(xs: Sequence[float], series: Mapping[str, Values], title: str, chance=False, **axes: Any):
    """One line per model {name: values (len(xs),)} against ``xs`` (and chance); ``axes`` go to ``ax.set``."""
    fig = figure(8, 4.4)
    ax = fig.subplots()
    for (name, values), (color, variant) in zip(series.items(), model_styles(series)):
        if len(values) != len(xs):
            raise ValueError(f"{name}: {len(values)} values for {len(xs)} points; give one per point.")
        ax.plot(list(xs), _numpy(values).astype(float), marker=MARKERS[variant % 4], color=color, label=name)
    if chance:
        ax.axhline(0.1, color=GREY, lw=1.5, ls="--", label="chance (10 %)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set(**axes)
    ax.grid(True)
    _legend(fig)
    fig.suptitle(title)
    return fig


@lesson_style
def digit_grid(images: list, captions: list[str], wrong: Any = None, ncols: int = 10, title: str = ""):
    """Digits [(H, W), ...] under captions, ``wrong`` ones framed; long captions make fewer columns."""
    n = len(images)
    longest = max((len(line) for c in captions for line in c.split("\n")), default=0)
    side = max(0.8, 0.1 * longest + 0.25)  # inches a digit (big enough for the back row), or its caption
    ncols = max(1, min(ncols, n, int(MAX_WIDTH // side)))
    lines = max((c.count("\n") + 1 for c in captions if c), default=0)
    fig = figure(
        side * ncols, (side + 0.22 * lines + 0.05) * math.ceil(n / ncols) + 0.4 * bool(title or not n)
    )
    fig.suptitle(title if n else f"{title}: none yet" if title else "none yet")
    for i, ax in enumerate(fig.subplots(math.ceil(n / ncols), ncols, squeeze=False).ravel() if n else []):
        ax.set_visible(i < n)
        bad = i < n and wrong is not None and bool(wrong[i])
        bare_axes(ax, WRONG_COLOR if bad else None, 4)
        if i < n:
            ax.imshow(images[i], cmap=DIGIT_CMAP, vmin=0, vmax=_full_ink(np.asarray(images[i])))
            ax.set_title(captions[i], fontweight="normal", color=WRONG_COLOR if bad else BLACK, pad=3)
    return fig


@lesson_style
def show_digits(
    images: Array, labels=None, predictions=None, confidences=None, ncols=10, title="", captions=None
):
    """Show digits (N, H, W) or (N, 1, H, W) under their labels (N,), guesses (N,) with ✗ when wrong,
    confidences (N,) or captions."""
    x = _as_images(images)  # none: the title says "none yet"
    texts, wrong = [], []
    for i in range(len(x)):
        wrong.append(predictions is not None and labels is not None and int(predictions[i]) != int(labels[i]))
        lines = [f"label {int(labels[i])}"] if labels is not None else []
        lines += [f"guess {int(predictions[i])}" + " ✗" * wrong[i]] if predictions is not None else []
        lines += [f"{float(confidences[i]):.1%} sure"] if confidences is not None else []
        texts.append("\n".join(lines + ([str(captions[i])] if captions is not None else [])))
    return digit_grid(list(x), texts, wrong, ncols, title)


@lesson_style
def plot_pixel_values(image: Array, label: int | None = None, zoom: int = 10) -> Figure:
    """Show a digit (28, 28) and its values in the ``zoom`` x ``zoom`` window with most grey (all won't fit)."""
    x = _as_images(image)[0]
    top = _full_ink(x)
    grey = np.lib.stride_tricks.sliding_window_view((x > 0) & (x < top), (zoom, zoom)).sum((2, 3))
    r0, c0 = np.unravel_index(grey.argmax(), grey.shape)
    fig = figure(9, 5.2)
    whole, part = fig.subplots(1, 2, width_ratios=[1, 1.25], subplot_kw={"xlabel": "column", "ylabel": "row"})
    whole.imshow(x, cmap=DIGIT_CMAP, vmin=0, vmax=top)
    whole.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), zoom, zoom, fill=False, ec=SKY, lw=3))
    whole.set(xticks=range(0, 28, 9), yticks=range(0, 28, 9), title=f"a {label}" if label is not None else "")
    window = x[r0 : r0 + zoom, c0 : c0 + zoom]
    edges = (c0 - 0.5, c0 + zoom - 0.5, r0 + zoom - 0.5, r0 - 0.5)  # numbered as rows and columns of x
    part.imshow(window, cmap=DIGIT_CMAP, vmin=0, vmax=top, extent=edges)
    for (r, c), v in np.ndenumerate(window):
        value = f"{int(v)}" if top == 255 else f"{v:.1f}"
        part.text(c0 + c, r0 + r, value, ha="center", va="center", color="black" if v > top / 2 else "white")
    part.set(xticks=range(c0, c0 + zoom, 3), yticks=range(r0, r0 + zoom, 3), title="the framed pixels")
    for spine in part.spines.values():
        spine.set(visible=True, color=SKY, linewidth=3)
    fig.suptitle(f"A digit is a {x.shape[0]} x {x.shape[1]} grid of numbers: 0 is paper, {top} full ink")
    return fig


@lesson_style
def plot_class_balance(splits: Mapping[str, Array]) -> Figure:
    """Bar chart of each digit's share of a set, one bar per set {name: labels (N,)}."""
    fig = figure(8, 3.8)
    ax = fig.subplots()
    counts = {name: np.bincount(_numpy(y).astype(int), minlength=10) for name, y in splits.items()}
    shares = {f"{name} ({c.sum():,})": c / c.sum() for name, c in counts.items()}
    _bars(ax, shares, [(GREY, 0), (BLACK, 0), (GREY, 1), (BLACK, 1)])
    ax.axhline(0.1, color=BLACK, lw=1, ls="--", label="perfectly balanced (10 %)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))  # 2.5 % steps keep their decimal
    ax.set(xlabel="digit", ylabel="share of the set")
    _legend(fig)
    fig.suptitle("How many examples of each digit?")
    return fig


@lesson_style
def plot_mean_digits(images: Array, labels: Array) -> Figure:
    """Show the average image of each digit and, below it, how much its pixels vary across writers."""
    x, y = _as_images(images).astype(np.float32), _numpy(labels).astype(int)
    x = x / 255.0 if x.max() > 1 else x
    classes = np.unique(y)
    fig = figure(0.82 * len(classes) + 0.8, 2.7)
    axes = fig.subplots(2, len(classes), squeeze=False)
    for j, digit in enumerate(classes):
        axes[0, j].imshow(x[y == digit].mean(0), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        axes[1, j].imshow(x[y == digit].std(0), cmap="magma", vmin=0, vmax=0.5)
        axes[0, j].set_title(str(digit))
    for ax in axes.ravel():
        bare_axes(ax)
    axes[0, 0].set_ylabel("mean")
    axes[1, 0].set_ylabel("spread")
    fig.suptitle("The average digit of each class and where writers disagree")
    return fig


@lesson_style
def plot_pixel_histogram(values: Mapping[str, Array]) -> Figure:
    """Histogram of pixel values, a panel per named array; counts on a log axis, as paper outnumbers ink."""
    fig = figure(3 * len(values), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(values)))
    for ax, (name, v) in zip(axes, values.items()):
        flat = _numpy(v).astype(np.float64).ravel()
        mean, std = flat.mean(), flat.std()
        # Pixels are 256 evenly spaced levels (bytes, or bytes rescaled): bars of 4 levels with every level
        # inside a bar, so every panel of the same pixels draws the same bars.
        lo, hi = flat.min(), flat.max()
        level = np.diff(np.unique(flat)).min(initial=hi - lo) or 1.0
        bars = int((hi - lo) / level) // 4 + 1
        ax.hist(flat, bins=lo - level / 2 + 4 * level * np.arange(bars + 1), color=GREY, log=True)
        ax.axvline(mean, color=BLACK, lw=2, label="mean")
        ax.axvspan(mean - std, mean + std, color=PURPLE, alpha=0.25, label="mean ± std")
        mean = round(mean, 2) + 0.0  # "0.00", never "-0.00"
        ax.set(
            title=f"{name}\nmean {mean:.2f}, std {std:.2f}", xlabel="pixel value", ylabel="pixels (log scale)"
        )
    _legend(fig)
    return fig


@lesson_style
def plot_loss_curve(losses: Values, title: str = "Loss of every mini-batch") -> Figure:
    """Plot each mini-batch's loss and their moving average on a log axis, so that both 2.3 and 0.05 read."""
    y = _numpy(losses).astype(float)
    k = max(1, min(50, len(y)))
    fig = figure(8, 4)
    ax = fig.subplots()
    ax.plot(np.arange(1, len(y) + 1), y, color=GREY, lw=0.8, label="one mini-batch")
    average = np.convolve(y, np.ones(k) / k, "valid")
    ax.plot(np.arange(k, len(y) + 1), average, color=BLACK, lw=2.5, label=f"average of the last {k}")
    ax.set(yscale="log", xlabel="training step (mini-batch)", ylabel="loss (log scale)", title=title)
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5) if y.min() <= t <= y.max()]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks], minor=False)  # 0.2, not 2 x 10^-1
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True)
    ax.legend()
    return fig


@lesson_style
def plot_softmax(scores: Values, label: int | None = None, title: str = "") -> Figure:
    """Show a model's ten scores (logits) above the probabilities softmax makes of them, values on the bars."""
    s = _numpy(scores).astype(np.float64).ravel()
    p = np.exp(s - s.max())  # minus the largest score: the same result, and exp never overflows
    p /= p.sum()
    fig = figure(9, 6.2)
    ax_s, ax_p = fig.subplots(2, 1, sharex=True)
    digits, decimals = np.arange(len(s)), 2 if np.abs(s).max() < 1 else 1  # small scores need two
    for ax, v, text in ((ax_s, s, [f"{v:.{decimals}f}" for v in s]), (ax_p, p, [f"{v:.0%}" for v in p])):
        bars = ax.bar(digits, v, color=[BLACK if d == label else GREY for d in digits])
        ax.bar_label(bars, text, padding=2)
        ax.margins(y=0.2)  # room for the values above and below the bars
    ax_s.axhline(0, color=GREY, lw=0.8)
    ax_s.set(title="Scores (logits): any number, any sign", ylabel="score")
    ax_p.set(title="After softmax: probabilities adding up to 100 %", ylabel="probability", ylim=(0, 1.2))
    ax_p.set_yticks([0, 0.5, 1])
    ax_p.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax_p.set_xticks(digits, [f"{d}\nlabel" if d == label else str(d) for d in digits])
    ax_p.set_xlabel("digit" + ("" if label is None else f" (black bar: the label, {label})"))
    fig.suptitle(title)
    return fig


@lesson_style
def plot_running_accuracy(
    batch_accuracy: Values, end_accuracy: float, held_out: str = "validation"
) -> Figure:
    """Plot each mini-batch's accuracy in an epoch, their running average and the ``held_out`` accuracy after it."""
    acc = _numpy(batch_accuracy).astype(float)
    steps = np.arange(1, len(acc) + 1)
    running = np.cumsum(acc) / steps
    fig = figure(8, 4.6)
    ax = fig.subplots()
    ax.plot(steps, acc, color=GREY, lw=0.8, label="one mini-batch")
    ax.plot(steps, running, color=BLACK, lw=2.5, label=f"average since the start: {running[-1]:.1%}")
    end = f"{held_out} accuracy after the epoch: {end_accuracy:.1%}"
    ax.axhline(end_accuracy, color=BLACK, lw=2.5, ls="--", label=end)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set(ylim=(0, 1.02), xlabel="training step (mini-batch)", ylabel="accuracy")
    ax.grid(True)
    _legend(fig, ncol=1)
    fig.suptitle("Training accuracy is an average over the whole epoch")
    return fig


def _draw_history(fig: Figure, runs: Mapping[str, Any], held_out: str, num_epochs: int | None) -> None:
    """Draw {name: fit history}: a colour per model, training solid, held-out dashed (NaN: not measured)."""
    one = len(runs) == 1
    styles = model_styles(runs, free=[BLACK] if one else PALETTE)  # a lone run is black unless a model's
    axes = fig.subplots(1, 2)
    for (name, h), (color, variant) in zip(runs.items(), styles):
        marker = MARKERS[variant % 4] if len(h["epoch"]) <= 20 else None  # markers would blot out long runs
        for ax, key in zip(axes, ("loss", "acc")):
            for part, ls, what in (("train", "-", "training"), ("val", "--", held_out)):
                y = np.asarray(h.get(f"{part}_{key}", []), dtype=float)
                label = what if one else f"{name} {what}"
                if len(y) and not np.isnan(y).all():
                    ax.plot(h["epoch"], y, ls, marker=marker, color=color, label=label)
    last = num_epochs or max(max(h["epoch"], default=1) for h in runs.values())
    axes[0].set(title="Loss (lower is better)", ylabel="loss")
    axes[1].set(title="Accuracy (higher is better)", ylabel="accuracy")
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    for ax in axes:
        ax.set(xlabel="epoch", xlim=(0.7, last + 0.3))
        ax.grid(True)
        ax.xaxis.get_major_locator().set_params(integer=True)
    drawn = {line.get_linestyle() for line in axes[0].lines}  # no dashed key when nothing was held out
    parts = [Line2D([], [], color=BLACK, ls=ls, label=w) for ls, w in (("-", "training"), ("--", held_out))]
    parts = [p for p in parts if p.get_linestyle() in drawn]
    models = [Line2D([], [], color=c, marker=MARKERS[v % 4], label=n) for n, (c, v) in zip(runs, styles)]
    _legend(fig, parts if one else models + parts, ncol=2 if one else 4)


@lesson_style
def plot_history(histories: Mapping[str, Any], held_out: str = "validation") -> Figure:
    """Plot a ``fit`` history's (or {model: history}'s) training and held-out loss and accuracy per epoch."""
    fig = figure(9, 4.4)
    _draw_history(fig, {"": histories} if "epoch" in histories else histories, held_out, None)
    return fig


class LiveHistoryPlot:
    """Loss and accuracy curves redrawn after every epoch: pass it as ``fit(..., on_epoch_end=...)``.

    Shown once, then updated in place in IPython (elsewhere only ``fig``); a model's title sets its colour."""

    def __init__(self, num_epochs: int | None = None, title: str = "", held_out: str = "validation"):
        self.num_epochs, self.title, self.held_out = num_epochs, title, held_out
        self.fig = figure(9, 4.4)
        self._handle = None

    @lesson_style
    def __call__(self, history: Mapping[str, Sequence[float]]) -> None:
        """Redraw the curves from the history so far and refresh the displayed figure."""
        self.fig.clear()
        _draw_history(self.fig, {self.title: history}, self.held_out, self.num_epochs)
        total = f"/{self.num_epochs}" if self.num_epochs else ""
        self.fig.suptitle(f"{self.title + ': ' if self.title else ''}epoch {len(history['epoch'])}{total}")
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # plain Python: nothing to display to
            return
        if get_ipython() is not None and self._handle is None:
            self._handle = display(self.fig, display_id=True)
        elif get_ipython() is not None:
            self._handle.update(self.fig)


@lesson_style
def plot_per_class_accuracy(accuracies: Mapping[str, Values]) -> Figure:
    """Bar chart of the accuracy on each digit, one bar per model {name: (10,)}; the y axis zooms in."""
    fig = figure(8.5, 4.2)
    ax = fig.subplots()
    _bars(ax, accuracies)
    lowest = min(float(_numpy(a).min()) for a in accuracies.values())
    # zoomed in: every digit is above 90 %, and a 0-100 % axis would hide the differences
    ax.set(ylim=(max(0.0, math.floor((lowest - 0.01) * 50) / 50), 1), xlabel="true digit", ylabel="accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.grid(True, axis="y")
    _legend(fig, ncol=2)
    fig.suptitle("Accuracy on each digit (the axis starts above 0)")
    return fig


@lesson_style
def plot_confusion_matrix(cm: Array, title: str = "Confusion matrix") -> Figure:
    """Show a (10, 10) confusion matrix: right answers grey on the diagonal, mistakes shaded by count."""
    m = _numpy(cm).astype(int)
    diagonal = np.eye(len(m), dtype=bool)
    worst = max(1, np.where(diagonal, 0, m).max())
    fig = figure(8, 7.6)
    ax = fig.subplots()
    cmap = "Purples"  # no model's colour: the MLP's matrix and the CNN's are shaded alike
    im = ax.imshow(np.ma.masked_where(diagonal, m), cmap=cmap, vmin=0, vmax=worst)
    ax.imshow(np.ma.masked_where(~diagonal, m), cmap=ListedColormap([LIGHT_GREY]))
    for (i, j), v in np.ndenumerate(m):
        if v:  # zeros left blank: the mistakes that were made stand out
            color = "white" if i != j and v > 0.6 * worst else "black"
            ax.text(j, i, str(v), ha="center", va="center", color=color)
    ax.set(xticks=range(len(m)), yticks=range(len(m)), xlabel="predicted digit", ylabel="true digit")
    fig.colorbar(im, ax=ax, shrink=0.8, label="mistakes (off the diagonal)", ticks=MaxNLocator(integer=True))
    _legend(fig, [Patch(color=LIGHT_GREY, label="diagonal: read right")])
    fig.suptitle(title)
    return fig


@lesson_style
def plot_reliability(calibration: Mapping[str, Array], title: str = "Is the confidence honest?") -> Figure:
    """Accuracy against confidence per bin of ``evaluate.calibration``; bin sizes on a log axis (1 to 10,000)."""
    conf, acc, count = (_numpy(calibration[k]).astype(float) for k in ("confidence", "accuracy", "count"))
    edges = np.linspace(0, 1, len(count) + 1)
    centers, used = (edges[:-1] + edges[1:]) / 2, count > 0
    fig = figure(9, 4.8)
    ax, ax_count = fig.subplots(1, 2)
    ax.plot([0, 1], [0, 1], "--", color=BLACK, lw=1, label="perfectly honest")
    bars = {"width": 1 / len(count), "color": GREY, "edgecolor": "white"}
    ax.bar(centers[used], acc[used], label="accuracy in the bin", **bars)
    # the gap between a bar's top and its dot is how far that bin's confidence is off
    ax.plot(centers[used], conf[used], "o", color=BLACK, ms=6, label="mean confidence in the bin")
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="confidence", ylabel="accuracy", title=title)
    ax_count.bar(centers, count, log=True, **bars)
    ax_count.set(xlim=(0, 1), xlabel="confidence", ylabel="answers (log scale)", title="How often that sure?")
    for axis in (ax.xaxis, ax.yaxis, ax_count.xaxis):
        axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _legend(fig)
    return fig


@lesson_style
def plot_robustness(amounts: Sequence[float], accuracies: Mapping[str, Values], xlabel: str, title=""):
    """Plot accuracy against how much the test images were changed (shift, rotation), one line per model."""
    title = title or "Accuracy as the digits are changed"
    axes = {"xticks": list(amounts), "ylim": (0, 1.02), "xlabel": xlabel, "ylabel": "test accuracy"}
    return _line_figure(amounts, accuracies, title, chance=True, **axes)


@lesson_style
def plot_shift_confidence(shifts: Sequence[int], probabilities: Mapping[str, Values], digit=7, title=""):
    """Plot each model's probability for ``digit`` against how far the digit was moved, one line per model."""
    axes = {
        "ylim": (-0.05, 1.05),
        "xlabel": "shift to the right (pixels)",
        "ylabel": f"probability of a {digit}",
    }
    return _line_figure(shifts, probabilities, title or "Sliding the digit sideways", **axes)


@lesson_style
def plot_preprocessing_steps(steps: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """Show each named step of the preprocessing [(name, image), ...] with its size, pixels kept square."""
    if not steps:
        raise ValueError("No steps to show: pass preprocessing_steps(drawing), a list of (name, image).")
    images = [np.asarray(image) for _, image in steps]
    captions = [f"{name}\n{im.shape[1]} x {im.shape[0]}" for (name, _), im in zip(steps, images)]
    return digit_grid(images, captions, ncols=len(steps))


def _mosaic(images: torch.Tensor, ncols: int) -> np.ndarray:
    """Tile maps (N, H, W), enlarged to about 28 x 28 with square pixels, into one array with NaN gaps."""
    k = max(1, round(28 / images.shape[-2]))  # nearest neighbour: no blur
    big = images.float().repeat_interleave(k, dim=-2).repeat_interleave(k, dim=-1)
    return make_grid(big.unsqueeze(1), nrow=ncols, padding=1, pad_value=float("nan"))[0].numpy()


def _weights_figure(tiles: torch.Tensor, title: str, outline: Any = None, ncols: int = 8) -> Figure:
    """Tile weights (N, H, W), each on its own symmetric scale (white = 0), with an image's outline on each."""
    ncols = max(1, min(ncols, len(tiles)))
    fig = figure(8, 7.2 * math.ceil(len(tiles) / ncols) / ncols + 1.2)
    ax = fig.subplots()
    scaled = tiles / tiles.flatten(1).abs().amax(1).clamp(min=1e-12)[:, None, None]
    cmap = colormaps[SIGNED_CMAP].with_extremes(bad="#444444")  # dark gaps: not zero (white) weights
    im = ax.imshow(_mosaic(scaled, ncols), cmap=cmap, vmin=-1, vmax=1)
    if outline is not None:
        ink = _mosaic(to_batch(outline)[0].expand(len(tiles), 28, 28), ncols)
        ax.contour(np.nan_to_num(ink), levels=[0.3], colors="k", linewidths=1)
    fig.colorbar(im, ax=ax, shrink=0.8, ticks=[-1, 0, 1]).ax.set_yticklabels(["−", "0", "+"])
    bare_axes(ax)
    fig.suptitle(_wrap(title, 8))
    return fig


@lesson_style
def plot_filters(weights: Array, title: str = "") -> Figure:
    """Show first-layer conv filters (C, 1, k, k) or (C, k, k), or MLP rows (C, 784), each on its own scale."""
    w = torch.as_tensor(_numpy(weights), dtype=torch.float32)
    w = w.reshape(-1, 28, 28) if w.ndim == 2 and w.shape[1] == 784 else w[:, 0] if w.shape[1:2] == (1,) else w
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise ValueError(f"Expected filters shaped (C, 1, k, k), (C, k, k) or (C, 784), got {w.shape}.")
    what = f"{len(w)} first-layer filters ({w.shape[1]}x{w.shape[2]}): red adds the pixel, blue subtracts"
    return _weights_figure(w, title or what)


@lesson_style
def plot_mlp_weights(weights: torch.Tensor, units: Values | None = None, image: Array | None = None):
    """Show the MLP's first-layer weights (H, 28, 28) of ``units`` (default: 32), each with ``image``'s outline."""
    units = list(range(min(32, len(weights)))) if units is None else [int(u) for u in units]
    what = "the digit's outline on " if image is not None else ""
    title = f"{what}{len(units)} hidden units' weights: red ink excites a unit, blue inhibits it"
    return _weights_figure(torch.as_tensor(weights)[units].float(), title, image)


@lesson_style
def plot_feature_maps(maps: dict[str, torch.Tensor], image: Array | None = None, top: int | None = 8):
    """Show each conv layer's ``top`` most active feature maps (None: all) (C, H, W), one row per layer."""
    chosen = {name: f[f.flatten(1).mean(1).argsort(descending=True)[:top]] for name, f in maps.items()}
    mosaics = [_mosaic(c, min(top or 16, len(c))) for c in chosen.values()]
    heights = [m.shape[0] / m.shape[1] for m in mosaics]  # every row as wide as the figure
    side = 1.6 if image is not None else 0.01
    fig = figure(MAX_WIDTH, (MAX_WIDTH - side) * sum(heights) + 0.9 * len(maps))
    grid = fig.add_gridspec(len(maps), 2, height_ratios=heights, width_ratios=[side, MAX_WIDTH - side])
    if image is not None:
        ax = fig.add_subplot(grid[:, 0], title="what the\nmodel saw")
        ax.imshow(to_batch(image)[0, 0].numpy(), cmap=DIGIT_CMAP, vmin=0, vmax=1)
        bare_axes(ax)
    for i, ((name, fmap), mosaic) in enumerate(zip(maps.items(), mosaics)):
        ax = fig.add_subplot(grid[i, 1])
        # blue gaps, never mistaken for ink; one scale per layer: the brightest maps fire hardest
        ax.imshow(mosaic, cmap=colormaps[DIGIT_CMAP].with_extremes(bad=BLUE), vmin=0, vmax=fmap.max() + 1e-6)
        which = f"the {len(chosen[name])} most active of" if len(chosen[name]) < len(fmap) else "all"
        size = f"{fmap.shape[1]}x{fmap.shape[2]}"
        ax.set_title(f"layer {i + 1}: {which} {len(fmap)} maps, {size} each", loc="left")
        bare_axes(ax)
    return fig


def sure(p: float) -> str:
    """Return a probability in percent, one decimal near 100 %: 0.998 is "99.8%", never "100%"."""
    return f"{p:.1%}" if 0.995 <= p < 0.9995 else f"{p:.0%}"


# What each kind of saliency map means, shown under its name
SALIENCY_CAPTIONS = {
    "gradient x input": "red ink adds to the score (an estimate)",
    "occlusion": "erasing red ink lowers the score",
    "gradient": "more ink on red would raise the score",
}


@lesson_style
def plot_saliency(image: Array, maps: dict[str, np.ndarray], digit: int | None = None) -> Figure:
    """Show the digit next to saliency maps {name: (28, 28)}: red = for the answer, blue = against."""
    x = to_batch(image)[0, 0].numpy()
    panel = MAX_WIDTH / (len(maps) + 1)
    fig = figure(MAX_WIDTH, panel + 1.2)
    axes = fig.subplots(1, len(maps) + 1)
    axes[0].imshow(x, cmap=DIGIT_CMAP, vmin=0, vmax=1)
    reading = f", read as {digit}" if digit is not None else ""
    axes[0].set_title(_wrap(f"what the model saw{reading}", panel - 0.3), weight="normal")
    bare_axes(axes[0])
    for ax, (name, values) in zip(axes[1:], maps.items()):
        limit = max(float(np.abs(values).max()), 1e-12)  # symmetric, so white always means zero
        im = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit)
        ax.contour(x, levels=[0.3], colors="k", linewidths=1)  # where the ink is
        fig.colorbar(im, ax=ax, shrink=0.8, ticks=[-limit, 0, limit]).ax.set_yticklabels(["−", "0", "+"])
        caption = f"{name}: {SALIENCY_CAPTIONS[name]}" if name in SALIENCY_CAPTIONS else name
        ax.set_title(_wrap(caption, panel - 0.3), weight="normal")
        bare_axes(ax, GREY)  # white means zero: the frame shows where the image ends
    return fig


@lesson_style
def plot_embedding(points: Array, labels: Array, you=None, neighbours=None, title="", you_label="your digit"):
    """Scatter points (N, 2) coloured by class, each class's digit at its centre; a star marks ``you`` (2,)
    and rings its ``neighbours`` (K, 2)."""
    points, labels = _numpy(points), _numpy(labels).astype(int)
    fig = figure(8, 7)
    ax = fig.add_subplot(xlabel="component 1", ylabel="component 2")
    # rasterized: thousands of dots stay one fast image instead of thousands of vector paths
    ax.scatter(*points.T, c=np.array(CLASS_COLORS)[labels], s=5, alpha=0.6, rasterized=True)
    for digit in np.unique(labels):
        # above the star and see-through: a digit landing on its class's middle hides neither
        box = {"boxstyle": "circle", "fc": "white", "ec": CLASS_COLORS[digit], "lw": 2.5, "alpha": 0.8}
        cx, cy = points[labels == digit].mean(axis=0)  # the middle nearest_centroid_accuracy uses
        ax.text(cx, cy, str(digit), fontsize=16, weight="bold", ha="center", va="center", bbox=box, zorder=6)
    if neighbours is not None:  # over the star: the nearest neighbours often land right beside it
        nb = _numpy(neighbours).reshape(-1, 2).T
        ax.scatter(*nb, s=80, fc="none", ec=BLACK, lw=2, zorder=5.5, label="nearest neighbours")
    if you is not None:
        ax.scatter(*_numpy(you).reshape(2), marker="*", s=600, c=YELLOW, ec=BLACK, zorder=5, label=you_label)
        _legend(fig)
    fig.suptitle(_wrap(title or "The test set as the network's last layer sees it, in two dimensions", 8))
    return fig


@lesson_style
def plot_neighbours(image: Array, images: Array, labels: Values, distances: Values | None = None) -> Figure:
    """Show the query digit, then its neighbours (K, 28, 28) with their labels (and distances)."""
    d = [f"\nd = {float(v):.1f}" for v in distances] if distances is not None else [""] * len(labels)
    captions = ["yours" + "\n" * (distances is not None), *[f"label {int(y)}{e}" for y, e in zip(labels, d)]]
    return digit_grid([to_batch(image)[0, 0].numpy(), *_as_images(images)], captions, ncols=len(captions))


@lesson_style
def plot_variations(images: Array, probs: Array | dict[str, Array], titles: Sequence[str]) -> Figure:
    """Show images (M, 28, 28) over bars of their probabilities (M, 10) or {model: (M, 10)}; four a row."""
    runs = {name: _numpy(p) for name, p in (probs.items() if isinstance(probs, dict) else [("", probs)])}
    says = {name: f"{name}:" if name else "read as" for name in runs}
    ncols, styles = min(4, len(titles)), model_styles(runs) if len(runs) > 1 else [(GREY, 0)]
    nrows, x = math.ceil(len(titles) / ncols), _as_images(images)
    fig = figure(2.2 * ncols, nrows * (3.3 + 0.25 * len(runs)) + 0.5)
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[1.5, 1] * nrows)
    for i, title in enumerate(titles):
        row, col = 2 * (i // ncols), i % ncols
        top, bottom = fig.add_subplot(grid[row, col]), fig.add_subplot(grid[row + 1, col])
        top.imshow(x[i], cmap=DIGIT_CMAP, vmin=0, vmax=1)
        verdicts = [f"{says[name]} {p[i].argmax()} ({sure(p[i].max())})" for name, p in runs.items()]
        top.set_title("\n".join([title, *verdicts]), fontweight="normal")
        bare_axes(top)
        _bars(bottom, {name: p[i] for name, p in runs.items()}, styles)
        bottom.set(ylim=(0, 1), yticks=[0, 1], yticklabels=["0", "1"] if col == 0 else [])
    if len(runs) > 1:
        _legend(fig, fig.axes[1].get_legend_handles_labels()[0])
    return fig
