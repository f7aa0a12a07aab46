"""The pad's plain-Python state: strokes and their rasterisation, the live-reading throttle, the previews."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from pad_support import FakeClock, dense
from PIL import Image

import mnistlib
from mnistlib.checkpoints import load_shipped
from mnistlib.classroom.strokes import PAD_SIZE, Strokes, Throttle, preprocessing_steps, upload_preview
from tools.drawn_digits import DIGITS

# ---- Strokes ---------------------------------------------------------------------------------------


def test_strokes_record_points_and_skip_moves_too_small_to_see():
    s = Strokes(min_step=2.0)
    s.start(10, 10)
    assert s.add(11, 10) is None  # 1 px: nothing visible to add
    assert s.add(20, 10) == (10.0, 10.0)  # returns the previous point: the segment to paint
    assert s.add(20, 30) == (20.0, 10.0)
    assert s.end() is True and s.end() is False
    assert s.strokes == [[(10.0, 10.0), (20.0, 10.0), (20.0, 30.0)]]


def test_moves_without_a_pressed_button_draw_nothing():
    s = Strokes()
    assert s.add(50, 50) is None
    assert s.is_empty


def test_starting_a_stroke_closes_the_open_one():
    s = Strokes()
    s.start(1, 1)
    s.add(30, 30)
    s.start(100, 100)
    assert len(s) == 2 and s.drawing


def test_undo_removes_strokes_last_first_and_clear_removes_all():
    s = Strokes()
    s.add_stroke([(0, 0), (50, 0)])
    s.add_stroke([(0, 50), (50, 50)])
    assert s.undo() and s.strokes == [[(0.0, 0.0), (50.0, 0.0)]]
    assert s.undo() and s.is_empty
    assert s.undo() is False
    s.add_stroke([(5, 5)])
    s.clear()
    assert s.is_empty and not s.drawing


def test_a_stroke_needs_a_point():
    with pytest.raises(ValueError, match="at least one"):
        Strokes().add_stroke([])


def test_blank_strokes_rasterise_to_black():
    image = Strokes().rasterize()
    assert image.shape == (PAD_SIZE, PAD_SIZE) and image.dtype == np.uint8
    assert image.max() == 0


def test_a_dot_is_a_disc_the_width_of_the_brush():
    s = Strokes(brush=18)
    s.add_stroke([(100, 100)])
    ink = s.rasterize() == 255
    rows, cols = np.nonzero(ink)
    assert 17 <= cols.max() - cols.min() + 1 <= 20 and 17 <= rows.max() - rows.min() + 1 <= 20
    assert ink.sum() == pytest.approx(math.pi * 9**2, rel=0.15)


def test_a_line_has_the_brush_width_and_round_caps():
    s = Strokes(brush=18)
    s.add_stroke([(50, 100), (200, 100)])
    ink = s.rasterize() == 255
    rows, cols = np.nonzero(ink)
    assert 17 <= rows.max() - rows.min() + 1 <= 20  # the line is as thick as the brush
    # The caps reach half a brush beyond the ends.
    assert cols.min() in range(40, 43) and cols.max() in range(208, 211)
    assert not ink[91, 41] and ink[100, 41]  # the cap is round, not square


def test_rasterisation_is_a_pure_function_of_the_strokes():
    a, b = Strokes(), Strokes()
    for s in (a, b):
        for stroke in DIGITS[7]:
            s.add_stroke(stroke)
    assert np.array_equal(a.rasterize(), b.rasterize())


def _drawn_from_scratch(strokes: Strokes) -> np.ndarray:
    fresh = Strokes(strokes.width, strokes.height, strokes.brush)
    fresh.strokes = [list(stroke) for stroke in strokes.strokes]
    return fresh.rasterize()


def test_rasterising_a_growing_drawing_gives_the_same_pixels_as_drawing_it_anew():
    # rasterize() draws only the points added since its last call: every step must match a fresh
    # drawing of the same points, pixel for pixel, through new strokes, Undo and Clear.
    rng = np.random.default_rng(0)
    strokes, checked = Strokes(), 0
    for step in range(400):
        if step % 60 == 59:
            strokes.undo() if step % 120 == 59 else strokes.clear()
        elif not strokes.drawing or rng.random() < 0.05:
            strokes.start(*rng.uniform(20, 260, size=2))
        else:
            x, y = strokes.strokes[-1][-1]
            strokes.add(*np.clip((x, y) + rng.uniform(-15, 15, size=2), 0, PAD_SIZE))
        if rng.random() < 0.4:
            assert np.array_equal(strokes.rasterize(), _drawn_from_scratch(strokes)), f"step {step}"
            checked += 1
    assert checked > 100


def test_a_raster_already_returned_does_not_change_and_edited_points_are_drawn_anew():
    strokes = Strokes()
    strokes.add_stroke([(60, 60), (200, 60)])
    first = strokes.rasterize()
    strokes.add_stroke([(60, 200), (200, 200)])
    assert first[200, 130] == 0 and strokes.rasterize()[200, 130] == 255
    strokes.strokes[0][1] = (60, 140)  # points changed in place (a script): the old ink must go
    again = strokes.rasterize()
    assert again[60, 190] == 0 and np.array_equal(again, _drawn_from_scratch(strokes))


@pytest.mark.parametrize("name", ["cnn", "mlp"])
@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_the_designed_browser_strokes_are_read_as_their_digit(digit, name):
    s = Strokes()
    for stroke in DIGITS[digit]:
        s.add_stroke(dense(stroke))
    pred = mnistlib.predict(load_shipped(name), s.rasterize())
    assert pred.digit == digit, (
        f"{name} reads the designed {digit} as {pred.digit}: {pred.probabilities.round(2)}"
    )


# ---- Throttle --------------------------------------------------------------------------------------


def test_the_first_live_prediction_is_due_at_once():
    assert Throttle(0.15, clock=FakeClock()).due()


def test_after_a_fast_prediction_the_next_waits_the_interval():
    clock = FakeClock()
    throttle = Throttle(0.15, clock=clock)
    with throttle.run():
        clock.now += 0.01
    clock.now += 0.13  # 0.14 s after the start
    assert not throttle.due()
    clock.now += 0.01
    assert throttle.due()


def test_after_a_slow_prediction_the_next_waits_as_long_as_it_took():
    clock = FakeClock()
    throttle = Throttle(0.15, clock=clock)
    with throttle.run():
        clock.now += 0.4
    assert throttle.last_duration == pytest.approx(0.4)
    clock.now += 0.39
    assert not throttle.due()
    clock.now += 0.02
    assert throttle.due()


def test_no_live_prediction_while_one_is_running():
    throttle = Throttle(0.0, clock=FakeClock())
    with throttle.run():
        assert not throttle.due()
    assert throttle.due()


def test_a_failing_prediction_still_releases_the_throttle():
    throttle = Throttle(0.0, clock=FakeClock())
    with pytest.raises(RuntimeError), throttle.run():
        raise RuntimeError("boom")
    assert throttle.due()


# ---- previews --------------------------------------------------------------------------------------


def test_strokes_count_only_finished_ones_while_drawing():
    s = Strokes()
    s.add_stroke([(10, 10), (50, 50)])
    s.start(100, 100)
    assert len(s) == 2 and s.finished == 1
    s.end()
    assert s.finished == 2


def test_an_upload_preview_fits_the_picture_into_the_pad_square():
    buffer = io.BytesIO()
    Image.new("L", (100, 50), 255).save(buffer, format="PNG")  # white, twice as wide as tall
    preview = upload_preview(buffer.getvalue(), size=PAD_SIZE)
    assert preview.shape == (PAD_SIZE, PAD_SIZE) and preview.dtype == np.uint8
    assert preview[PAD_SIZE // 2].min() == 255  # the middle row is the picture, edge to edge
    assert preview[0].max() == 0  # above it, black padding


def test_preprocessing_steps_end_with_the_28x28_model_input():
    s = Strokes()
    for stroke in DIGITS[7]:
        s.add_stroke(stroke)
    steps = preprocessing_steps(s.rasterize())
    assert [name for name, _ in steps][-1] == "centred" and steps[-1][1].shape == (28, 28)
