"""How far a model's readings can be trusted: the reliability figures of the model card (models/README.md).

On the real MNIST test set: accuracy, the median confidence on the digits it reads correctly,
the expected calibration error (15 equal-width bins) and how many wrong readings are above 90 %.
On the canvas-like test set (tools/canvas_testset.py, made from test digits, for measuring only):
accuracy overall, per colour style (polarity x format) and per stroke-width band. On ink that is no
digit (random scribbles, letters and signs): how often the pad's "not sure" hint fires.

    python -m tools.reliability                  # the shipped default CNN
    python -m tools.reliability models/x.pt -n 1000
"""

from __future__ import annotations

import argparse
import json
import string
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnistlib.checkpoints import load_model
from mnistlib.classroom.strokes import UNSURE_BELOW
from mnistlib.data import load_mnist
from mnistlib.evaluate import expected_calibration_error, predict_proba
from mnistlib.look_inside import render_text, scribble
from mnistlib.preprocess import BlankImageError, to_mnist
from tools.canvas_testset import FORMATS, POLARITIES, STROKES, canvas_testset

ECE_BINS = 15
NUM_SCRIBBLES = 300
SIGNS = string.ascii_letters + "#@&%?+="  # drawn as text: ink that is no digit


@dataclass(frozen=True)
class CanvasInputs:
    """The canvas-like test set after preprocessing, which does not depend on the model."""

    images: torch.Tensor  # (N, 1, 28, 28) float in [0, 1], what predict() gives the model
    labels: np.ndarray  # (N,)
    styles: list  # tools.canvas_testset.Style per image


def canvas_inputs(n: int = 10_000, seed: int = 0) -> CanvasInputs:
    """Redraw ``n`` test digits as canvases and preprocess them as ``mnistlib.predict`` does."""
    images, labels, styles = [], [], []
    for image, label, style in canvas_testset(n, seed):
        images.append(to_mnist(image))
        labels.append(label)
        styles.append(style)
    return CanvasInputs(torch.from_numpy(np.stack(images)).unsqueeze(1), np.array(labels), styles)


def not_digit_inputs() -> dict[str, torch.Tensor]:
    """Return preprocessed scribbles (1-4 random strokes) and letters/signs, (N, 1, 28, 28) each."""

    def batch(pictures):
        kept = []
        for picture in pictures:
            try:
                kept.append(to_mnist(picture))
            except BlankImageError:  # a scribble can leave the canvas nearly empty: not a test case
                pass
        return torch.from_numpy(np.stack(kept)).unsqueeze(1)

    return {
        "scribbles": batch(scribble(s, num_strokes=1 + s % 4) for s in range(NUM_SCRIBBLES)),
        "letters": batch(render_text(ch) for ch in SIGNS),
    }


def test_set_figures(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Return accuracy, median confidence on correct readings, ECE (15 bins) and wrong readings above 90 %."""
    probs = predict_proba(model, images)  # uint8 (N, 28, 28) or float (N, 1, 28, 28)
    confidence, predicted = probs.max(1)
    correct = predicted == labels
    return {
        "test_acc": correct.float().mean().item(),
        "median_confidence_correct": confidence[correct].median().item(),
        "ece15": expected_calibration_error(probs, labels, num_bins=ECE_BINS),
        "wrong_above_90": int((~correct & (confidence > 0.9)).sum()),
    }


def canvas_figures(model: nn.Module, inputs: CanvasInputs) -> dict:
    """Return canvas-like accuracy overall, per colour style (polarity/format) and per stroke band."""
    correct = predict_proba(model, inputs.images).argmax(1).numpy() == inputs.labels
    style = np.array([f"{s.polarity}/{s.format}" for s in inputs.styles])
    stroke = np.array([s.stroke for s in inputs.styles])
    return {
        "canvas_n": len(correct),
        "canvas_acc": float(correct.mean()),
        "canvas_by_style": {
            f"{p}/{f}": float(correct[style == f"{p}/{f}"].mean()) for p in POLARITIES for f in FORMATS
        },
        "canvas_by_stroke": {s: float(correct[stroke == s].mean()) for s in STROKES},
    }


def unsure_rates(model: nn.Module, not_digits: dict[str, torch.Tensor]) -> dict:
    """Return the fraction of each kind of non-digit whose top probability shows the "not sure" hint."""
    return {
        f"unsure_{kind}": float((predict_proba(model, x).max(1).values < UNSURE_BELOW).float().mean())
        for kind, x in not_digits.items()
    } | {"unsure_below": UNSURE_BELOW}


def reliability(
    model: nn.Module,
    canvas: CanvasInputs | None = None,
    not_digits: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Return every reliability figure of ``model`` (inputs are built when not given)."""
    return {
        **test_set_figures(model, *load_mnist("test")),
        **canvas_figures(model, canvas if canvas is not None else canvas_inputs()),
        **unsure_rates(model, not_digits if not_digits is not None else not_digit_inputs()),
    }


def main(argv: list[str] | None = None) -> None:
    """Print a model's reliability figures as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint file (default: the shipped CNN)")
    parser.add_argument("-n", type=int, default=10_000, help="how many canvas-like digits (at most 10000)")
    args = parser.parse_args(argv)
    model = load_model(args.checkpoint)
    print(json.dumps(reliability(model, canvas_inputs(args.n)), indent=2))


if __name__ == "__main__":
    main()
