"""The students' app on every screen a class has: phones, tablets, a Chromebook, a wide monitor, the projector.

Voila serves the app as `make app` does; Chromium opens it with Playwright's device descriptors (their
viewport, device pixel ratio and touch screen) or a viewport of our own. On each device the test draws
a real 7 (a finger through DevTools touch events on touch screens, the mouse elsewhere), checks the
reading, that the ink lands where the finger went and that the model reads what it would read from the
same strokes on a 280 px pad, and that no control is cut off, overlapping or past the right edge. Each
device's screenshot is saved as test-artifacts/screens-<device>.png; a failure saves FAILED-screens-*.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import screenshot_on_failure, voila_server, wait_for_message, wait_for_read_digit
from screen_support import (
    DEVICES,
    app_on,
    browser,
    canvas_ink_mask,
    draw,
    expected_ink,
    in_view_together,
    iou,
    layout_problems,
    save_screenshot,
)

import mnistlib
from mnistlib.classroom.strokes import PAD_SIZE
from mnistlib.paths import REPO_ROOT
from tools.drawn_digits import DIGITS

APP = REPO_ROOT / "app" / "app.ipynb"
TOUCH_TARGET = 44  # CSS px: the smallest button a finger hits reliably (WCAG 2.5.5)
BUTTONS = [f'.mnist-pad button:has-text("{name}")' for name in ("Clear", "Undo", "Upload")]
# Where the page was and how far it was zoomed: drawing must change neither.
VIEW = "() => [Math.round(scrollX), Math.round(scrollY), visualViewport.scale]"


def serve(tmp_path_factory, name: str, **env: str):
    """Voila serving the app as `make app` does, with a few warm kernels for one page per device."""
    env = {"APP_POOL": "2", "APP_MAX_KERNELS": "12", "APP_REFILL_QUIET": "1", **env}
    return voila_server(APP, tmp_path_factory.mktemp(name) / "home", timeout=90, **env)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(tmp_path_factory, "screens") as server:
        yield server


@pytest.fixture(scope="module")
def chromium(playwright):
    with browser(playwright) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def reading_at_280(shipped_cnn) -> np.ndarray:
    """The probabilities the app's model gives the 7 drawn on a 280 px pad: every screen must read the same."""
    raster = expected_ink(DIGITS[7]).astype(np.uint8) * 255
    return np.asarray(mnistlib.predict(shipped_cnn, raster).probabilities)


def shown_probabilities(page) -> np.ndarray:
    return np.array(
        [float(p) for p in page.locator(".mnist-bar-row").evaluate_all("rs => rs.map(r => r.dataset.p)")]
    )


@pytest.mark.parametrize("device", list(DEVICES))
def test_the_app_fits_the_screen_and_reads_what_is_drawn(
    device, server, chromium, playwright, reading_at_280
):
    with (
        app_on(chromium, playwright, server, device) as page,
        screenshot_on_failure(page, f"screens-{device}"),
    ):
        canvas = page.locator(".mnist-pad canvas").first
        shown = canvas.bounding_box()
        # The canvas keeps its pixels (what the model reads) and is shown square, as large as the screen allows.
        assert canvas.evaluate("c => [c.width, c.height]") == [PAD_SIZE, PAD_SIZE]
        assert abs(shown["width"] - shown["height"]) < 0.5, f"the pad is not square: {shown}"
        width, height = page.evaluate("[innerWidth, innerHeight]")
        assert shown["width"] >= min(0.6 * min(width, height), 280) - 1, (
            f"the pad is small: {shown} in {width}x{height}"
        )
        assert not layout_problems(page, TOUCH_TARGET), layout_problems(page, TOUCH_TARGET)

        view = page.evaluate(VIEW)
        draw(page, DIGITS[7])
        wait_for_read_digit(page, 7)
        assert page.evaluate(VIEW) == view, "drawing scrolled or zoomed the page"
        # The ink is where the strokes went, at this size and pixel ratio: the pointer is mapped right.
        ink = iou(canvas_ink_mask(page), expected_ink(DIGITS[7]))
        assert ink > 0.8, f"the ink on the canvas matches the strokes drawn only {ink:.0%}"
        read = shown_probabilities(page)
        assert np.abs(read - reading_at_280).max() < 0.05, (
            f"read {read.round(3)}, at 280 px {reading_at_280.round(3)}"
        )

        assert not layout_problems(page, TOUCH_TARGET), layout_problems(page, TOUCH_TARGET)
        hidden = in_view_together(
            page, [".mnist-pad canvas", *BUTTONS, ".mnist-reading .mnist-big", ".mnist-bars"]
        )
        assert not hidden, f"not in view with the pad: {hidden}"
        assert not page.js_errors, page.js_errors
        save_screenshot(page, device)


