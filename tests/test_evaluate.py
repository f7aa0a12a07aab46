"""mnistlib.evaluate: metrics against hand-computed references, and the robustness helpers (shifts and
rotations move the ink exactly as stated, and accuracy follows)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnistlib import evaluate


def test_confusion_matrix_and_per_class_accuracy():
    y_true = torch.tensor([0, 0, 1, 1, 1, 2])
    y_pred = torch.tensor([0, 1, 1, 1, 2, 2])
    cm = evaluate.confusion_matrix(y_true, y_pred, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert torch.allclose(evaluate.per_class_accuracy(y_true, y_pred, 3), torch.tensor([0.5, 2 / 3, 1.0]))


def test_most_confident_mistakes_are_sorted_and_wrong():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.05, 0.95]])
    y = torch.tensor([1, 1, 0, 0])
    idx = evaluate.most_confident_mistakes(probs, y, k=5)
    assert idx.tolist() == [3, 0, 2]


def test_calibration_bins_count_everything():
    probs = torch.softmax(torch.randn(500, 10, generator=torch.Generator().manual_seed(0)) * 3, 1)
    y = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1))
    cal = evaluate.calibration(probs, y)
    assert cal["count"].sum() == 500
    nonempty = cal["count"] > 0
    assert ((cal["confidence"][nonempty] >= 0) & (cal["confidence"][nonempty] <= 1)).all()


# ---- probabilities keep the model's mode -----------------------------------------------------------


class Exploding(nn.Module):
    """A model that raises on its forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_predict_proba_restores_training_mode_even_when_the_model_raises():
    model = Exploding().train()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate.predict_proba(model, torch.zeros(2, 28, 28, dtype=torch.uint8))
    assert model.training


# ---- robustness helpers ----------------------------------------------------------------------------


def _bar() -> torch.Tensor:
    """One (1, 28, 28) uint8 image: a vertical bar in column 10, rows 8-19."""
    x = torch.zeros(1, 28, 28, dtype=torch.uint8)
    x[0, 8:20, 10] = 255
    return x


def test_shift_moves_every_pixel_right_and_down_exactly():
    moved = evaluate.shift_images(_bar(), dx=3, dy=2)
    assert moved.shape == (1, 1, 28, 28) and moved.dtype == torch.float32
    expected = torch.zeros(1, 1, 28, 28)
    expected[0, 0, 10:22, 13] = 1.0
    assert torch.equal(moved, expected)


def test_shift_by_zero_is_the_identity_and_ink_leaving_the_frame_is_lost():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(evaluate.shift_images(x, 0, 0), x)
    assert evaluate.shift_images(_bar(), dx=20).sum() == 0  # column 30 is outside the image


def test_rotation_by_90_degrees_is_anticlockwise():
    x = torch.zeros(1, 28, 28)
    x[0, 2:6, 14] = 1.0  # a short stroke near the top, at the centre column
    turned = evaluate.rotate_images(x, 90)[0, 0]
    rows, cols = (turned > 0.5).nonzero(as_tuple=True)
    assert len(rows) > 0
    assert cols.float().mean() < 8  # anticlockwise: the top goes to the left
    assert (rows.float().mean() - 13.5).abs() < 1.5
    assert torch.allclose(evaluate.rotate_images(x, 0)[0], x)


def test_rotation_keeps_pixels_in_range():
    turned = evaluate.rotate_images(torch.rand(3, 28, 28), 33)
    assert turned.min() >= 0 and turned.max() <= 1


class _InkColumn(nn.Module):
    """Predicts 1 if the ink's centre of mass is right of the middle, else 0: a model shifts can fool."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))  # evaluate finds the device through the parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), 28, 28)
        cols = torch.arange(28.0)
        centre = (x.sum(1) * cols).sum(1) / x.sum((1, 2)).clamp(min=1e-6)
        right = (centre > 13.5).float()
        return torch.stack([1 - right, right], 1) + self.dummy


def test_robustness_curve_measures_accuracy_per_amount():
    X = _bar().repeat(5, 1, 1)  # ink at column 10: left of the middle
    y = torch.zeros(5, dtype=torch.long)
    accs = evaluate.robustness_curve(_InkColumn(), X, y, "shift", [0, 2, 6, -6])
    assert accs == [1.0, 1.0, 0.0, 1.0]  # 6 px right puts the bar at column 16
    assert evaluate.robustness_curve(_InkColumn(), X, y, "shift_down", [0, 6]) == [1.0, 1.0]


def test_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match="shift.*rotate"):
        evaluate.robustness_curve(_InkColumn(), _bar(), torch.zeros(1, dtype=torch.long), "zoom", [1])


def test_on_real_digits_the_cnn_tolerates_shifts_better_than_the_mlp(mnist_test, shipped_cnn, shipped_mlp):
    X, y = mnist_test[0][:2000], mnist_test[1][:2000]
    cnn = evaluate.robustness_curve(shipped_cnn, X, y, "shift", [0, 3])
    mlp = evaluate.robustness_curve(shipped_mlp, X, y, "shift", [0, 3])
    assert cnn[0] == pytest.approx(evaluate.accuracy(shipped_cnn, X, y))
    assert cnn[0] > 0.97 and mlp[0] > 0.95
    assert mlp[1] < mlp[0] - 0.2  # 3 px is a lot for a model that learnt fixed pixel positions
    assert cnn[1] > mlp[1] + 0.1


def _confident(digits: list[int], confidence: float) -> torch.Tensor:
    """Probabilities (N, 10) that put ``confidence`` on each given digit and share the rest evenly."""
    probs = torch.full((len(digits), 10), (1 - confidence) / 9)
    probs[torch.arange(len(digits)), torch.tensor(digits)] = confidence
    return probs


def test_expected_calibration_error_by_hand():
    # bin 0.9-1.0: confidence 0.95, half right (gap 0.45); bin 0.5-0.6: confidence 0.55, all right (gap 0.45)
    probs = torch.cat([_confident([1, 2], 0.95), _confident([3, 4], 0.55)])
    y = torch.tensor([1, 0, 3, 4])
    assert evaluate.expected_calibration_error(probs, y) == pytest.approx(0.45)
    # certain and always wrong: the worst possible
    assert evaluate.expected_calibration_error(
        _confident([0, 0], 1.0), torch.tensor([1, 1])
    ) == pytest.approx(1.0)
    # honest: 80 % sure and right on 4 of 5
    honest = evaluate.expected_calibration_error(_confident([0] * 5, 0.8), torch.tensor([0, 0, 0, 0, 1]))
    assert honest == pytest.approx(0.0, abs=1e-6)
