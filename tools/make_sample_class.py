"""Make the sample class store shipped with the project: 300 digits drawn by a script, not by children.

Usage: python -m tools.make_sample_class [--out samples/sample_class.sqlite] [--seed 0]

Ten imaginary students each draw every digit three times on the pad's 280x280 canvas. Every digit
is a stroke template (an oval 0, a two-bowl 3, a 7 with or without a cross-bar, ...) that each
student draws in their own way: slant, size, width-to-height ratio, pen width, place on the pad,
rotation and a wobbly hand, plus a little variation from one drawing to the next. The strokes are
rasterised by the pad's own code and saved with ``mnistlib.ClassStore.add``, so the records are
exactly what the pad would save, together with the shipped CNN's reading at save time. The store's
metadata table says how it was made. The same seed gives the same file.

At the end the script prints how well the shipped CNN and MLP read the sample, per digit.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import torch

from mnistlib import checkpoints
from mnistlib.classroom.store import SAMPLE_CLASS, ClassStore
from mnistlib.classroom.strokes import PAD_SIZE, Strokes
from mnistlib.prediction import predict
from tools.drawn_digits import Stroke, arc

NUM_STUDENTS, REPEATS = 10, 3
MODEL_NAME = "mnist_cnn.pt"  # the model whose reading is stored, as the pad would store it
# Data, not a date of record: a fixed lesson time, so that the same seed gives the same file.
START = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)
DESCRIPTION = (
    "Synthetic sample class store: made by drawing strokes with tools/make_sample_class.py "
    "(a stroke template per digit, drawn with per-student slant, size, width, position and wobble), "
    "not by children. 10 imaginary students x 10 digits x 3 drawings."
)

VARIANTS = {  # shape -> the chance that a student writes a digit that way
    "flag": 0.6,
    "long_flag": 0.3,
    "base": 0.3,
    "curly": 0.3,
    "flat_top": 0.25,
    "open": 0.4,
    "one_stroke": 0.5,
    "small_loop": 0.4,
    "hook": 0.2,
    "bent": 0.3,
    "cross": 0.3,
    "snowman": 0.3,
    "curved_tail": 0.4,
}


def template(digit: int, variant: dict[str, bool]) -> list[Stroke]:
    """Return the strokes of ``digit`` in the unit box, in the way ``variant`` picks (flags per student).

    The unit box: x right, y down, both in [0, 1]; ``draw`` scales and places it on the pad.
    """
    if digit == 0:
        return [arc(0.5, 0.5, 0.36, 0.48, -100, 265)]
    if digit == 1:
        flag = [(0.12, 0.34), (0.56, 0.02)] if variant["long_flag"] else [(0.3, 0.24), (0.56, 0.02)]
        stem = [*flag, (0.54, 0.98)] if variant["flag"] else [(0.53, 0.02), (0.5, 0.98)]
        return [stem, [(0.28, 0.98), (0.78, 0.98)]] if variant["base"] else [stem]
    if digit == 2:
        top = arc(0.5, 0.3, 0.32, 0.28, 195, 380)
        if variant["curly"]:  # a loop where the diagonal meets the base
            return [top + [(0.2, 0.9)] + arc(0.27, 0.86, 0.1, 0.1, 180, 20) + [(0.9, 0.96)]]
        return [top + [(0.14, 0.97), (0.9, 0.97)]]
    if digit == 3:
        if variant["flat_top"]:
            return [[(0.15, 0.03), (0.82, 0.03), (0.45, 0.42)] + arc(0.48, 0.72, 0.36, 0.26, -80, 160)]
        return [arc(0.48, 0.27, 0.3, 0.24, 200, 450) + arc(0.48, 0.74, 0.36, 0.24, -90, 160)[1:]]
    if digit == 4:
        if variant["open"]:
            return [[(0.2, 0.02), (0.12, 0.62), (0.9, 0.62)], [(0.7, 0.04), (0.7, 0.98)]]
        return [[(0.64, 0.02), (0.1, 0.66), (0.92, 0.66)], [(0.68, 0.3), (0.68, 0.98)]]
    if digit == 5:
        bowl = [(0.28, 0.03), (0.24, 0.45)] + arc(0.5, 0.69, 0.34, 0.28, -140, 150)
        if variant["one_stroke"]:
            return [[(0.84, 0.03)] + bowl]
        return [bowl, [(0.28, 0.03), (0.84, 0.03)]]
    if digit == 6:
        loop = 0.17 if variant["small_loop"] else 0.25
        return [
            arc(0.78, 0.62, 0.54, 0.6, 262, 180)[:-1] + arc(0.28 + loop, 0.97 - loop, loop, loop, 180, -160)
        ]
    if digit == 7:
        top = ([(0.1, 0.16)] if variant["hook"] else []) + [(0.1, 0.03), (0.9, 0.03)]
        top += [(0.55, 0.45), (0.45, 0.98)] if variant["bent"] else [(0.42, 0.98)]
        return [top, [(0.34, 0.52), (0.8, 0.52)]] if variant["cross"] else [top]
    if digit == 8:
        if variant["snowman"]:  # two loops drawn one after the other
            return [arc(0.5, 0.25, 0.24, 0.23, 90, 450), arc(0.5, 0.73, 0.32, 0.25, -90, 270)]
        t = np.linspace(0.15, 2 * math.pi + 0.35, 44)
        y = 0.5 - 0.47 * np.cos(t)
        x = 0.5 + np.where(y < 0.5, 0.27, 0.34) * np.sin(2 * t)
        return [list(zip(x.tolist(), y.tolist(), strict=True))]
    if digit == 9:
        loop = arc(0.45, 0.28, 0.28, 0.26, 0, -360)
        tail = [(0.7, 0.8), (0.62, 0.93), (0.45, 0.98)] if variant["curved_tail"] else [(0.68, 0.98)]
        return [loop + tail]
    raise ValueError(f"no template for {digit!r}")


def student_style(rng: np.random.Generator) -> dict:
    """Return one student's way of writing: the same for all of their drawings."""
    return {
        "slant": rng.normal(0.1, 0.25),  # shear: the top leans right by this times the height
        "height": rng.uniform(0.45, 0.85),  # of the pad's side
        "aspect": rng.uniform(0.45, 1.05),  # width of the unit box / height
        "brush": int(rng.integers(10, 27)),  # pen width in canvas px (the pad's default is 18)
        "place": rng.normal(0, 20, size=2),  # px from the centre
        "rotate": rng.normal(0, 6),  # degrees
        "wobble": rng.uniform(1, 6),  # px: a steady or a shaky hand
        "sloppy": rng.uniform(0, 1.5),  # 0: neat; 1: loops left open, strokes overshoot, joins missed
        # Which of each digit's common shapes this student writes: chances, not rules.
        "variant": {name: bool(rng.random() < p) for name, p in VARIANTS.items()},
    }


def resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Return points every ``spacing`` px along a polyline, as mouse-move events arrive (N, 2)."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0], np.cumsum(seg)])
    n = max(2, math.ceil(s[-1] / spacing) + 1)
    at = np.linspace(0, s[-1], n)
    return np.stack([np.interp(at, s, points[:, 0]), np.interp(at, s, points[:, 1])], axis=1)


def draw(digit: int, style: dict, rng: np.random.Generator) -> list[Stroke]:
    """Return the canvas strokes of one drawing of ``digit`` by a student with ``style``."""
    height = PAD_SIZE * style["height"] * rng.uniform(0.9, 1.1)
    width = height * style["aspect"] * rng.uniform(0.88, 1.12)
    slant = style["slant"] + rng.normal(0, 0.06)
    angle = math.radians(style["rotate"] + rng.normal(0, 3))
    cx, cy = PAD_SIZE / 2 + style["place"] + rng.normal(0, 10, size=2)
    strokes = []
    for unit in template(digit, style["variant"]):
        u = np.array(unit, dtype=np.float64)
        # A sloppy hand stops short of or runs past each stroke's ends (a 0 left open, a 4 not joined).
        u = _trim(u, *(style["sloppy"] * rng.uniform(-0.12, 0.12, size=2)))
        x = (u[:, 0] - 0.5) * width + slant * (0.5 - u[:, 1]) * height
        y = (u[:, 1] - 0.5) * height
        xy = np.stack(
            [x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)], 1
        )
        xy = resample(xy + (cx, cy), spacing=8.0)
        # A wobbly hand: slow sideways drift along the stroke, a few sines of random phase.
        s = np.linspace(0, 1, len(xy))[:, None]
        for k in (1, 2, 3):
            amplitude = style["wobble"] * (1 + style["sloppy"]) / k
            xy += amplitude * np.sin(2 * math.pi * k * s + rng.uniform(0, 2 * math.pi, size=2))
        xy = np.clip(np.round(xy), 0, PAD_SIZE - 1)
        strokes.append([(float(px), float(py)) for px, py in xy])
    return strokes


