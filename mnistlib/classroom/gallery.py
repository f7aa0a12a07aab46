"""The teacher's gallery of the class's drawings (notebook 06), in the lessons' figure style."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mnistlib.viz import digit_grid, lesson_style


@lesson_style
def show_class_drawings(
    drawings: Any, ncols: int = 10, max_images: int = 100, title: str | None = None
) -> Figure:
    """Show class drawings in a grid captioned "#id: label"; framed, with "✗ read d", where the model disagreed.

    ``drawings``: what ``ClassStore.images()`` returns (``images`` (N, 28, 28) uint8, ``labels``,
    ``ids`` and, optionally, ``predicted`` with -1 for "no reading"). Filter first to look at one
    digit or one student: ``show_class_drawings(cs.images(label=3))``. At most ``max_images``
    are shown, the first ones by id; the title says how many were left out. The teacher's gallery
    to spot junk and delete it by id.
    """
    images, labels, ids = np.asarray(drawings.images), np.asarray(drawings.labels), np.asarray(drawings.ids)
    predicted = np.asarray(getattr(drawings, "predicted", np.full(len(ids), -1)))
    n = min(len(images), max_images)
    misread = [0 <= predicted[i] != labels[i] for i in range(n)]
    captions = [
        f"#{ids[i]}: {labels[i]}" + (f"\n✗ read {predicted[i]}" if misread[i] else "") for i in range(n)
    ]
    left_out = f" (the first {n} of {len(images)})" if n < len(images) else ""
    return digit_grid(list(images[:n]), captions, misread, ncols, f"{title or 'Class drawings'}{left_out}")
