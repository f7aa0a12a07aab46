"""The shipped models: small, loadable, and as accurate on the real test set as the model card says."""

from __future__ import annotations

import re

import pytest

from mnistlib import checkpoints, data, evaluate
from mnistlib.paths import MODELS_DIR


def card_accuracy(name: str) -> float:
    """Return the test accuracy models/README.md states for a shipped file."""
    card = (MODELS_DIR / "README.md").read_text()
    row = re.search(rf"^\|\s*`{re.escape(name)}`.*$", card, flags=re.MULTILINE)
    assert row, f"models/README.md has no table row for {name}"
    return float(re.search(r"(\d{2}\.\d{2}) %", row.group(0)).group(1)) / 100


@pytest.mark.parametrize("arch", sorted(checkpoints.SHIPPED_MODELS))
def test_shipped_model_matches_its_model_card(arch):
    path = checkpoints.SHIPPED_MODELS[arch]
    assert path.stat().st_size < 5 * 1024 * 1024
    model = checkpoints.load_shipped(arch)
    measured = evaluate.accuracy(model, *data.load_mnist("test"))
    meta = model.checkpoint_metadata
    assert abs(measured - meta["test_acc"]) < 0.0006, (measured, meta["test_acc"])
    assert abs(measured - card_accuracy(path.name)) < 0.0006, (measured, card_accuracy(path.name))
    assert meta["train_data_sha256"] == data.data_sha256("train")


def test_default_model_is_the_cnn_and_good():
    model = checkpoints.load_model()
    assert model.checkpoint_metadata["architecture"] == "cnn"
    assert model.checkpoint_metadata["test_acc"] >= 0.995


def test_default_model_is_sure_when_right_and_calibrated():
    # Issue 13: a clear digit reads 99 % sure or more, and confidence means what it says.
    model = checkpoints.load_model()
    X, y = data.load_mnist("test")
    probs = evaluate.predict_proba(model, X)
    confidence, predicted = probs.max(1)
    assert confidence[predicted == y].median() >= 0.99
    assert evaluate.expected_calibration_error(probs, y, num_bins=15) <= 0.01
    assert (confidence[predicted != y] > 0.9).any()  # notebook 04's exercise: find a wrong reading above 90 %


def test_model_card_shows_the_reliability_figures_the_checkpoint_records():
    meta = checkpoints.load_model().checkpoint_metadata
    figures = meta["reliability"]
    card = (MODELS_DIR / "README.md").read_text()
    for key in (
        "median_confidence_correct",
        "ece15",
        "canvas_acc",
        "canvas_by_stroke/thick",
        "unsure_scribbles",
    ):
        assert f"{figures[key] * 100:.2f} %" in card, key
