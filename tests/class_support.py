"""Drawings the class-store tests share: two strokes' worth of digits and a photo-like picture."""

from __future__ import annotations

import numpy as np

SEVEN = [[(60.0, 50.0), (220.0, 50.0), (130.0, 240.0)], [(90.0, 140.0), (180.0, 140.0)]]
ONE = [[(140.0, 40.0), (138.0, 240.0)]]


def bar_image() -> np.ndarray:
    """A (100, 80) uint8 picture of a "1": a dark bar on white paper."""
    image = np.full((100, 80), 255, np.uint8)
    image[15:85, 35:45] = 0
    return image
