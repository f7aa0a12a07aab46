"""The pad's HTML panels and messages: what they say and the hooks the browser tests read."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mnistlib.classroom import panels
from mnistlib.classroom.strokes import UploadTooLargeError
from mnistlib.preprocess import InvalidImageError

# ---- the HTML renderers ----------------------------------------------------------------------------


def test_the_reading_html_carries_state_and_digit_for_the_browser_tests():
    p = np.eye(10)[4] * 0.9 + 0.01
    assert 'data-state="digit" data-digit="4"' in panels.reading_html("digit", 4, p)
    assert 'data-state="blank" data-digit=""' in panels.reading_html("blank")
    unsure = panels.reading_html("unsure", 4, [0.05, 0.05, 0.05, 0.05, 0.4, 0.05, 0.05, 0.05, 0.05, 0.2])
    assert "Not sure: 4 (40%) or 9 (20%)?" in unsure


def test_the_bars_show_every_digit_and_highlight_only_the_top():
    p = np.full(10, 0.02)
    p[8] = 0.82
    html = panels.bars_html(p)
    assert html.count("mnist-bar-row") == 10 and html.count("mnist-top") == 1
    assert 'data-digit="8" data-p="0.8200"' in html and "width:82.0%" in html


def test_messages_are_escaped():
    assert "<script>" not in panels.message_html("bad <script>.png", "error")
    assert 'data-kind="error"' in panels.message_html("x", "error")


def test_the_reading_state_follows_the_top_probability():
    assert panels.reading_state(None) == "blank"
    assert panels.reading_state([0.9] + [0.01] * 9, unsure_below=0.6) == "digit"
    assert panels.reading_state([0.5, 0.5] + [0.0] * 8, unsure_below=0.6) == "unsure"


def test_png_bytes_enlarge_with_square_pixels():
    image = np.array([[0, 1.0], [1.0, 0]], dtype=np.float32)
    decoded = np.asarray(Image.open(io.BytesIO(panels.png_bytes(image, size=10))))
    assert decoded.shape == (10, 10) and set(np.unique(decoded)) == {0, 255}
    assert decoded[:5, :5].max() == 0 and decoded[:5, 5:].min() == 255


def test_upload_errors_name_the_students_file():
    assert panels.upload_error_text("big.png", UploadTooLargeError(12 * 2**20)).startswith(
        "big.png is 12.0 MB; upload"
    )
    invalid = InvalidImageError("The bytes given are not an image.")
    assert panels.upload_error_text("a.txt", invalid) == "Could not read a.txt. a.txt are not an image."
    assert "(OSError: disk)" in panels.upload_error_text("b.png", OSError("disk"))


def test_step_captions_say_what_the_step_does_and_its_size():
    caption = panels.step_caption_html("fitted", (20, 14))
    assert "<b>fitted</b>: fitted into 20 x 20<br>14 x 20 px" in caption
