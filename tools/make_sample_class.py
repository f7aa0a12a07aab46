"""Make the sample class store shipped with the project: 300 digits drawn by a script, not by children.

Usage: python -m tools.make_sample_class [--out samples/sample_class.sqlite] [--seed 0] [--look DIR]

Ten imaginary students each draw every digit three times on the pad's 280x280 canvas, in the order
collect mode asks for them (the ten digits shuffled, three rounds). Each student is one of the
``STUDENTS`` below: a way of writing some digits (a 1 with a long rising flag, with or without a base;
a 7 with a bar; an open 4; a 9 with a straight stem; an 8 of two loops; a flat-topped 3) and a hand
(slant, size, width, the page turned, a steady or a shaky hand). Six of them write their 1s the
continental European way, with a long flag, which MNIST's American writers hardly ever did: the shipped
CNN reads most of those without a base as 7s, and almost everything else right. Their flags rise
clearly: those without a base lean only a little, and the student who turned the page turned it
anticlockwise, which steepens the flag (turned clockwise, a long flag flattens until the 1 is an unbarred
7 to any reader). One writes small, so the pad's pen comes out thick once the drawing is fitted into
20 x 20 pixels. A 9's loop is closed even by a sloppy hand. A person reads every drawing as its label (``--look DIR`` saves each student's drawings as one picture, to check that by eye). The
strokes are rasterised by the pad's own code and saved with ``mnistlib.ClassStore.add``, so the records
are exactly what the pad would save, together with the shipped CNN's reading at save time. The store's
metadata table says how it was made. The same seed gives the same file: the seed drives every random
choice (the students' ids, their hands, each drawing's variation) and the times count from a fixed START.

At the end the script prints how well the shipped CNN and MLP read the sample, per digit and per student.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import torch

from mnistlib import checkpoints
from mnistlib.classroom.store import SAMPLE_CLASS, ClassStore
from mnistlib.classroom.strokes import BRUSH_WIDTH, PAD_SIZE, Strokes
from mnistlib.prediction import predict
from tools.drawn_digits import Stroke, arc

REPEATS = 3  # rounds of the ten digits per student
MODEL_NAME = "mnist_cnn.pt"  # the model whose reading is stored, as the pad would store it
# Data, not a date of record: a fixed lesson time, so that the same seed gives the same file.
START = datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Student:
    """One imaginary student's way of writing: the same for all of their drawings."""

    about: str  # in words, for the store's description and for --look
    # digit -> its shape (see ``template``); the digits not named are "plain"
    shapes: dict[int, str] = field(default_factory=dict)
    slant: float = 0.1  # shear: the top leans right by this times the height
    height: float = 0.65  # of the pad's side
    aspect: float = 0.75  # width of a digit's box / its height
    tilt: float = 0.0  # degrees, clockwise (negative: anticlockwise): the whole digit turned
    wobble: float = 2.0  # px: a steady or a shaky hand
    sloppy: float = 0.0  # 0: neat; 1: strokes stop up to 10 % short of their ends or run 10 % past them


CONTINENTAL = {1: "long_flag", 7: "bar"}  # a 1 with a long rising flag, a 7 with a bar: much of Europe
STUDENTS = [
    Student("continental 1s and 7s, wide", {**CONTINENTAL, 4: "open"}, slant=0.1, aspect=1.0),
    Student("continental 1s and 7s, slanted", {**CONTINENTAL}, slant=0.15, aspect=0.9),
    Student("continental 1s with a base, slanted", {1: "long_flag_base", 7: "bar"}, slant=0.45, aspect=0.9),
    Student("continental 1s and 7s, the page turned", {**CONTINENTAL, 9: "straight"}, tilt=-12, aspect=0.95),
    Student(
        "continental 1s, writes small: a thick pen once fitted",
        {1: "long_flag", 9: "straight"},
        height=0.3,
        slant=0.1,
        aspect=1.0,
    ),
    Student(
        "continental 1s with a base, hooked 7s, leaning left",
        {1: "long_flag_base", 7: "hook_bar", 4: "open"},
        slant=-0.1,
        aspect=0.9,
    ),
    Student("neat, as in MNIST", {}, slant=0.1),
    Student("very narrow and slanted", {2: "curly"}, slant=0.35, aspect=0.42),
    Student("shaky and sloppy", {1: "flag", 6: "small_loop", 9: "curved"}, height=0.45, wobble=5, sloppy=1.0),
    Student(
        "tall, a hooked 7, a flat-topped 3, a two-loop 8",
        {7: "hook", 3: "flat_top", 1: "flag", 8: "snowman"},
        height=0.85,
        aspect=0.6,
    ),
]
DESCRIPTION = (
    "Synthetic sample class store: made by drawing strokes with tools/make_sample_class.py, not by children. "
    f"{len(STUDENTS)} imaginary students x 10 digits x {REPEATS} drawings, each with a hand of their own."
)


