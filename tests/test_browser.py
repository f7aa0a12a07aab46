"""The drawing pad in a real browser: JupyterLab, the students' Voila app, and a finger on a touch screen.

Debian's Chromium, driven by Playwright, talks to servers these tests start on 127.0.0.1 (a free
port, a token) and stop afterwards; they serve a temporary copy of notebooks/. A failing test
saves a screenshot to test-artifacts/ and names it in its message.
"""

from __future__ import annotations

import pytest
from browser_support import (
    DIGIT_STROKES,
    NOTEBOOK,
    canvas_ink,
    copy_notebooks,
    lab_server,
    launch_chromium,
    message,
    mouse_draw,
    pad_canvas,
    screenshot,
    screenshot_on_failure,
    touch_draw,
    voila_server,
    wait_for_read_digit,
    wait_for_reading,
)
from PIL import Image
from playwright.sync_api import sync_playwright

from mnistlib.classroom.strokes import Strokes

RUN_ALL = """async () => {
    const app = window.jupyterapp;
    const timeout = new Promise(
        (_, reject) => setTimeout(() => reject(new Error("Run All took over 3 minutes")), 180000));
    return await Promise.race([app.commands.execute("notebook:run-all-cells"), timeout]);
}"""

CELL_ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const errors = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== "code") continue;
        for (const out of cell.outputs.toJSON()) {
            if (out.output_type === "error") errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
        }
    }
    return errors;
}"""


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A throwaway copy of notebooks/: the browser autosaves into what it serves."""
    return copy_notebooks(tmp_path_factory.mktemp("served") / "notebooks")


def wait_until_pad_is_painted(page) -> None:
    """Wait until the pad's canvas is painted black all over (the kernel repainted it for this view)."""
    pad_canvas(page)
    try:
        page.wait_for_function(
            """() => { const c = document.querySelector('.mnist-pad canvas');
                       const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                       for (let i = 3; i < d.length; i += 400) if (d[i] < 255) return false;
                       return true; }""",
            timeout=30_000,
        )
    except Exception as exc:
        raise AssertionError(
            f"the pad was never painted for this page (no repaint on client_ready?): {canvas_ink(page)}"
        ) from exc


def clear(page) -> None:
    page.locator(".mnist-pad button", has_text="Clear").click()
    wait_for_reading(page, "blank")


def upload(page, path) -> None:
    """Pick a file with the pad's Upload button (its file input is not in the page: catch the chooser)."""
    with page.expect_file_chooser() as chooser:
        page.locator(".mnist-pad button", has_text="Upload").click()
    chooser.value.set_files(str(path))


def paper_picture(digit: int, path) -> None:
    """Save a designed digit as dark ink on light paper: a stand-in for a photo of handwriting."""
    strokes = Strokes()
    for stroke in DIGIT_STROKES[digit]:
        strokes.add_stroke(stroke)
    Image.fromarray(240 - (strokes.rasterize() // 255) * 210).save(path)


# ---- JupyterLab ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_page(served, playwright, tmp_path_factory):
    """Notebook 04 opened in JupyterLab with every cell run."""
    with lab_server(served, tmp_path_factory.mktemp("lab-home")) as server:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-lab"))
        page = context.pages[0] if context.pages else context.new_page()
        try:
            with screenshot_on_failure(page, "lab-run-all"):
                page.goto(f"{server.url}/lab/tree/{NOTEBOOK}?token={server.token}")
                # The status bar says Idle only once a kernel exists; a Run All before that is lost.
                page.wait_for_selector("#jp-main-statusbar >> text=/\\| Idle/", timeout=90_000)
                ok = page.evaluate(RUN_ALL)
                errors = page.evaluate(CELL_ERRORS)
                assert ok and not errors, f"Run All failed: {errors}\n{server.log_tail(1500)}"
                wait_until_pad_is_painted(page)
            yield page
        finally:
            context.close()


def test_lab_reads_mouse_drawn_digits_and_clear_empties_the_pad(lab_page):
    page = lab_page
    with screenshot_on_failure(page, "lab-draw"):
        for digit in (0, 1, 7):
            clear(page)
            mouse_draw(page, DIGIT_STROKES[digit])
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
        page.wait_for_selector('.mnist-message [data-kind="error"]', timeout=20_000)
        assert "notes.txt" in message(page)
        screenshot(page, "lab-bad-upload")
        mouse_draw(page, DIGIT_STROKES[1])
        wait_for_read_digit(page, 1)
        assert page.locator('.mnist-message [data-kind="error"]').count() == 0


# ---- the students' app (Voila) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_page(served, playwright, tmp_path_factory):
    """The app served as `make app` serves it, open in a browser that has a mouse and a touch screen."""
    with voila_server(served / NOTEBOOK, tmp_path_factory.mktemp("voila-home")) as server:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-voila"), has_touch=True)
        page = context.pages[0] if context.pages else context.new_page()
        page.app_url = f"{server.url}/?token={server.token}"
        page.js_errors = []  # uncaught exceptions in the page, e.g. ipycanvas drawing on no canvas
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        try:
            with screenshot_on_failure(page, "voila-open"):
                page.goto(page.app_url)
                wait_until_pad_is_painted(page)
            yield page
        finally:
            context.close()


def test_the_app_shows_the_pad_without_code_and_reads_a_drawing(app_page):
    page = app_page
    with screenshot_on_failure(page, "voila-draw"):
        text = page.locator("body").inner_text()
        assert "DrawingPad()" not in text and "import mnistlib" not in text, "the app shows code"
        mouse_draw(page, DIGIT_STROKES[7])
        wait_for_read_digit(page, 7)
        screenshot(page, "voila-reads-7")


def test_the_app_still_works_after_a_reload(app_page):
    page = app_page
    with screenshot_on_failure(page, "voila-reload"):
        page.reload()
        # A new page gets a new kernel, whose canvas commands were sent before the page could take
        # them: the pad must be repainted for it and must take strokes (ipycanvas#322, voila#1447).
        wait_until_pad_is_painted(page)
        wait_for_reading(page, "blank")
        mouse_draw(page, DIGIT_STROKES[1])
        wait_for_read_digit(page, 1)
        assert canvas_ink(page)["ink"] > 2000, "after the reload the strokes do not show on the canvas"
        assert not page.js_errors, f"errors in the page: {page.js_errors}"


def test_a_finger_draws_on_the_app(app_page):
    page = app_page
    with screenshot_on_failure(page, "touch"):
        clear(page)
        touch_draw(page, page.context.new_cdp_session(page), DIGIT_STROKES[0])
        wait_for_read_digit(page, 0)
        assert canvas_ink(page)["ink"] > 2000, "the finger's stroke does not show on the canvas"
        screenshot(page, "touch-reads-0")
