"""The drawing pad in a real browser: JupyterLab, the students' Voila app, and a finger on a touch screen.

Debian's Chromium, driven by Playwright, talks to servers these tests start on 127.0.0.1 (a free
port, a token) and stop afterwards; they serve a temporary copy of notebooks/. A failing test
saves a screenshot to test-artifacts/ and names it in its message.
"""

from __future__ import annotations

import pytest
from browser_support import (
    NOTEBOOK,
    app_in_chromium,
    assert_no_code,
    canvas_ink,
    clear,
    copy_notebooks,
    message,
    mouse_draw,
    notebook_in_lab,
    screenshot,
    screenshot_on_failure,
    touch_draw,
    wait_for_message,
    wait_for_read_digit,
    wait_for_reading,
    wait_until_pad_is_painted,
)
from pad_support import strokes_of
from PIL import Image

from tools.drawn_digits import DIGITS


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A throwaway copy of notebooks/: the browser autosaves into what it serves."""
    return copy_notebooks(tmp_path_factory.mktemp("served") / "notebooks")


def upload(page, path) -> None:
    """Pick a file with the pad's Upload button (its file input is not in the page: catch the chooser)."""
    with page.expect_file_chooser() as chooser:
        page.locator(".mnist-pad button", has_text="Upload").click()
    chooser.value.set_files(str(path))


def paper_picture(digit: int, path) -> None:
    """Save a drawn digit as dark ink on light paper: a stand-in for a photo of handwriting."""
    Image.fromarray(240 - (strokes_of(digit).rasterize() // 255) * 210).save(path)


# ---- JupyterLab ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_page(served, playwright, tmp_path_factory):
    """Notebook 04 opened in JupyterLab with every cell run."""
    with notebook_in_lab(playwright, served, NOTEBOOK, tmp_path_factory.mktemp("lab"), "lab-run-all") as page:
        yield page


def test_lab_reads_mouse_drawn_digits_and_clear_empties_the_pad(lab_page):
    page = lab_page
    with screenshot_on_failure(page, "lab-draw"):
        for digit in (0, 1, 7):
            clear(page)
            mouse_draw(page, DIGITS[digit])
            wait_for_read_digit(page, digit)
            assert canvas_ink(page)["ink"] > 2000, "the strokes do not show on the canvas"
            if digit == 7:
                screenshot(page, "lab-pad-reads-7")
        clear(page)
        ink = canvas_ink(page)
        assert ink["ink"] == 0 and ink["opaque"] == ink["total"], f"the cleared pad is not plain black: {ink}"
        assert "Draw a digit" in page.locator(".mnist-reading").inner_text()


def test_lab_reads_an_uploaded_png(lab_page, tmp_path):
    page = lab_page
    picture = tmp_path / "my_seven.png"
    paper_picture(7, picture)
    with screenshot_on_failure(page, "lab-upload"):
        clear(page)
        upload(page, picture)
        wait_for_read_digit(page, 7, strokes=0)
        assert "my_seven.png" in message(page)
        screenshot(page, "lab-upload-reads-7")


def test_lab_shows_an_error_for_a_non_image_and_the_pad_keeps_working(lab_page, tmp_path):
    page = lab_page
    notes = tmp_path / "notes.txt"
    notes.write_text("This is not a picture.\n")
    with screenshot_on_failure(page, "lab-bad-upload"):
        clear(page)
        upload(page, notes)
        assert "notes.txt" in wait_for_message(page, "error")
        screenshot(page, "lab-bad-upload")
        mouse_draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        assert page.locator('.mnist-message [data-kind="error"]').count() == 0


# ---- the students' app (Voila) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_page(served, playwright, tmp_path_factory):
    """The app served as `make app` serves it, open in a browser that has a mouse and a touch screen."""
    scratch = tmp_path_factory.mktemp("voila")
    with app_in_chromium(playwright, served / NOTEBOOK, scratch, "voila-open", has_touch=True) as page:
        yield page


def test_the_app_shows_the_pad_without_code_and_reads_a_drawing(app_page):
    with screenshot_on_failure(app_page, "voila-draw"):
        assert_no_code(app_page, "DrawingPad()", "import mnistlib")
        mouse_draw(app_page, DIGITS[7])
        wait_for_read_digit(app_page, 7)
        screenshot(app_page, "voila-reads-7")


def test_the_app_still_works_after_a_reload(app_page):
    page = app_page
    with screenshot_on_failure(page, "voila-reload"):
        page.reload()
        # A new page gets a new kernel, whose canvas commands were sent before the page could take
        # them: the pad must be repainted for it and must take strokes (ipycanvas#322, voila#1447).
        wait_until_pad_is_painted(page)
        wait_for_reading(page, "blank")
        mouse_draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        assert canvas_ink(page)["ink"] > 2000, "after the reload the strokes do not show on the canvas"
        assert not page.js_errors, f"errors in the page: {page.js_errors}"


def test_a_finger_draws_on_the_app(app_page):
    page = app_page
    with screenshot_on_failure(page, "touch"):
        clear(page)
        touch_draw(page, page.context.new_cdp_session(page), DIGITS[0])
        wait_for_read_digit(page, 0)
        assert canvas_ink(page)["ink"] > 2000, "the finger's stroke does not show on the canvas"
        screenshot(page, "touch-reads-0")
