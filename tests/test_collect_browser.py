"""Collect mode in a real browser: draw with the mouse, click Save, find the record in the store.

JupyterLab serves a temporary copy of notebooks/ plus a one-cell notebook holding notebook 06's pad
cell; Voila serves the students' app with the pad switched to collect mode (the one flag the app
passes). MNISTLIB_CLASS_DIR points at a temporary class folder; the kernels inherit it. Debian's
Chromium draws real mouse strokes (Playwright), clicks the pad's buttons by their visible names and
reads the page hooks (``.mnist-prompt [data-digit]``, ``.mnist-message [data-kind]``). A failing
test saves a screenshot to test-artifacts/ and names it in its message.
"""

from __future__ import annotations

import nbformat
import pytest
from browser_support import (
    app_in_chromium,
    canvas_ink,
    clear,
    copy_notebooks,
    mouse_draw,
    notebook_in_lab,
    screenshot,
    screenshot_on_failure,
    wait_for_final_reading,
    wait_for_message,
    wait_for_reading,
)

from mnistlib.classroom.collect import a_digit
from mnistlib.classroom.store import ClassStore
from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT
from tools.drawn_digits import DIGITS

LESSON = "06_class_handwriting.ipynb"
COLLECT_NOTEBOOK = "collect_pad.ipynb"


def collect_notebook(folder) -> str:
    """Write a notebook that shows notebook 06's collect-mode pad, alone; return its name."""
    lesson = nbformat.read(NOTEBOOKS_DIR / LESSON, as_version=4)
    pad_cell = next(c.source for c in lesson.cells if c.cell_type == "code" and "collect=True" in c.source)
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("from mnistlib.classroom import DrawingPad"),
            nbformat.v4.new_code_cell(pad_cell),
        ]
    )
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(nb, folder / COLLECT_NOTEBOOK)
    return COLLECT_NOTEBOOK


@pytest.fixture(scope="module")
def class_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("class")


@pytest.fixture(scope="module")
def page(class_dir, playwright, tmp_path_factory):
    """The collect-mode pad open in JupyterLab, its kernel saving into ``class_dir``."""
    served = copy_notebooks(tmp_path_factory.mktemp("served") / "notebooks")
    name = collect_notebook(served)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNISTLIB_CLASS_DIR", str(class_dir))  # the served kernels inherit the environment
        with notebook_in_lab(
            playwright, served, name, tmp_path_factory.mktemp("collect"), "collect-run-all"
        ) as page:
            yield page


def prompt(page) -> dict[str, str]:
    """Return the collect prompt's text and data attributes."""
    box = page.locator(".mnist-prompt [data-digit]").first
    return {
        "text": box.inner_text(),
        "digit": box.get_attribute("data-digit") or "",
        "mode": box.get_attribute("data-mode") or "",
    }


def save(page) -> None:
    page.locator(".mnist-pad button", has_text="Save").click()


def test_draw_the_digit_asked_for_save_and_find_it_in_the_store(page, class_dir):
    with screenshot_on_failure(page, "collect-save"):
        asked = prompt(page)
        assert asked["mode"] == "ask" and asked["digit"].isdigit(), asked
        digit = int(asked["digit"])
        assert asked["text"] == f"Draw {a_digit(digit)}"
        strokes = DIGITS[digit]
        mouse_draw(page, strokes)
        read = wait_for_final_reading(page, len(strokes))
        screenshot(page, "collect-before-save")
        save(page)
        text = wait_for_message(page, "saved")
        screenshot(page, "collect-saved")
        following = prompt(page)
        assert (
            text == f"Saved your {digit} (drawing 1 of this pad). Now draw {a_digit(following['digit'])}."
        ), text
        assert following["digit"] != asked["digit"]
        wait_for_reading(page, "blank")  # the pad cleared itself for the next digit
        assert canvas_ink(page)["ink"] == 0

    store = ClassStore(class_dir)
    data = store.images()
    assert len(data.ids) == 1 and data.labels.tolist() == [digit]
    record = store.get(int(data.ids[0]))
    assert record.predicted == int(read) and record.model == "CNN (shipped)"
    assert record.student.startswith("anon-")
    assert len(record.strokes["strokes"]) == len(strokes)
    # The kernel kept the points the browser sent: the first one is where the mouse went down.
    x0, y0 = record.strokes["strokes"][0][0]
    assert abs(x0 - strokes[0][0][0]) < 3 and abs(y0 - strokes[0][0][1]) < 3
    assert record.raster.shape == (280, 280) and record.raster.max() == 255


def test_a_blank_pad_saves_nothing(page, class_dir):
    with screenshot_on_failure(page, "collect-blank"):
        clear(page)
        save(page)
        text = wait_for_message(page, "blank")
        assert "Nothing to save" in text
    assert len(ClassStore(class_dir)) == 1


def test_the_student_can_pick_the_label_instead(page, class_dir):
    with screenshot_on_failure(page, "collect-pick"):
        page.locator(".mnist-pad button", has_text="I pick").click()
        page.wait_for_selector('.mnist-prompt [data-mode="pick"]', timeout=20_000)
        mouse_draw(page, DIGITS[7])
        wait_for_final_reading(page, 1)
        page.locator(".mnist-label-picker button", has_text="7").click()
        page.wait_for_selector('.mnist-prompt [data-digit="7"]', timeout=20_000)
        save(page)
        text = wait_for_message(page, "saved")
        assert text.startswith("Saved your 7 (drawing 2 of this pad)."), text
        screenshot(page, "collect-picked-7")
    data = ClassStore(class_dir).images()
    assert data.labels.tolist()[-1] == 7 and len(set(data.students)) == 1  # one pad, one student
    assert data.predicted.tolist()[-1] == 7  # the reading at save time, stored with the drawing


# ---- the students' app (Voila) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_page(playwright, tmp_path_factory):
    """The students' app in collect mode (`make app COLLECT=1`), served as `make app` serves it, saving into a temp folder."""
    class_folder = tmp_path_factory.mktemp("app-class")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNISTLIB_CLASS_DIR", str(class_folder))
        mp.setenv("APP_COLLECT", "1")
        app, scratch = REPO_ROOT / "app" / "app.ipynb", tmp_path_factory.mktemp("app")
        with app_in_chromium(playwright, app, scratch, "collect-app-open") as page:
            page.class_folder = class_folder
            yield page


def test_the_app_collects_a_drawing(app_page):
    page = app_page
    with screenshot_on_failure(page, "collect-app"):
        digit = int(prompt(page)["digit"])
        strokes = DIGITS[digit]
        mouse_draw(page, strokes)
        wait_for_final_reading(page, len(strokes))
        save(page)
        assert wait_for_message(page, "saved").startswith(f"Saved your {digit} (drawing 1 of this pad).")
        screenshot(page, "collect-app-saved")
    data = ClassStore(page.class_folder).images()
    assert data.labels.tolist() == [digit]
