"""Drawings the class-store tests share: a seven and a one of the drawn digits, and a photo-like picture."""

from __future__ import annotations

import numpy as np

from tools.drawn_digits import DIGITS

SEVEN, ONE = DIGITS[7], DIGITS[1]


def bar_image() -> np.ndarray:
    """A (100, 80) uint8 picture of a "1": a dark bar on white paper."""
    image = np.full((100, 80), 255, np.uint8)
    image[15:85, 35:45] = 0
    return image
