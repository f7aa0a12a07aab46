"""The drawing pad's state as plain Python: the strokes, when a live reading is due, and the pad's sizes.

No widget library here, so all of it runs and is tested without a browser or a kernel:

* ``Strokes`` keeps every point the browser sends and rasterises the strokes with Pillow (round
  brush, white ink on black, canvas resolution), so a prediction is a pure function of the strokes;
* ``Throttle`` decides when a prediction is due while a stroke is still being drawn;
* ``upload_preview`` and ``preprocessing_steps`` give the images the pad shows besides the drawing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageOps

if TYPE_CHECKING:  # mnistlib.preprocess imports PyTorch: imported where used, so the panels load without it
    from mnistlib.preprocess import ImageInput

Point = tuple[float, float]

PAD_SIZE = 280  # CSS px and canvas px: ten screen pixels per MNIST pixel
BRUSH_WIDTH = 18  # px; a digit drawn 150-250 px tall and fitted into 20x20 gets MNIST's 1.5-2.5 px pen
UNSURE_BELOW = 0.6  # a top probability under this shows the "not sure" hint
LIVE_INTERVAL = 0.15  # s: at most this often a prediction while a stroke is drawn
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # larger files are refused before decoding
MODEL_VIEW_SIZE = 140  # px: the 28x28 model input shown enlarged five times
# What one pad keeps, whatever a page sends: the app page sends a stroke's points in batches of about
# 20 (one every 0.3 s); a digit's stroke has 50-300 points, a 30 s scribble at 60 moves a second 1,800.
MAX_BATCH_POINTS = 500  # points taken from one message
MAX_STROKE_POINTS = 2_000  # points kept in one stroke
MAX_STROKES = 100  # strokes on the pad at once
COORD_LIMIT = 4.0 * PAD_SIZE  # px: coordinates are clamped to +-this


class UploadTooLargeError(ValueError):
    """An uploaded file is over MAX_UPLOAD_BYTES: it is refused before being decoded."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"{size / 2**20:.1f} MB; upload an image under {MAX_UPLOAD_BYTES // 2**20} MB "
            "(a photo or scan of one digit)."
        )
        self.size = size


def clean_points(raw: object, limit: int = MAX_BATCH_POINTS) -> tuple[list[Point], int]:
    """Return the first ``limit`` (x, y) points of what a page sent, and how many others were left out.

    A point is a pair of finite numbers, clamped to +-COORD_LIMIT; anything else (text, NaN, a point
    of three numbers, a batch that is not a list) is left out and counted, never raised: a page's bad
    input must not break the pad.
    """
    if not isinstance(raw, (list, tuple)):
        return [], 1
    points = []
    for item in raw[:limit]:
        point = _point(item)
        if point is not None:
            points.append(point)
    return points, len(raw) - len(points)


def _point(item: object) -> Point | None:
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in item):
        return None
    # Far off the pad a point draws nothing, and Pillow would have to draw lines billions of px long.
    return tuple(min(max(float(v), -COORD_LIMIT), COORD_LIMIT) for v in item)


