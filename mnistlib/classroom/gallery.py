"""The teacher's gallery of the class's drawings (notebook 06), in the lessons' figure style."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnistlib.viz import DIGIT_CMAP, WRONG_COLOR, figure, lesson_style


@lesson_style
def show_class_drawings(
    drawings: Any, ncols: int = 10, max_images: int = 100, title: str | None = None
) -> Figure:
    """Show class drawings in a grid, each captioned "#id: label"; in red with "read d" where the model disagreed.

    ``drawings``: what ``ClassStore.images()`` returns (``images`` (N, 28, 28) uint8, ``labels``,
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
