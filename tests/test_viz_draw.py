"""Notebook 04's plots (mnistlib.viz): each returns a Figure that renders, and bad input says what to do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import same_color
from matplotlib.figure import Figure
from test_viz import room_problems

from mnistlib import viz
from mnistlib.classroom.strokes import Strokes, preprocessing_steps


def _seven() -> np.ndarray:
    seven = Strokes()
    seven.add_stroke([(75, 55), (205, 55), (160, 140), (120, 235)])
    return seven.rasterize()


def test_preprocessing_plot_has_one_panel_per_step_titled_with_its_size():
    steps = preprocessing_steps(_seven())
    fig = viz.plot_preprocessing_steps(steps)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(steps)
    for ax, (name, image) in zip(fig.axes, steps):
        assert ax.get_title() == f"{name}\n{image.shape[1]} x {image.shape[0]}"
    assert room_problems(fig) == []


def test_preprocessing_plot_shows_uint8_and_float_images_on_one_grey_scale():
    ink = np.zeros((28, 28), np.uint8)
    ink[10:18, 12:16] = 255
    fig = viz.plot_preprocessing_steps([("bytes", ink), ("floats", ink / 255.0)])
    limits = [ax.images[0].get_clim() for ax in fig.axes]
    assert limits == [(0, 255), (0, 1)]


def test_preprocessing_plot_refuses_no_steps():
    with pytest.raises(ValueError, match="preprocessing_steps"):
        viz.plot_preprocessing_steps([])


def test_shift_plot_draws_one_line_per_model_in_its_colour_with_the_given_values():
    shifts = list(range(-8, 9))
    cnn = torch.linspace(0.9, 1.0, len(shifts))
    mlp = np.linspace(1.0, 0.0, len(shifts))
    fig = viz.plot_shift_confidence(shifts, {"CNN": cnn, "MLP": mlp}, digit=7)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["CNN", "MLP"]
    assert np.allclose(lines[0].get_ydata(), cnn.numpy()) and np.allclose(lines[1].get_ydata(), mlp)
    assert same_color(lines[0].get_color(), viz.MODEL_COLORS["CNN"])
    assert same_color(lines[1].get_color(), viz.MODEL_COLORS["MLP"])
    assert list(lines[0].get_xdata()) == shifts
    assert ax.get_ylabel() == "probability of a 7"
    assert room_problems(fig) == []


def test_shift_plot_refuses_a_curve_of_the_wrong_length():
    with pytest.raises(ValueError, match="one per point"):
        viz.plot_shift_confidence([0, 1, 2], {"CNN": [1.0, 0.5]})