class Strokes:
    """The strokes drawn on the pad, in canvas pixels, and their rasterisation with Pillow.

    At most ``max_strokes`` strokes of ``max_points`` points each: a stroke that would be longer keeps
    its first points (``stroke_full``), and no stroke starts on a full pad (``start`` returns False).
    """

    def __init__(
        self,
        width: int = PAD_SIZE,
        height: int = PAD_SIZE,
        brush: int = BRUSH_WIDTH,
        min_step: float = 2.0,
        max_points: int = MAX_STROKE_POINTS,
        max_strokes: int = MAX_STROKES,
    ) -> None:
        self.width, self.height, self.brush = width, height, brush
        self.min_step = min_step  # points closer than this to the last one add nothing visible
        self.max_points, self.max_strokes = max_points, max_strokes
        self.strokes: list[list[Point]] = []
        self.drawing = False
        # What rasterize() has drawn so far, to draw only new points next time (see rasterize).
        self._image: Image.Image | None = None
        self._drawn: list[list[Point]] = []
        self._drawn_as: tuple[int, int, int] = (0, 0, 0)

    def __len__(self) -> int:
        return len(self.strokes)

    @property
    def is_empty(self) -> bool:
        """True when nothing has been drawn."""
        return not self.strokes

    @property
    def finished(self) -> int:
        """Return how many strokes have their pen lifted."""
        return len(self.strokes) - self.drawing

    @property
    def full(self) -> bool:
        """True when the pad holds ``max_strokes`` strokes: Undo or Clear makes room."""
        return len(self.strokes) >= self.max_strokes

    @property
    def stroke_full(self) -> bool:
        """True when the open stroke has ``max_points`` points: later ones are left out."""
        return self.drawing and len(self.strokes[-1]) >= self.max_points

    def start(self, x: float, y: float) -> bool:
        """Begin a new stroke at (x, y), ending any stroke still open; return False (nothing begun) on a full pad."""
        self.end()
        if self.full:
            return False
        self.strokes.append([(float(x), float(y))])
        self.drawing = True
        return True

    def add(self, x: float, y: float) -> Point | None:
        """Extend the open stroke to (x, y); return the previous point, or None if nothing was added."""
        if not self.drawing or self.stroke_full:
            return None
        last = self.strokes[-1][-1]
        if math.dist(last, (x, y)) < self.min_step:
            return None
        self.strokes[-1].append((float(x), float(y)))
        return last

    def end(self) -> bool:
        """Close the open stroke; return True if there was one."""
        was_drawing, self.drawing = self.drawing, False
        return was_drawing

    def undo(self) -> bool:
        """Remove the last stroke; return True if there was one."""
        self.drawing = False
        if not self.strokes:
            return False
        self.strokes.pop()
        return True

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes.clear()
        self.drawing = False

    def add_stroke(self, points: Iterable[Point]) -> None:
        """Add a whole stroke at once (for scripts, tests and exercises)."""
        points = list(points)
        if not points:
            raise ValueError("A stroke needs at least one (x, y) point.")
        if not self.start(*points[0]):
            raise ValueError(f"The pad holds {self.max_strokes} strokes at most: clear it first.")
        for x, y in points[1:]:
            self.add(x, y)
        self.end()

    def rasterize(self) -> np.ndarray:
        """Return the drawing as a (height, width) uint8 array: white ink (255) on black (0)."""
        # Ink only ever adds white, and every shape Pillow draws for a point depends only on it and
        # its neighbours, so drawing just the points added since the last call on the last picture
        # gives the very same pixels as drawing everything again, for a fraction of a live reading's
        # cost. Undo, Clear or any other change to the points already drawn starts a new picture.
        shape = (self.width, self.height, self.brush)
        drawn = self._drawn
        if (
            self._image is None
            or shape != self._drawn_as
            or len(drawn) > len(self.strokes)
            or any(stroke[: len(old)] != old for stroke, old in zip(self.strokes, drawn))
        ):
            self._image, self._drawn_as, drawn = Image.new("L", (self.width, self.height), 0), shape, []
        draw = ImageDraw.Draw(self._image)
        r = self.brush / 2
        for i, stroke in enumerate(self.strokes):
            done = len(drawn[i]) if i < len(drawn) else 0
            if done == len(stroke):
                continue
            # From two points back: the last point drawn becomes a joint, which needs both neighbours.
            new = stroke[max(0, done - 2) :]
            if len(new) > 1:
                draw.line(new, fill=255, width=self.brush, joint="curve")
            # A disc at every point gives round caps and joints, as the canvas's round line caps do.
            for x, y in stroke[done:]:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        self._drawn = [list(stroke) for stroke in self.strokes]
        return np.asarray(self._image)  # a copy: later strokes do not change it


class Throttle:
    """Decide when a live prediction is due while a stroke is drawn.

    At most one every ``interval`` seconds, never while one is running, and never sooner after the last
    one ended than it took: predictions then use at most half of the kernel's time, so the mouse-move
    events the browser sends without any throttling cannot pile up behind them.
    """

    def __init__(self, interval: float = LIVE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.running = False
        self.last_duration = 0.0
        self._next = -math.inf  # earliest clock time at which the next live prediction may start

    def due(self) -> bool:
        """Return True if a live prediction may start now."""
        return not self.running and self.clock() >= self._next

    @contextmanager
    def run(self) -> Iterator[None]:
        """Wrap one prediction (live or final) to record when it ran and how long it took."""
        self.running = True
        start = self.clock()
        try:
            yield
        finally:
            end = self.clock()
            self.running = False
            self.last_duration = end - start
            self._next = max(start + self.interval, end + self.last_duration)


def upload_preview(content: bytes, size: int = PAD_SIZE) -> np.ndarray:
    """Return an uploaded picture as the pipeline sees it in grey, fitted into a (size, size) uint8 square."""
    from mnistlib.preprocess import to_grey, to_uint8

    grey = Image.fromarray(to_uint8(to_grey(content)))
    return np.asarray(ImageOps.pad(grey, (size, size), color=0))


def preprocessing_steps(image: ImageInput) -> list[tuple[str, np.ndarray]]:
    """Return the named intermediate images of ``mnistlib.preprocess.to_mnist`` for ``image``, in order."""
    from mnistlib.preprocess import to_mnist

    _, steps = to_mnist(image, return_steps=True)
    return list(steps.items())
