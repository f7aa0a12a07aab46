"""Metrics against hand-computed references."""

from __future__ import annotations

import torch

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
