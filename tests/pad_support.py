"""Helpers the drawing-pad tests share: dense mouse paths, canvas events as the browser sends them, a clock."""

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


def send(pad, event: str, **content) -> None:
    """Deliver one canvas event to a DrawingPad's kernel side, as the browser does."""
    pad.view.canvas._handle_frontend_event(None, {"event": event, **content}, [])


def mouse_draw(pad, strokes) -> None:
    """Draw ``strokes`` on a DrawingPad with mouse events, a point every 5 px."""
    for stroke in strokes:
        points = dense(stroke)
        send(pad, "mouse_down", x=points[0][0], y=points[0][1])
        for x, y in points[1:]:
            send(pad, "mouse_move", x=x, y=y)
        send(pad, "mouse_up", x=points[-1][0], y=points[-1][1])


class FakeClock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
