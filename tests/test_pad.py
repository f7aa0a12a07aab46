"""The drawing pad without a browser: strokes, rasterisation, throttling and every state of the widget.

Events are sent to the canvas exactly as the browser sends them (``_handle_frontend_event``) and
uploads are stored as ipywidgets 8 stores them, so the same code paths run as in JupyterLab.
"""

from __future__ import annotations

import base64
import io
import math
import re
import struct
import zlib

import numpy as np
import pytest
import torch
from ipycanvas.canvas import COMMANDS
from pad_support import FakeClock, mouse_draw, send, strokes_of
from PIL import Image
from torch import nn

import mnistlib
from mnistlib.checkpoints import SHIPPED_MODELS
from mnistlib.classroom import pad as pad_module
from mnistlib.classroom.model_menu import model_choices
from mnistlib.classroom.pad import DrawingPad
from mnistlib.classroom.panels import bars_html, png_bytes
from mnistlib.classroom.strokes import (
    BRUSH_WIDTH,
    MAX_UPLOAD_BYTES,
    MODEL_VIEW_SIZE,
    UNSURE_BELOW,
    Strokes,
    preprocessing_steps,
)
from mnistlib.models import MLP
from tools.drawn_digits import DIGITS, dense

# ---- helpers: the browser's side of the conversation ------------------------------------------------


def img_png(html: str) -> bytes:
    """Return the PNG inside an ``<img>``'s data URI (the pad's pictures carry their text alternative)."""
    match = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert match, f"no inline PNG in {html[:120]!r}"
    return base64.b64decode(match[1])


def inked_draw(pad: DrawingPad, strokes, batch: int = 3) -> None:
    """Draw as the app page does (pad_client.js): inked in the browser, the moves sent in batches."""
    for stroke in strokes:
        points = dense(stroke)
        custom(pad, event="mnist_down", x=points[0][0], y=points[0][1])
        batches = [[list(p) for p in points[i : i + batch]] for i in range(1, len(points), batch)]
        for moves in batches[:-1]:
            custom(pad, event="mnist_moves", points=moves)
        custom(pad, event="mnist_up", points=batches[-1] if batches else [])  # the last batch, with the up


def custom(pad: DrawingPad, **content) -> None:
    """Deliver a custom message to every handler of the canvas widget, as a comm message does."""
    pad.view.canvas._handle_custom_msg(content, [])


def touch_draw(pad: DrawingPad, strokes) -> None:
    for stroke in strokes:
        points = dense(stroke)
        send(pad, "touch_start", touches=[{"x": points[0][0], "y": points[0][1]}])
        for x, y in points[1:]:
            send(pad, "touch_move", touches=[{"x": x, "y": y}])
        send(pad, "touch_end", touches=[])  # the fingers still down: none


def upload(pad: DrawingPad, name: str, content: bytes, mime: str = "image/png") -> None:
    """Deliver a file through the upload button the way ipywidgets 8 sends it from the browser."""
    pad.view.upload.set_state(
        {
            "value": [
                {
                    "name": name,
                    "type": mime,
                    "size": len(content),
                    "content": memoryview(content),
                    "last_modified": 1_700_000_000_000,
                }
            ]
        }
    )


def reading_attrs(pad: DrawingPad) -> tuple[str, str]:
    """Return (data-state, data-digit) of the displayed reading, as the browser tests read it."""
    html = pad.view.reading.value
    state = html.split('data-state="')[1].split('"')[0]
    digit = html.split('data-digit="')[1].split('"')[0]
    return state, digit


def paper_png(digit: int, fmt: str = "PNG") -> bytes:
    """Return a picture of a drawn digit as dark ink on light paper, encoded as ``fmt``."""
    ink = strokes_of(digit).rasterize() // 255  # 0 or 1
    paper = Image.fromarray(235 - ink * 200).convert("RGB")  # grey-white paper, dark ink
    buffer = io.BytesIO()
    paper.save(buffer, format=fmt)
    return buffer.getvalue()


def count_predictions(pad: DrawingPad, monkeypatch) -> tuple[FakeClock, list[bool]]:
    """Stop the pad's throttle clock and record each prediction: True for a live one, False for the final one."""
    clock = FakeClock()
    pad.throttle.clock = clock
    calls: list[bool] = []
    real_predict = pad_module.fast_predict

    def counting_predict(model, image):
        calls.append(pad.strokes.drawing)
        return real_predict(model, image)

    monkeypatch.setattr(pad_module, "fast_predict", counting_predict)
    return clock, calls


