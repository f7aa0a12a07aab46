"""The ten digits drawn as a person draws them on the pad: the one set the tests and benchmarks draw.

A stroke is a list of points in pad pixels (x right, y down, 0 to ``strokes.PAD_SIZE``), the way
the browser sends them to the kernel. ``arc`` is also the primitive of the sample class's
per-student templates (tools/make_sample_class.py); ``dense`` spaces points as mouse moves arrive.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]
Stroke = list[Point]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, step: float = 12) -> Stroke:
    """Return points on an ellipse from angle ``a0`` to ``a1``, about one every ``step`` degrees.

    Angles are in degrees, 0 at three o'clock; with y pointing down, increasing angles go clockwise.
    """
    n = max(2, math.ceil(abs(a1 - a0) / step) + 1)
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(a0, a1, n)
    ]


# Both shipped models read each digit as drawn (tests/test_strokes.py checks it).
DIGITS: dict[int, list[Stroke]] = {
    0: [arc(140, 140, 62, 95, -90, 280, 10.5)],
    1: [[(150, 45), (140, 140), (132, 235)]],
    2: [arc(140, 95, 55, 50, -160, 30) + [(85, 235), (200, 235)]],
    3: [arc(135, 92, 52, 45, -150, 90, 15) + arc(135, 185, 58, 50, -90, 130, 14)[1:]],
    4: [[(165, 45), (80, 170), (205, 170)], [(165, 95), (160, 240)]],
    5: [[(195, 50), (100, 50), (92, 130)] + arc(138, 180, 58, 55, -150, 130, 16)[1:]],
    6: [[(185, 50), (120, 110), (90, 180)] + arc(140, 185, 52, 50, 160, 530, 14.5)],
    7: [[(75, 55), (205, 55), (160, 140), (120, 235)]],
    8: [arc(140, 92, 45, 45, 90, 450, 15) + arc(140, 185, 55, 52, -90, 270, 13)],
    9: [arc(140, 95, 50, 48, 0, 360, 15) + [(188, 100), (180, 170), (165, 240)]],
}


def dense(stroke: Sequence[Point], step: float = 5.0) -> Stroke:
    """Return the stroke with a point every ``step`` px or less, as a hand moving a mouse sends them."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, math.ceil(math.dist((x0, y0), (x1, y1)) / step))
        points += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return points
