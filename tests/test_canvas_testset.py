"""tools/canvas_testset.py: the redrawn test digits are deterministic, cover every style, and the naive
preprocessing is the original app's."""

from __future__ import annotations

import numpy as np

from tools import canvas_testset


def test_canvas_testset_is_deterministic_and_covers_every_style():
    first = list(canvas_testset.canvas_testset(n=40, seed=3))
    again = list(canvas_testset.canvas_testset(n=40, seed=3))
    assert all(np.array_equal(a[0], b[0]) and a[1:] == b[1:] for a, b in zip(first, again))
    assert not np.array_equal(first[0][0], next(canvas_testset.canvas_testset(n=1, seed=4))[0])
    styles = [s for _, _, s in first]
    assert {s.stroke for s in styles} == set(canvas_testset.STROKES)
    assert {s.polarity for s in styles} == set(canvas_testset.POLARITIES)
    assert {s.format for s in styles} == set(canvas_testset.FORMATS)
    for image, _, style in first:
        assert image.dtype == np.uint8 and image.shape[2] == (4 if style.format == "rgba" else 3)
        assert 192 <= image.shape[0] <= 448 and 192 <= image.shape[1] <= 448


def test_naive_preprocessing_is_the_original_apps():
    image = np.zeros((280, 280, 4), np.uint8)
    image[100:180, 130:150, 3] = 255  # black strokes on transparency: alpha is all there is
    assert canvas_testset.naive_preprocess(image).max() == 0  # the original app saw nothing
    grey = np.zeros((280, 280), np.uint8)
    grey[100:180, 130:150] = 255
    out = canvas_testset.naive_preprocess(grey)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out[10:18, 13:15].min() > 0.7 and out[:, :12].max() == 0  # the bar, shrunk 10x in place
