"""A canvas-like test set made from the MNIST test split, and how well the model reads it.

Each test digit is redrawn the way people hand it to the app: large, somewhere on a bigger
canvas, with a thin, normal or thick pen, light-on-dark or dark-on-light, as an opaque RGB
picture or a transparent RGBA canvas snapshot. ``measure`` compares ``mnistlib.predict`` with
the original app's preprocessing (grey, resize the whole picture to 28x28, nothing else) on
the same images, and times one canvas snapshot to probabilities.

    python -m tools.canvas_testset            # all 10,000 test digits, seed 0
    python -m tools.canvas_testset -n 1000 --seed 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import nn

from mnistlib.checkpoints import load_model
from mnistlib.data import load_mnist
from mnistlib.evaluate import predict_proba
from mnistlib.prediction import predict
from mnistlib.preprocess import to_float
from tools.timing import time_calls

STROKES = ("thin", "normal", "thick")
POLARITIES = ("light-on-dark", "dark-on-light")
FORMATS = ("rgb", "rgba")


@dataclass(frozen=True)
class Style:
    """How one digit was redrawn."""

    stroke: str  # thin, normal or thick
    polarity: str  # light-on-dark or dark-on-light
    format: str  # rgb (opaque) or rgba (transparent background, like a canvas snapshot)


def _pen(digit: np.ndarray, stroke: str, f: float, rng: np.random.Generator) -> np.ndarray:
    """Return the pen's coverage in [0, 1] of a digit drawn at ``f`` canvas pixels per MNIST pixel."""
    # Trace at 4x: a smooth upscale whose edges grey erosion or dilation moves in or out by
    # 0.25-0.75 MNIST px. The pen is then the trace's level set at `t`, with edges about one
    # canvas pixel wide: the trace rises from 0 to 1 over roughly 1.5 MNIST px, so
    # (trace - t) * 1.5 f is a distance in canvas pixels. Eroded traces get a lower level, or
    # their faint parts (a light cross-bar) would vanish.
    trace = Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC)
    if stroke == "thin":
        trace, t = trace.filter(ImageFilter.MinFilter(int(rng.choice([3, 5])))), rng.uniform(0.25, 0.45)
    elif stroke == "thick":
        trace, t = trace.filter(ImageFilter.MaxFilter(int(rng.choice([5, 7])))), rng.uniform(0.35, 0.6)
    else:
        t = rng.uniform(0.35, 0.6)
    side = max(28, round(28 * f))
    smooth = np.asarray(trace.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    cover = np.clip((smooth - t) * 1.5 * f + 0.5, 0, 1)
    if not cover.any():  # a faint digit eroded away: draw it with the normal pen instead
        return _pen(digit, "normal", f, rng)
    rows, cols = np.flatnonzero(cover.any(1)), np.flatnonzero(cover.any(0))
    return cover[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def draw_digit(
    digit: np.ndarray, rng: np.random.Generator, style: Style, canvas: tuple[int, int] | None = None
) -> np.ndarray:
    """Redraw a (28, 28) uint8 MNIST digit large on a bigger canvas; return (H, W, 3|4) uint8.

    The digit's 20 px box becomes 25-90 % of the canvas's short side and lands at a random
    place; ink and paper get random light and dark colours. ``canvas`` is (height, width),
    by default random, 192-448 px a side.
    """
    height, width = canvas if canvas is not None else rng.integers(192, 449, size=2)
    f = rng.uniform(0.25, 0.9) * min(height, width) / 20  # canvas pixels per MNIST pixel
    cover = _pen(digit, style.stroke, f, rng)
    cover = cover[: height - 4, : width - 4]  # a 90 % box with a thick pen can overflow a little
    h, w = cover.shape
    top, left = rng.integers(2, height - h - 1), rng.integers(2, width - w - 1)
    alpha = np.zeros((height, width), dtype=np.float32)
    alpha[top : top + h, left : left + w] = cover

    light, dark = rng.integers(185, 256, size=3), rng.integers(0, 71, size=3)
    ink, paper = (light, dark) if style.polarity == "light-on-dark" else (dark, light)
    if style.format == "rgba":  # transparent background (0, 0, 0, 0), strokes in the ink colour
        rgb = np.broadcast_to(ink, (height, width, 3)) * (alpha[..., None] > 0)
        return np.dstack([rgb, np.round(alpha * 255)]).astype(np.uint8)
    rgb = alpha[..., None] * ink + (1 - alpha[..., None]) * paper
    return np.round(rgb).astype(np.uint8)


def canvas_testset(n: int = 10_000, seed: int = 0) -> Iterator[tuple[np.ndarray, int, Style]]:
    """Yield ``n`` (image, label, style) redrawn from distinct MNIST test digits, the same for a seed."""
    images, labels = load_mnist("test")
    order = np.random.default_rng(seed).permutation(len(images))[: min(n, len(images))]
    for i, index in enumerate(order):
        rng = np.random.default_rng([seed, i])  # one generator per image: any prefix is reproducible
        style = Style(str(rng.choice(STROKES)), str(rng.choice(POLARITIES)), str(rng.choice(FORMATS)))
        yield draw_digit(images[index].numpy(), rng, style), int(labels[index]), style


def naive_preprocess(image: np.ndarray) -> np.ndarray:
    """The original app's preprocessing: grey and resized to (28, 28) float32, nothing else."""
    img = Image.fromarray(image).convert("L")  # PIL drops the alpha channel here
    return to_float(np.asarray(img.resize((28, 28), Image.Resampling.BILINEAR)))


def canvas_snapshot(seed: int = 0) -> np.ndarray:
    """Return a 280x280 RGBA snapshot like the drawing pad's: a test-split 7, dark on transparent."""
    images, _ = load_mnist("test")
    style = Style("normal", "dark-on-light", "rgba")
    return draw_digit(images[0].numpy(), np.random.default_rng(seed), style, canvas=(280, 280))


def snapshot_latency_ms(model: nn.Module, repeats: int = 200) -> float:
    """Return the median time in ms from one 280x280 RGBA canvas snapshot to probabilities."""
    snapshot = canvas_snapshot()
    # The warm-up runs let torch's kernels and the allocator settle.
    return 1000 * time_calls(lambda: predict(model, snapshot), repeats, warmup=10).median


def measure(model: nn.Module | None = None, n: int = 10_000, seed: int = 0, repeats: int = 200) -> dict:
    """Return the accuracy of ``predict`` and of the naive preprocessing on the canvas test set.

    Keys: n, seed, ours, naive (accuracies in [0, 1]), by_style (ours per stroke, polarity and
    format), latency_ms (median, one 280x280 RGBA snapshot to probabilities).
    """
    model = load_model() if model is None else model
    ours, naive, labels, styles = [], [], [], []
    for image, label, style in canvas_testset(n, seed):
        ours.append(predict(model, image).digit)
        naive.append(naive_preprocess(image))
        labels.append(label)
        styles.append(style)
    naive_pred = predict_proba(model, torch.from_numpy(np.stack(naive)).unsqueeze(1)).argmax(1).numpy()
    correct = np.array(ours) == np.array(labels)
    by_style = {}
    for field, values in (("stroke", STROKES), ("polarity", POLARITIES), ("format", FORMATS)):
        for value in values:
            chosen = np.array([getattr(s, field) == value for s in styles])
            by_style[value] = float(correct[chosen].mean()) if chosen.any() else float("nan")
    return {
        "n": len(labels),
        "seed": seed,
        "ours": float(correct.mean()),
        "naive": float((naive_pred == np.array(labels)).mean()),
        "by_style": by_style,
        "latency_ms": snapshot_latency_ms(model, repeats),
    }


def main(argv: list[str] | None = None) -> None:
    """Print ours-vs-naive accuracy on the canvas test set and the snapshot latency."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000, help="how many test digits to redraw (at most 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    r = measure(n=args.n, seed=args.seed)
    print(f"canvas-like MNIST test set: n={r['n']}, seed={r['seed']} ({time.perf_counter() - start:.0f} s)")
    print(f"  mnistlib.predict (MNIST-style preprocessing): {r['ours']:.2%}")
    print(f"  naive resize to 28x28 (the original app):     {r['naive']:.2%}")
    print("  predict by style: " + ", ".join(f"{k} {v:.2%}" for k, v in r["by_style"].items()))
    print(f"one 280x280 RGBA snapshot to probabilities: {r['latency_ms']:.2f} ms median")


if __name__ == "__main__":
    main()
