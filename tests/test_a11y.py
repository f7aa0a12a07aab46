"""Accessibility of the pad: axe-core finds nothing serious, the keyboard reaches and works every control,
screen readers hear the reading when it settles and know what the pad is for.

axe-core (npm, pinned in tests/axe: `make axe`) runs in Chromium on the students' app (`make app`), on
its collect mode (`make app COLLECT=1`) and on notebook 04's pad and notebook 06's collect pad in
JupyterLab (only the pad: JupyterLab's own interface is not this project's). Rules are not switched
off: a violation of impact "serious" or "critical" fails. A failing test saves a screenshot to
test-artifacts/ and names it in its message.
"""

from __future__ import annotations

import pytest
from browser_support import (
    NOTEBOOK,
    RUN_ALL,
    chromium_page,
    copy_notebooks,
    lab_server,
    screenshot,
    screenshot_on_failure,
    voila_server,
    wait_for_message,
    wait_for_read_digit,
    wait_for_reading,
    wait_until_pad_is_painted,
)
from PIL import Image
from screen_support import app_on, axe_violations, browser, draw, layout_problems
from test_collect_browser import collect_notebook

from mnistlib.classroom.panels import MODEL_VIEW_ALT, PAD_HELP
from mnistlib.classroom.strokes import Strokes
from mnistlib.paths import REPO_ROOT
from tools.drawn_digits import DIGITS, dense

APP = REPO_ROOT / "app" / "app.ipynb"
# What has the keyboard's focus: its role, accessible name, and how its focus is shown.
FOCUSED = """() => { const e = document.activeElement; if (!e || e === document.body) return null;
  const cs = getComputedStyle(e);
  const label = e.id && document.querySelector(`label[for="${e.id}"]`);
  const name = (e.getAttribute('aria-label') || (label && label.textContent) || e.textContent || '').trim();
  return {tag: e.tagName.toLowerCase(), name, canvas: e.matches('canvas'),
          outline: cs.outlineStyle !== 'none' ? parseFloat(cs.outlineWidth) : 0}; }"""


@pytest.fixture(scope="module")
def chromium(playwright):
    with browser(playwright) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("a11y") / "home"
    with voila_server(
        APP, home, timeout=90, APP_POOL="2", APP_MAX_KERNELS="10", APP_REFILL_QUIET="1"
    ) as server:
        yield server


def test_axe_finds_nothing_serious_on_the_app(server, chromium, playwright):
    for device in ("chromebook", "small-phone"):
        with (
            app_on(chromium, playwright, server, device) as page,
            screenshot_on_failure(page, f"a11y-app-{device}"),
        ):
            assert not axe_violations(page), axe_violations(page)
            draw(page, DIGITS[7])
            wait_for_read_digit(page, 7)
            page.locator(".mnist-pad button", has_text="Show steps").click()
            page.wait_for_selector(".mnist-steps img")
            assert not axe_violations(page), axe_violations(page)  # a reading, the bars, the steps shown
    with (
        app_on(chromium, playwright, server, "projector") as page,
        screenshot_on_failure(page, "a11y-projector"),
    ):
        assert not axe_violations(page), axe_violations(page)


def test_every_control_has_a_name_and_the_pad_a_text_alternative(server, chromium, playwright):
    with (
        app_on(chromium, playwright, server, "chromebook") as page,
        screenshot_on_failure(page, "a11y-names"),
    ):
        for name in ("Clear", "Undo", "Upload", "Show steps"):
            assert page.get_by_role("button", name=name, exact=True).count() == 1, f"no button named {name!r}"
        assert page.locator(".mnist-upload").inner_text().strip() == "Upload", (
            "the upload button shows a count"
        )
        assert page.get_by_role("combobox", name="Model").count() == 1
        assert page.get_by_role("img", name=PAD_HELP).count() == 1, "the canvas has no text alternative"
        assert page.get_by_role("img", name=MODEL_VIEW_ALT).count() == 1
        assert page.get_by_role("main").count() == 1