def template(digit: int, shape: str = "plain") -> list[Stroke]:
    """Return the strokes of ``digit`` drawn in ``shape`` in the unit box (x right, y down, both in [0, 1])."""
    if digit == 0:
        return [arc(0.5, 0.5, 0.36, 0.48, -100, 265)]
    if digit == 1:
        flag = {"flag": [(0.34, 0.2)], "flag_base": [(0.34, 0.2)]}
        flag |= {"long_flag": [(0.12, 0.34)], "long_flag_base": [(0.12, 0.34)]}
        stem = [*flag.get(shape, []), (0.56, 0.02), (0.54, 0.98)]
        return [stem, [(0.26, 0.98), (0.84, 0.98)]] if shape.endswith("base") else [stem]
    if digit == 2:
        top = arc(0.5, 0.3, 0.32, 0.28, 195, 380)
        if shape == "curly":  # a loop where the diagonal meets the base
            return [top + [(0.2, 0.9)] + arc(0.27, 0.86, 0.1, 0.1, 180, 20) + [(0.9, 0.96)]]
        return [top + [(0.14, 0.97), (0.9, 0.97)]]
    if digit == 3:
        if shape == "flat_top":
            return [[(0.15, 0.03), (0.82, 0.03), (0.45, 0.42)] + arc(0.48, 0.72, 0.36, 0.26, -80, 160)]
        return [arc(0.48, 0.27, 0.3, 0.24, 200, 450) + arc(0.48, 0.74, 0.36, 0.24, -90, 160)[1:]]
    if digit == 4:
        if shape == "open":  # the two strokes never meet at the top
            return [[(0.2, 0.02), (0.12, 0.62), (0.9, 0.62)], [(0.7, 0.04), (0.7, 0.98)]]
        return [[(0.64, 0.02), (0.1, 0.66), (0.92, 0.66)], [(0.68, 0.3), (0.68, 0.98)]]
    if digit == 5:
        return [
            [(0.28, 0.03), (0.24, 0.45)] + arc(0.5, 0.69, 0.34, 0.28, -140, 150),
            [(0.28, 0.03), (0.84, 0.03)],
        ]
    if digit == 6:
        loop = 0.17 if shape == "small_loop" else 0.25
        return [
            arc(0.78, 0.62, 0.54, 0.6, 262, 180)[:-1] + arc(0.28 + loop, 0.97 - loop, loop, loop, 180, -160)
        ]
    if digit == 7:
        top = [(0.1, 0.03), (0.9, 0.03), (0.42, 0.98)]
        if shape in ("hook", "hook_bar"):  # a little downward tick at the start of the top
            top = [(0.1, 0.17), *top]
        return [top, [(0.3, 0.52), (0.82, 0.52)]] if shape.endswith("bar") else [top]
    if digit == 8:
        if shape == "snowman":  # two loops drawn one after the other
            return [arc(0.5, 0.25, 0.24, 0.23, 90, 450), arc(0.5, 0.73, 0.32, 0.25, -90, 270)]
        t = np.linspace(0.15, 2 * math.pi + 0.35, 44)
        y = 0.5 - 0.47 * np.cos(t)
        x = 0.5 + np.where(y < 0.5, 0.27, 0.34) * np.sin(2 * t)
        return [list(zip(x.tolist(), y.tolist(), strict=True))]
    if digit == 9:
        loop = arc(0.45, 0.28, 0.28, 0.26, 0, -360)
        if shape == "straight":  # the loop, then a straight stem down its right side
            return [loop, [(0.73, 0.06), (0.73, 0.98)]]
        if shape == "curved":  # the loop begins past its end, so that a sloppy start still closes it
            return [arc(0.45, 0.28, 0.28, 0.26, 60, 0)[:-1] + loop + [(0.7, 0.8), (0.62, 0.93), (0.45, 0.98)]]
        return [loop + [(0.68, 0.98)]]
    raise ValueError(f"no template for {digit!r}")


