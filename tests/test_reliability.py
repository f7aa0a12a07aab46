"""The model card's reliability figures: what they count, on models whose answers are known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnistlib import data
from tools import reliability


class Fixed(nn.Module):
    """Always the same logits: ``sure`` puts them all on digit 0, otherwise all equal."""

    def __init__(self, sure: bool) -> None:
        super().__init__()
        self.sure = sure
        self.dummy = nn.Parameter(torch.zeros(1))  # so evaluate.predict_proba finds a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), 10)
        if self.sure:
            logits[:, 0] = 50.0
        return logits


@pytest.fixture(scope="module")
def not_digits():
    return reliability.not_digit_inputs()


def test_unsure_rates_follow_the_top_probability(not_digits):
    assert set(not_digits) == {"scribbles", "letters"} and len(not_digits["letters"]) > 40
    unsure = reliability.unsure_rates(Fixed(sure=False), not_digits)  # 10 % on every digit
    sure = reliability.unsure_rates(Fixed(sure=True), not_digits)
    assert unsure["unsure_scribbles"] == unsure["unsure_letters"] == 1.0
    assert sure["unsure_scribbles"] == sure["unsure_letters"] == 0.0


def test_test_set_figures_count_a_model_that_always_says_zero_for_sure():
    X, y = data.load_mnist("test")
    X, y = X[:500], y[:500]
    figures = reliability.test_set_figures(Fixed(sure=True), X, y)
    zeros = (y == 0).float().mean().item()
    assert figures["test_acc"] == pytest.approx(zeros)
    assert figures["median_confidence_correct"] == pytest.approx(1.0)
    assert figures["wrong_above_90"] == int((y != 0).sum())
    assert figures["ece15"] == pytest.approx(1 - zeros, abs=1e-5)  # one bin, confidence 1, accuracy `zeros`


def test_canvas_figures_split_by_colour_style_and_pen():
    inputs = reliability.canvas_inputs(n=60, seed=0)
    assert inputs.images.shape == (60, 1, 28, 28)
    figures = reliability.canvas_figures(Fixed(sure=True), inputs)
    assert figures["canvas_acc"] == pytest.approx((inputs.labels == 0).mean())
    assert set(figures["canvas_by_stroke"]) == {"thin", "normal", "thick"}
    assert len(figures["canvas_by_style"]) == 4
    thick = [s.stroke == "thick" for s in inputs.styles]
    assert figures["canvas_by_stroke"]["thick"] == pytest.approx((inputs.labels[thick] == 0).mean())