def test_the_keyboard_reaches_every_control_with_a_visible_focus_and_no_trap(server, chromium, playwright):
    with app_on(chromium, playwright, server, "chromebook") as page, screenshot_on_failure(page, "a11y-tab"):
        page.evaluate("document.activeElement && document.activeElement.blur()")
        reached = []
        for _ in range(12):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None or (reached and focused == reached[0]):
                break
            reached.append(focused)
        names = [f["name"] for f in reached]
        for wanted in ("Clear", "Undo", "Upload", "Model", "Show steps"):
            assert any(wanted in name for name in names), f"Tab never reaches {wanted!r}: {names}"
        assert not [f for f in reached if f["canvas"]], "the canvas takes a Tab stop the keyboard cannot use"
        assert all(f["outline"] >= 2 for f in reached), f"a focus is hard to see: {reached}"
        # A click on the canvas focuses it (ipycanvas does): Tab must still move on, forwards and back.
        draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        page.locator(".mnist-pad canvas").first.focus()
        for key in ("Tab", "Shift+Tab"):
            page.locator(".mnist-pad canvas").first.focus()
            page.keyboard.press(key)
            assert not page.evaluate("document.activeElement.matches('canvas')"), (
                f"{key} is trapped on the canvas"
            )


def test_the_keyboard_works_every_control(server, chromium, playwright, tmp_path):
    picture = tmp_path / "seven.png"
    ink = Strokes(280, 280)
    for stroke in DIGITS[7]:
        ink.add_stroke(dense(stroke))
    Image.fromarray(240 - (ink.rasterize() // 255) * 210).save(picture)  # dark ink on light paper
    with app_on(chromium, playwright, server, "chromebook") as page, screenshot_on_failure(page, "a11y-keys"):
        draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        page.get_by_role("button", name="Undo", exact=True).focus()
        page.keyboard.press("Enter")
        wait_for_reading(page, "blank")
        steps = page.get_by_role("button", name="Show steps", exact=True)
        steps.focus()
        page.keyboard.press("Space")
        page.wait_for_selector(".mnist-steps .widget-html-content")
        page.wait_for_selector('.mnist-steps-toggle[aria-pressed="true"]')
        menu = page.get_by_role("combobox", name="Model")
        menu.focus()
        for key, model in (("ArrowDown", "MLP"), ("ArrowUp", "CNN")):
            page.keyboard.press(key)
            page.wait_for_selector(f'.mnist-message [data-kind="info"]:has-text("Now reading with: {model}")')
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Upload", exact=True).focus()
            page.keyboard.press("Enter")
        chooser.value.set_files(str(picture))
        wait_for_read_digit(page, 7, strokes=0)
        page.get_by_role("button", name="Clear", exact=True).focus()
        page.keyboard.press("Enter")
        wait_for_reading(page, "blank")


def test_the_reading_is_announced_when_it_settles_not_while_drawing(server, chromium, playwright):
    with app_on(chromium, playwright, server, "chromebook") as page, screenshot_on_failure(page, "a11y-live"):
        region = page.locator('.mnist-reading [role="status"][aria-live="polite"]')
        assert region.count() == 1, "no live region for the reading"
        page.evaluate(
            """() => { window.said = []; window.liveSeen = 0;
                 const region = document.querySelector('.mnist-reading [role="status"]');
                 new MutationObserver(() => window.said.push(region.textContent)).observe(
                   region, {childList: true, characterData: true, subtree: true});
                 new MutationObserver(() => { if (document.querySelector('.mnist-reading [data-live="true"]'))
                   window.liveSeen++; }).observe(document.querySelector('.mnist-reading'),
                   {childList: true, subtree: true}); }"""
        )
        # Slowly, as a hand draws: the kernel reads the stroke live several times before it ends.
        box = page.locator(".mnist-pad canvas").first.bounding_box()
        points = [
            (box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280)
            for x, y in dense(DIGITS[7][0], 6)
        ]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point)
            page.wait_for_timeout(40)
        page.mouse.up()
        wait_for_read_digit(page, 7)
        page.wait_for_timeout(500)
        said, live = page.evaluate("[window.said, window.liveSeen]")
        assert live >= 1, "no live reading while drawing: the test would not see an announcement too many"
        assert len(said) == 1 and said[0].startswith("The model reads 7, "), said
        page.get_by_role("button", name="Clear", exact=True).click()
        wait_for_reading(page, "blank")
        page.wait_for_function("window.said.length === 2")
        assert page.evaluate("window.said[1]") == "The pad is empty: draw a digit."


def test_axe_finds_nothing_serious_in_collect_mode(chromium, playwright, tmp_path_factory):
    folder, home = tmp_path_factory.mktemp("a11y-class"), tmp_path_factory.mktemp("a11y-collect") / "home"
    env = {"APP_POOL": "1", "APP_COLLECT": "1", "MNISTLIB_CLASS_DIR": str(folder)}
    with (
        voila_server(APP, home, timeout=90, **env) as server,
        app_on(chromium, playwright, server, "small-phone") as page,
        screenshot_on_failure(page, "a11y-collect"),
    ):
        assert not axe_violations(page), axe_violations(page)
        page.get_by_role("button", name="I pick", exact=True).click()
        page.wait_for_selector('.mnist-prompt [data-mode="pick"]')
        draw(page, DIGITS[7])
        wait_for_read_digit(page, 7)
        page.locator(".mnist-label-picker button", has_text="7").click()
        page.wait_for_selector('.mnist-label-picker button[aria-pressed="true"]:has-text("7")')
        page.get_by_role("button", name="Save", exact=True).click()
        wait_for_message(page, "saved")
        assert not axe_violations(page), axe_violations(page)  # the picker, the saved message
        assert not layout_problems(page, 44), layout_problems(page, 44)


# ---- JupyterLab: notebook 04's pad and notebook 06's collect pad -----------------------------------


def test_the_pads_in_jupyterlab_pass_axe_and_follow_the_notebooks_column(playwright, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("a11y-lab")
    served = copy_notebooks(scratch / "notebooks")
    collect = collect_notebook(served)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNISTLIB_CLASS_DIR", str(scratch / "class"))  # the lab's kernels inherit it
        with (
            lab_server(served, scratch / "lab-home") as server,
            chromium_page(playwright, scratch / "chromium") as page,
            screenshot_on_failure(page, "a11y-lab"),
        ):
            page.touches = False
            for notebook in (NOTEBOOK, collect):
                name = notebook.split(".")[0]
                page.set_viewport_size({"width": 1280, "height": 900})
                # ?reset: a fresh workspace, the one notebook open (a hidden pad would answer the selectors).
                page.goto(f"{server.url}/lab/tree/{notebook}?reset&token={server.token}")
                page.wait_for_selector("#jp-main-statusbar >> text=/\\| Idle/", timeout=90_000)
                assert page.evaluate(RUN_ALL)
                wait_until_pad_is_painted(page)
                draw(page, DIGITS[7])
                wait_for_read_digit(page, 7)
                assert not axe_violations(page, ".mnist-pad"), axe_violations(page, ".mnist-pad")
                screenshot(page, f"a11y-lab-{name}")
                # A narrow window: the pad follows the notebook's column, one part under the other.
                page.set_viewport_size({"width": 560, "height": 900})
                page.wait_for_timeout(800)
                column = page.locator(".jp-OutputArea-output:has(.mnist-pad)").first.bounding_box()
                canvas = page.locator(".mnist-pad canvas").first.bounding_box()
                reading = page.locator(".mnist-reading").first.bounding_box()
                assert canvas["x"] + canvas["width"] <= column["x"] + column["width"] + 0.5, (canvas, column)
                assert reading["y"] >= canvas["y"] + canvas["height"], "the reading is not under the pad"
                assert not layout_problems(page), layout_problems(page)
                screenshot(page, f"a11y-lab-{name}-narrow")
