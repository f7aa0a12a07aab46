"""The plots of notebook 04 (draw and predict): the preprocessing steps and a digit sliding sideways.

Each returns a matplotlib Figure (shown when it is the last line of a notebook cell), built with
``mnistlib.viz``'s figure and lesson style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from mnistlib.viz import DIGIT_CMAP, bare_axes, figure, lesson_style


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
