"""Helpers the drawing-pad tests share: dense mouse paths and a clock the test moves by hand."""

from __future__ import annotations

import itertools
import math


def dense(stroke, step: float = 5.0) -> list[tuple[float, float]]:
    """Return the stroke with a point every ``step`` px, as mouse-move events arrive."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, math.ceil(math.dist((x0, y0), (x1, y1)) / step))
        points += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return points


class FakeClock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