def _trim(points: np.ndarray, start: float, end: float) -> np.ndarray:
    """Cut (positive) or extend (negative) a polyline at each end by a fraction of its length."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0], np.cumsum(seg)]) / max(seg.sum(), 1e-9)
    lo, hi = start, 1 - end
    if hi - lo < 0.3:  # never cut a stroke down to a stub
        lo, hi = 0.0, 1.0
    at = np.concatenate([[lo], s[(s > lo) & (s < hi)], [hi]])
    # np.interp holds the end values outside [0, 1]: extend along the first and last segments instead.
    out = np.stack([np.interp(at, s, points[:, 0]), np.interp(at, s, points[:, 1])], axis=1)
    if lo < 0:
        out[0] = points[0] + (points[0] - points[1]) * (-lo / max(s[1], 1e-9))
    if hi > 1:
        out[-1] = points[-1] + (points[-1] - points[-2]) * ((hi - 1) / max(1 - s[-2], 1e-9))
    return out


def make(out: Path, seed: int = 0) -> Path:
    """Draw the sample class with ``seed`` and write it to ``out`` (atomically: temp file, then rename)."""
    rng = np.random.default_rng(seed)
    model = checkpoints.load_shipped("cnn")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # ClassStore creates the file itself
    try:
        cs = ClassStore(tmp)
        _draw_class(cs, model, rng)
        cs.set_metadata(
            created=START.isoformat(timespec="milliseconds"),
            description=DESCRIPTION,
            made_by="tools/make_sample_class.py",
            seed=str(seed),
            synthetic="1",
        )
        _compact(tmp)
        tmp.chmod(0o644)
        tmp.replace(out)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
    return out


def _draw_class(cs: ClassStore, model: torch.nn.Module, rng: np.random.Generator) -> None:
    """Save every imaginary student's drawings, read by ``model``, a few seconds apart from START."""
    when = START
    for _ in range(NUM_STUDENTS):
        style = student_style(rng)
        student = f"anon-{rng.integers(0, 2**32):08x}"
        for _ in range(REPEATS):
            for digit in range(10):  # the pad asks "Draw a 0", "Draw a 1", ...
                strokes = draw(digit, style, rng)
                reading = predict(model, _raster(strokes, style["brush"]))
                when += timedelta(seconds=float(rng.uniform(4, 15)))
                record_uuid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                cs.add(
                    strokes,
                    digit,
                    student,
                    prediction=reading,
                    model_name=MODEL_NAME,
                    brush=style["brush"],
                    created=when,
                    uuid=record_uuid,
                )


def _compact(path: Path) -> None:
    """Turn the finished store into the file that ships: rollback journal, 1 KB pages."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A shipped file in rollback-journal mode opens read-only anywhere (WAL would need a
        # writable folder for its shared-memory file). Records of about 2 KB leave least padding
        # in 1 KB pages; VACUUM applies the new page size.
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=1024")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _raster(strokes: list[Stroke], brush: int) -> np.ndarray:
    """Rasterise strokes exactly as the pad (and ClassStore.add) does."""
    canvas = Strokes(brush=brush)
    canvas.strokes = strokes
    return canvas.rasterize()


def per_digit_accuracy(cs: ClassStore, model: torch.nn.Module) -> tuple[float, list[float]]:
    """Return the model's accuracy on a class store's model inputs, overall and per digit."""
    data = cs.images()
    with torch.inference_mode():
        x = torch.from_numpy(data.images).float().div(255).unsqueeze(1)
        predicted = model.eval()(x).argmax(1).numpy()
    correct = predicted == data.labels
    return float(correct.mean()), [float(correct[data.labels == d].mean()) for d in range(10)]


def main() -> None:
    """Make the sample and print the shipped models' accuracy on it, per digit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_CLASS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = make(args.out, args.seed)
    cs = ClassStore(out, read_only=True)
    print(f"{out}: {len(cs)} drawings, {out.stat().st_size / 1024:.0f} KB")
    print("model          all    " + "  ".join(f"{d:>4}" for d in range(10)))
    for name in ("cnn", "mlp"):
        overall, digits = per_digit_accuracy(cs, checkpoints.load_shipped(name))
        print(f"{name:<12} {overall:6.1%}  " + "  ".join(f"{a:4.0%}" for a in digits))


if __name__ == "__main__":
    main()
