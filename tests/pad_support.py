"""Helpers the drawing-pad tests share: canvas events as the browser sends them, the digits as Strokes, a clock."""

from __future__ import annotations

from mnistlib.classroom.strokes import Strokes
from tools.drawn_digits import DIGITS, dense


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


def strokes_of(digit: int) -> Strokes:
    """Return the pad's Strokes of one of the drawn digits (tools.drawn_digits)."""
    strokes = Strokes()
    for stroke in DIGITS[digit]:
        strokes.add_stroke(stroke)
    return strokes


class FakeClock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