def student_style(rng: np.random.Generator, student: Student = STUDENTS[-3]) -> dict:
    """Return one student's hand: their ``Student`` with a little of their own (place on the pad, exact sizes)."""
    return {
        "shapes": student.shapes,
        "slant": student.slant + rng.normal(0, 0.04),
        "height": student.height * rng.uniform(0.95, 1.05),
        "aspect": student.aspect * rng.uniform(0.95, 1.05),
        "tilt": student.tilt + rng.normal(0, 2),
        "wobble": student.wobble,
        "sloppy": student.sloppy,
        "place": rng.normal(0, 12, size=2),  # px from the centre
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
    height = PAD_SIZE * style["height"] * rng.uniform(0.92, 1.08)
    width = height * style["aspect"] * rng.uniform(0.9, 1.1)
    slant = style["slant"] + rng.normal(0, 0.04)
    angle = math.radians(style["tilt"] + rng.normal(0, 3))
    cx, cy = PAD_SIZE / 2 + style["place"] + rng.normal(0, 8, size=2)
    strokes = []
    for unit in template(digit, style["shapes"].get(digit, "plain")):
        u = np.array(unit, dtype=np.float64)
        # A sloppy hand stops short of or runs past each stroke's ends (a 0 left open, a 4 not joined).
        u = _trim(u, *(style["sloppy"] * rng.uniform(-0.1, 0.1, size=2)))
        x = (u[:, 0] - 0.5) * width + slant * (0.5 - u[:, 1]) * height
        y = (u[:, 1] - 0.5) * height
        xy = np.stack(
            [x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)], 1
        )
        xy = resample(xy + (cx, cy), spacing=8.0)
        # A hand is never a ruler: a slow sideways drift along the stroke, a few sines of random phase.
        s = np.linspace(0, 1, len(xy))[:, None]
        for k in (1, 2, 3):
            xy += style["wobble"] / k * np.sin(2 * math.pi * k * s + rng.uniform(0, 2 * math.pi, size=2))
        xy = np.clip(np.round(xy), 0, PAD_SIZE - 1)
        strokes.append([(float(px), float(py)) for px, py in xy])
    return strokes


def _trim(points: np.ndarray, start: float, end: float) -> np.ndarray:
    """Cut (positive) or extend (negative) a polyline at each end by a fraction of its length."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0], np.cumsum(seg)]) / max(seg.sum(), 1e-9)
    lo, hi = start, 1 - end
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
    for student in STUDENTS:
        style = student_style(rng, student)
        student_id = f"anon-{rng.integers(0, 2**32):08x}"
        for _ in range(REPEATS):
            for digit in rng.permutation(10).tolist():  # collect mode asks for the ten digits shuffled
                strokes = draw(digit, style, rng)
                reading = predict(model, _raster(strokes))
                when += timedelta(seconds=float(rng.uniform(4, 15)))
                record_uuid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
                cs.add(
                    strokes,
                    digit,
                    student_id,
                    prediction=reading,
                    model_name=MODEL_NAME,
                    brush=BRUSH_WIDTH,
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


def _raster(strokes: list[Stroke]) -> np.ndarray:
    """Rasterise strokes exactly as the pad (and ClassStore.add) does, with the pad's pen."""
    canvas = Strokes(brush=BRUSH_WIDTH)
    canvas.strokes = strokes
    return canvas.rasterize()


def readings(cs: ClassStore, model: torch.nn.Module) -> np.ndarray:
    """Return ``model``'s reading of every drawing of a class store, in record order."""
    data = cs.images()
    with torch.inference_mode():
        x = torch.from_numpy(data.images).float().div(255).unsqueeze(1)
        return model.eval()(x).argmax(1).numpy()


def look(cs: ClassStore, folder: Path) -> None:
    """Save each student's drawings as one picture in ``folder``, to check that a person reads every label."""
    from mnistlib.classroom.gallery import show_class_drawings

    folder.mkdir(parents=True, exist_ok=True)
    data = cs.images()
    for k, (student, about) in enumerate(zip(dict.fromkeys(data.students), (s.about for s in STUDENTS))):
        mine = cs.images(student=student)
        order = np.lexsort((mine.ids, mine.labels))  # by digit, then in the order drawn
        mine = type(mine)(*(part[order] for part in mine))
        figure = show_class_drawings(mine, ncols=10, title=f"{student}: {about}")
        figure.savefig(folder / f"student_{k}.png", dpi=100)


def main() -> None:
    """Make the sample and print the shipped models' accuracy on it, per digit and per student."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLE_CLASS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--look", type=Path, help="save each student's drawings as a picture in this folder")
    args = parser.parse_args()
    out = make(args.out, args.seed)
    cs = ClassStore(out, read_only=True)
    data = cs.images()
    print(f"{out}: {len(cs)} drawings, {out.stat().st_size / 1024:.0f} KB")
    print("model    all    " + "  ".join(f"{d:>4}" for d in range(10)))
    for name in ("cnn", "mlp"):
        right = readings(cs, checkpoints.load_shipped(name)) == data.labels
        per_digit = "  ".join(f"{right[data.labels == d].mean():4.0%}" for d in range(10))
        print(f"{name:<6} {right.mean():6.1%}  {per_digit}")
        for student, about in zip(dict.fromkeys(data.students), (s.about for s in STUDENTS)):
            print(f"    {student}: {right[data.students == student].mean():4.0%}  {about}")
    if args.look:
        look(cs, args.look)


if __name__ == "__main__":
    main()
