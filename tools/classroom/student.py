"""A simulated student: how fast they move the mouse and think, how their digits vary, what they saw."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from mnistlib.classroom.strokes import PAD_SIZE
from tools.drawn_digits import Stroke

MOVE_INTERVAL = 1 / 60  # s between two pointer events: a mouse reports about 60 a second
MOVE_STEP = 6.0  # px between two pointer events along a stroke
THINK_TIME = 1.0  # s a student pauses between two digits


@dataclass
class Student:
    """What one simulated student saw."""

    kind: str  # "light" or "browser"
    usable: float | None = None  # s from opening the page to a pad that takes strokes
    ink: list[float] = field(default_factory=list)  # s, mouse move -> pixel on the canvas (browser)
    reading: list[float] = field(default_factory=list)  # s, pointer up -> final reading
    drawn: int = 0
    read_right: int = 0
    saves: list[float] = field(default_factory=list)  # s, Save clicked -> the pad says "saved" (collect mode)
    saved: int = 0
    failures: list[str] = field(default_factory=list)


def jitter(strokes: list[Stroke], rng: random.Random) -> list[Stroke]:
    """Return the strokes a little smaller or larger and shifted, as no two students draw alike."""
    scale, dx, dy = rng.uniform(0.85, 1.05), rng.uniform(-12, 12), rng.uniform(-10, 10)
    c = PAD_SIZE / 2
    return [[(c + (x - c) * scale + dx, c + (y - c) * scale + dy) for x, y in stroke] for stroke in strokes]