def png_header_only(width: int, height: int) -> bytes:
    """Return a PNG that claims ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class FixedProbabilities(nn.Module):
    """A stand-in model that gives the same probabilities for every image."""

    def __init__(self, probabilities: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.log(torch.tensor(probabilities)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], 10)


@pytest.fixture
def pad() -> DrawingPad:
    return DrawingPad()


# ---- the widget: states ----------------------------------------------------------------------------


def test_a_new_pad_asks_for_a_digit(pad):
    assert pad.state == "blank" and pad.prediction is None
    assert reading_attrs(pad) == ("blank", "")
    assert "Draw a digit" in pad.view.reading.value
    assert pad.view.bars.value.count('data-p="0.0000"') == 10
    assert 'data-kind="none"' in pad.view.message.value
    shown = np.asarray(Image.open(io.BytesIO(img_png(pad.view.model_view.value))))
    assert shown.shape == (28, 28) and shown.max() == 0
    assert f'width="{MODEL_VIEW_SIZE}" height="{MODEL_VIEW_SIZE}"' in pad.view.model_view.value
    assert 'alt="What the model sees' in pad.view.model_view.value
    assert pad.view.model_menu.value == "CNN (shipped)"
    assert "DrawingPad(" in repr(pad) and len(repr(pad)) < 200


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_a_mouse_drawing_is_read_and_shown(pad, digit):
    mouse_draw(pad, DIGITS[digit])
    assert pad.state == "digit" and pad.prediction.digit == digit
    assert reading_attrs(pad) == ("digit", str(digit))
    assert f'class="mnist-bar-row mnist-top" data-digit="{digit}"' in pad.view.bars.value
    assert pad.view.bars.value.count("mnist-top") == 1
    # The model view is the model's 28x28 input itself (the browser enlarges it with square pixels).
    shown = np.asarray(Image.open(io.BytesIO(img_png(pad.view.model_view.value))))
    expected = np.round(np.clip(pad.prediction.model_input, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(shown, expected)


def test_the_reading_is_the_same_as_predicting_the_kernels_raster(pad):
    mouse_draw(pad, DIGITS[7])
    direct = mnistlib.predict(pad.model, pad.strokes.rasterize())
    np.testing.assert_allclose(pad.prediction.probabilities, direct.probabilities, atol=1e-6)


def test_a_finger_drawing_is_read(pad):
    touch_draw(pad, DIGITS[1])
    assert not pad.strokes.drawing
    assert reading_attrs(pad) == ("digit", "1")
    # The last point survives touch_end([]), which names no finger.
    assert pad.strokes.strokes[0][-1] == pytest.approx(DIGITS[1][0][-1])


def test_a_stroke_that_leaves_the_pad_ends_there(pad):
    send(pad, "mouse_down", x=150, y=45)
    for y in range(50, 240, 5):
        send(pad, "mouse_move", x=150 - (y - 45) / 10, y=y)
    send(pad, "mouse_out", x=130, y=281)
    assert not pad.strokes.drawing and reading_attrs(pad) == ("digit", "1")
    points = len(pad.strokes.strokes[0])
    send(pad, "mouse_move", x=10, y=10)  # back in with the button still down: not drawing
    assert len(pad.strokes.strokes[0]) == points and len(pad.strokes) == 1


def test_live_predictions_during_a_stroke_are_throttled(pad, monkeypatch):
    clock, calls = count_predictions(pad, monkeypatch)
    points = dense(DIGITS[1][0], step=2.0)  # about 100 mouse-move events
    send(pad, "mouse_down", x=points[0][0], y=points[0][1])
    for x, y in points[1:]:
        clock.now += 0.01  # an event every 10 ms
        send(pad, "mouse_move", x=x, y=y)
        if len(calls) == 1:  # the live reading is on screen before the stroke ends, marked as live
            assert pad.state != "blank" and 'data-strokes="0" data-live="true"' in pad.view.reading.value
    live = len(calls)
    seconds = 0.01 * (len(points) - 1)
    assert len(points) > 90
    assert math.floor(seconds / 0.15) <= live <= math.ceil(seconds / 0.15) + 1
    send(pad, "mouse_up", x=points[-1][0], y=points[-1][1])
    assert calls[live:] == [False]  # exactly one more, always, at the end of the stroke
    assert 'data-strokes="1" data-live="false"' in pad.view.reading.value


def test_slow_predictions_are_spaced_by_their_own_duration(pad, monkeypatch):
    clock = FakeClock()
    pad.throttle.clock = clock
    calls = []
    real_predict = pad_module.fast_predict

    def slow_predict(model, image):
        calls.append(clock.now)
        clock.now += 0.5  # a slow machine: half a second per prediction
        return real_predict(model, image)

    monkeypatch.setattr(pad_module, "fast_predict", slow_predict)
    send(pad, "mouse_down", x=140, y=20)
    for i in range(1, 200):
        clock.now += 0.01
        send(pad, "mouse_move", x=140, y=20 + i)
    gaps = np.diff(calls)
    assert len(calls) >= 2 and gaps.min() >= 1.0 - 1e-9  # 0.5 s running + at least 0.5 s of drawing


def test_an_unsure_reading_says_so_and_names_the_runner_up():
    probabilities = [0.02, 0.02, 0.02, 0.45, 0.02, 0.35, 0.03, 0.03, 0.03, 0.03]
    pad = DrawingPad(FixedProbabilities(probabilities))
    assert pad.view.model_menu.value == "This notebook's model"
    mouse_draw(pad, DIGITS[1])
    assert pad.state == "unsure" and reading_attrs(pad) == ("unsure", "3")
    assert "Not sure: 3 (45%) or 5 (35%)?" in pad.view.reading.value
    assert 'class="mnist-bar-row mnist-top-unsure" data-digit="3"' in pad.view.bars.value


def test_a_confident_reading_is_not_marked_unsure():
    probabilities = [0.01] * 9 + [0.91]
    pad = DrawingPad(FixedProbabilities(probabilities))
    mouse_draw(pad, DIGITS[1])
    assert pad.state == "digit" and reading_attrs(pad) == ("digit", "9")
    assert UNSURE_BELOW < 0.91


def test_clear_returns_to_the_blank_state(pad):
    mouse_draw(pad, DIGITS[0])
    pad.view.clear_button.click()
    assert pad.strokes.is_empty and pad.state == "blank" and pad.prediction is None
    assert reading_attrs(pad) == ("blank", "")
    assert pad.view.bars.value == bars_html()


def test_undo_removes_the_last_stroke_and_rereads_what_is_left(pad):
    mouse_draw(pad, DIGITS[1])
    first = pad.prediction.probabilities.copy()
    mouse_draw(pad, [[(60, 140), (230, 140)]])  # a bar across the 1
    assert len(pad.strokes) == 2
    pad.view.undo_button.click()
    assert reading_attrs(pad) == ("digit", "1")
    np.testing.assert_allclose(pad.prediction.probabilities, first, atol=1e-6)
    pad.view.undo_button.click()
    assert pad.state == "blank"
    pad.view.undo_button.click()  # nothing left to undo: still fine
    assert pad.state == "blank"


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_an_uploaded_picture_is_read(pad, fmt, mime):
    upload(pad, f"seven.{fmt.lower()}", paper_png(7, fmt), mime)
    assert reading_attrs(pad) == ("digit", "7")
    assert f"seven.{fmt.lower()}" in pad.view.message.value and 'data-kind="info"' in pad.view.message.value
    assert pad.view.upload.value == ()  # reset, so that the same file can be uploaded again
    assert isinstance(pad.current_image(), bytes)


def test_drawing_after_an_upload_reads_the_drawing(pad):
    upload(pad, "seven.png", paper_png(7))
    mouse_draw(pad, DIGITS[1])
    assert isinstance(pad.current_image(), np.ndarray)
    assert reading_attrs(pad) == ("digit", "1")
    assert 'data-kind="none"' in pad.view.message.value


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.txt", b"This is not a picture of a digit.\n"),
        ("empty.png", b""),
        ("truncated.png", paper_png(7)[:200]),
        ("bomb.png", png_header_only(30_000, 30_000)),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD_BYTES)),
        ("white.png", png_bytes(np.full((50, 50), 255, np.uint8))),
    ],
)
def test_a_bad_upload_shows_an_error_and_the_pad_keeps_working(pad, name, content):
    upload(pad, name, content)
    assert 'data-kind="error"' in pad.view.message.value and name in pad.view.message.value
    assert pad.state == "blank" and pad.view.upload.value == ()
    mouse_draw(pad, DIGITS[1])
    assert reading_attrs(pad) == ("digit", "1")
    assert 'data-kind="none"' in pad.view.message.value  # drawing clears the old error


def test_a_bad_upload_leaves_the_current_drawing_alone(pad):
    mouse_draw(pad, DIGITS[7])
    upload(pad, "notes.txt", b"hello")
    assert reading_attrs(pad) == ("digit", "7") and len(pad.strokes) == 1


def test_switching_models_rereads_the_drawing(pad):
    mouse_draw(pad, DIGITS[7])
    cnn, cnn_probabilities = pad.model, pad.prediction.probabilities.copy()
    pad.view.model_menu.value = "MLP (shipped)"
    assert isinstance(pad.model, MLP)
    assert reading_attrs(pad) == ("digit", "7")
    assert not np.allclose(pad.prediction.probabilities, cnn_probabilities)  # another model's reading
    assert "MLP (shipped)" in pad.view.message.value
    pad.view.model_menu.value = "CNN (shipped)"
    assert pad.model is cnn  # loaded once, kept
    np.testing.assert_allclose(pad.prediction.probabilities, cnn_probabilities, atol=1e-6)


def test_a_broken_student_checkpoint_keeps_the_working_model(tmp_path):
    broken = tmp_path / "student_broken.pt"
    broken.write_bytes(b"not a checkpoint")
    pad = DrawingPad(choices={"CNN (shipped)": SHIPPED_MODELS["cnn"], "Yours: broken": broken})
    pad.view.model_menu.value = "Yours: broken"
    assert 'data-kind="error"' in pad.view.message.value and "student_broken.pt" in pad.view.message.value
    assert pad.view.model_menu.value == "CNN (shipped)"
    mouse_draw(pad, DIGITS[0])
    assert reading_attrs(pad) == ("digit", "0")


def test_the_model_menu_offers_shipped_and_student_models(tmp_path):
    (tmp_path / "student_lenet.pt").write_bytes(b"")
    (tmp_path / "other.pt").write_bytes(b"")
    choices = model_choices(tmp_path)
    assert choices["CNN (shipped)"] == SHIPPED_MODELS["cnn"]
    assert choices["MLP (shipped)"] == SHIPPED_MODELS["mlp"]
    assert choices["Plain CNN (shipped)"] == SHIPPED_MODELS["plain_cnn"]
    assert choices["Yours: lenet"] == tmp_path / "student_lenet.pt"
    assert len(choices) == len(SHIPPED_MODELS) + 1 == 4  # other.pt is not a student's model


def test_the_steps_panel_shows_the_preprocessing_of_the_drawing(pad):
    assert pad.view.steps.layout.display == "none"
    pad.view.steps_toggle.value = True
    assert pad.view.steps.layout.display == "flex" and "Draw a digit" in pad.view.steps.children[0].value
    mouse_draw(pad, DIGITS[7])
    expected = preprocessing_steps(pad.strokes.rasterize())
    panel = pad.view.steps.children[0]
    assert len(panel.children) == len(expected) >= 3
    for cell, (name, _) in zip(panel.children, expected):
        image, caption = cell.children
        assert img_png(image.value)[:8] == b"\x89PNG\r\n\x1a\n" and name in caption.value
        assert f'alt="Step {name}: ' in image.value
    pad.view.steps_toggle.value = False
    assert pad.view.steps.layout.display == "none"


def test_a_new_browser_view_gets_the_strokes_repainted(pad, monkeypatch):
    mouse_draw(pad, DIGITS[7] + [[(200, 200)]])  # one line and one dot
    manager = pad.view.canvas._canvas_manager
    manager._current_canvas = pad.view.canvas  # what the kernel believes after an earlier view
    sent = []
    monkeypatch.setattr(manager, "_send_custom", lambda command, buffers=[]: sent.append(command))
    send(pad, "client_ready")
    assert len(sent) == 1  # one batch
    names = {v: k for k, v in COMMANDS.items()}
    batch = [names[command[0]] for command in sent[0]]
    assert batch[0] == "switchCanvas"  # the new view is told which canvas to draw on
    assert batch.count("strokeLines") == 1 and batch.count("fillCircle") == 1
    assert batch.index("fillRect") < batch.index("strokeLines")  # black background first


def drawing_commands(pad: DrawingPad, monkeypatch) -> list:
    """Return the list that collects every batch of drawing commands the kernel sends from now on."""
    sent: list = []
    manager = pad.view.canvas._canvas_manager
    monkeypatch.setattr(manager, "_send_custom", lambda command, buffers=[]: sent.append(command))
    return sent


def test_strokes_inked_by_the_page_are_read_and_not_drawn_back(pad, monkeypatch):
    sent = drawing_commands(pad, monkeypatch)
    inked_draw(pad, DIGITS[7])
    assert sent == [], "the page inks its strokes itself: the kernel must not draw them again"
    assert reading_attrs(pad) == ("digit", "7") and 'data-live="false"' in pad.view.reading.value
    by_mouse = Strokes()
    for stroke in DIGITS[7]:
        by_mouse.add_stroke(dense(stroke))
    assert pad.strokes.strokes == by_mouse.strokes, "batches must give the kernel every point a mouse gives"


def test_inked_batches_are_read_live_at_most_as_often_as_the_throttle_allows(pad, monkeypatch):
    clock, calls = count_predictions(pad, monkeypatch)
    custom(pad, event="mnist_down", x=150, y=45)
    for i in range(20):  # a batch of three moves every 50 ms, for 1 s
        clock.now += 0.05
        custom(pad, event="mnist_moves", points=[[150 - i / 2, 50 + 9 * i + 3 * k] for k in range(3)])
    live = len(calls)
    # One every 0.15 s, rounded up to the next batch: every 0.15 to 0.2 s.
    assert 5 <= live <= 7 and all(calls), f"{live} live readings in 1 s"
    custom(pad, event="mnist_up")
    assert calls[live:] == [False]  # exactly one more, always, at the end of the stroke
    assert 'data-strokes="1" data-live="false"' in pad.view.reading.value


def test_warming_up_reads_once_and_leaves_the_pad_as_new(pad, monkeypatch):
    calls = []
    real_predict = pad_module.fast_predict
    monkeypatch.setattr(
        pad_module, "fast_predict", lambda model, image: calls.append(1) or real_predict(model, image)
    )
    new = DrawingPad(pad.model)
    pad.warm_up()
    assert calls, "warm_up() read nothing"
    assert pad.strokes.is_empty and pad.prediction is None and pad.state == "blank"
    for part in ("reading", "bars", "message", "model_view"):
        assert getattr(pad.view, part).value == getattr(new.view, part).value, part
    inked_draw(pad, DIGITS[7])  # and it reads as before
    assert reading_attrs(pad) == ("digit", "7")


def test_the_points_sent_with_the_pen_up_end_the_stroke(pad):
    points = [[150, 45 + 10 * i] for i in range(19)]
    custom(pad, event="mnist_down", x=150, y=40)
    custom(pad, event="mnist_moves", points=points[:10])
    custom(pad, event="mnist_up", points=points[10:])
    assert pad.strokes.strokes == [[(150.0, 40.0)] + [(float(x), float(y)) for x, y in points]]
    assert 'data-strokes="1" data-live="false"' in pad.view.reading.value
    custom(pad, event="mnist_up", points=[[10, 10]])  # a second pen-up, with no stroke open: ignored
    assert len(pad.strokes.strokes[0]) == 20 and pad.strokes.finished == 1


def test_an_inked_stroke_over_an_upload_repaints_the_pad(pad, monkeypatch):
    upload(pad, "seven.png", paper_png(7))
    sent = drawing_commands(pad, monkeypatch)
    inked_draw(pad, DIGITS[1])
    # At the pen's down the upload goes (a repaint), and again at its up: ink the browser drew
    # before the first repaint reached it was wiped by it.
    assert len(sent) == 2
    assert reading_attrs(pad) == ("digit", "1") and isinstance(pad.current_image(), np.ndarray)


def test_reading_leaves_torch_threads_as_they_were(pad):
    before = torch.get_num_threads()
    mouse_draw(pad, DIGITS[7])
    upload(pad, "notes.txt", b"not an image")  # a failing read restores them too
    assert torch.get_num_threads() == before


def test_brush_default_matches_the_pad():
    assert DrawingPad().strokes.brush == BRUSH_WIDTH