def test_a_finger_on_the_pad_neither_scrolls_nor_zooms_the_page(server, chromium, playwright):
    """Swipes and pinches that scroll and zoom the page elsewhere do neither on the pad."""

    def swipe(page, box) -> None:
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        send = page.cdp.send
        send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y + 60}]})
        for i in range(1, 20):
            send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": x, "y": y + 60 - 6 * i}]},
            )
        send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    def pinch(page, box) -> None:
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for i in range(0, 60, 4):
            fingers = [{"x": x - 10 - i, "y": y, "id": 1}, {"x": x + 10 + i, "y": y, "id": 2}]
            kind = "touchStart" if i == 0 else "touchMove"
            page.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": fingers})
        page.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    with (
        app_on(chromium, playwright, server, "small-phone") as page,
        screenshot_on_failure(page, "screens-finger"),
    ):
        for target, moves in ((".mnist-pad canvas", False), ("h1", True)):  # the header: the page moves there
            for gesture in (swipe, pinch):
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(300)
                start = page.evaluate(VIEW)
                gesture(page, page.locator(target).first.bounding_box())
                page.wait_for_timeout(400)
                moved = page.evaluate(VIEW) != start
                assert moved == moves, (
                    f"{gesture.__name__} on {target}: the page moved {moved}, expected {moves}"
                )


def test_the_projector_view_is_legible_from_the_back_of_the_room(server, chromium, playwright):
    with (
        app_on(chromium, playwright, server, "projector") as page,
        screenshot_on_failure(page, "screens-projector-view"),
    ):
        assert page.evaluate("document.documentElement.classList.contains('mnist-projector')")
        draw(page, DIGITS[7])
        wait_for_read_digit(page, 7)
        height = page.evaluate("innerHeight")
        # The digit's ink, measured from its font: at least a fifth of the screen's height.
        glyph = page.locator(".mnist-reading .mnist-big").evaluate(
            """e => { const c = document.createElement('canvas').getContext('2d');
                      c.font = getComputedStyle(e).font; const m = c.measureText(e.textContent);
                      return m.actualBoundingBoxAscent + m.actualBoundingBoxDescent; }"""
        )
        assert glyph >= 0.2 * height, f"the digit is {glyph:.0f} px high on a {height} px screen"
        label = page.locator(".mnist-bar-label").first.evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)"
        )
        assert label >= 0.028 * height, f"the bars' labels are {label} px"
        pad = page.locator(".mnist-pad canvas").first.bounding_box()
        assert pad["height"] >= 0.7 * height, (
            f"the pad is {pad['height']:.0f} px high on a {height} px screen"
        )
        # The same page hooks as every student's page.
        for hook in (
            '.mnist-reading [data-state="digit"][data-digit="7"][data-live="false"]',
            ".mnist-message [data-kind]",
        ):
            assert page.locator(hook).count() == 1, hook
        assert not layout_problems(page), layout_problems(page)
        save_screenshot(page, "projector-view-reads-7")


# ---- collect mode (`make app COLLECT=1`): its prompt and Save follow the same rules ------------------


@pytest.fixture(scope="module")
def collect_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("collect-class")
    with serve(
        tmp_path_factory, "screens-collect", APP_COLLECT="1", MNISTLIB_CLASS_DIR=str(folder)
    ) as server:
        yield server


# Save is in view with the pad, except on a phone held sideways: there it follows the reading.
SAVE_IN_VIEW = {
    "small-phone": True,
    "small-phone-landscape": False,
    "tablet-landscape": True,
    "chromebook": True,
}


@pytest.mark.parametrize("device", list(SAVE_IN_VIEW))
def test_collect_mode_fits_the_screen_and_saves(device, collect_server, chromium, playwright):
    with (
        app_on(chromium, playwright, collect_server, device) as page,
        screenshot_on_failure(page, f"screens-collect-{device}"),
    ):
        assert not layout_problems(page, TOUCH_TARGET), layout_problems(page, TOUCH_TARGET)
        asked = int(page.locator(".mnist-prompt [data-digit]").first.get_attribute("data-digit"))
        draw(page, DIGITS[asked])
        page.wait_for_selector(f'.mnist-reading [data-strokes="{len(DIGITS[asked])}"][data-live="false"]')
        save = ['.mnist-pad button:has-text("Save")'] if SAVE_IN_VIEW[device] else []
        in_view = [".mnist-prompt .mnist-prompt-text", ".mnist-pad canvas", *BUTTONS, *save]
        assert not in_view_together(page, in_view), in_view_together(page, in_view)
        page.locator(".mnist-pad button", has_text="I pick").click()
        page.wait_for_selector('.mnist-prompt [data-mode="pick"]')
        page.locator(".mnist-label-picker button", has_text=str(asked)).click()
        page.wait_for_selector(f'.mnist-prompt [data-digit="{asked}"]')  # "Your drawing is a 7": the longest
        assert not layout_problems(page, TOUCH_TARGET), layout_problems(page, TOUCH_TARGET)
        assert not in_view_together(page, in_view), in_view_together(page, in_view)
        save_screenshot(page, f"collect-{device}")
        page.locator(".mnist-pad button", has_text="Save").click()
        assert wait_for_message(page, "saved").startswith(f"Saved your {asked}")
