"""The teacher's live view in real Chromium, open on a 1920 x 1080 projector while students draw and save.

One class server as `make app COLLECT=1` runs it (tests/server_support.start_server), two students'
pads in Chromium drawing with the mouse and clicking Save, and the teacher's page beside them. The
count and the gallery follow the saves within 2 s, a deletion disappears at once and from the store,
a pause stops every pad from saving, a round makes every pad ask for its digit, a nickname stays
text, and the page's text and tiles are large enough for the back of the room. Screenshots go to
test-artifacts/teacher-*.png (look at them).
"""

from __future__ import annotations

import time

import pytest
from browser_support import (
    mouse_draw,
    screenshot,
    screenshot_on_failure,
    wait_for_final_reading,
    wait_for_message,
    wait_until_pad_is_painted,
)
from screen_support import axe_violations, browser
from server_support import start_server

from mnistlib.classroom.store import ClassStore
from tools.drawn_digits import DIGITS

TEACHER_CODE = "tchr-b7k2-m9xa"
WITHIN = 2.0  # s: the page follows the store this closely
PAD_LOOK = 5.0  # s: a pad shows a pause or a round within its look at the store (2 s) and a margin
PROJECTOR = {"width": 1920, "height": 1080}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("teacher-browser"), APP_TEACHER_CODE=TEACHER_CODE)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store(server) -> ClassStore:
    return ClassStore(server.log.parent / "class")


@pytest.fixture(scope="module")
def chromium(playwright):
    with browser(playwright) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def pads(chromium, server):
    """Two students' pads in collect mode, each in a browser context of its own."""
    contexts, pages = [], []
    for _ in range(2):
        context = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error, page=page: page.js_errors.append(str(error)))
        page.goto(f"{server.url}/?token={server.token}")
        wait_until_pad_is_painted(page, appear=90_000)
        contexts.append(context)
        pages.append(page)
    yield pages
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def teacher(chromium, server):
    """The teacher's page on the projector, logged in with the link make app printed."""
    context = chromium.new_context(viewport=PROJECTOR, bypass_csp=True)  # axe-core is injected as a script
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.goto(f"{server.url}/teacher/?code={TEACHER_CODE}")
    page.wait_for_selector(".mnist-class-view", timeout=30_000)
    yield page
    context.close()


def asked(pad) -> dict[str, str]:
    box = pad.locator(".mnist-prompt [data-digit]").first
    return {k: box.get_attribute(f"data-{k}") or "" for k in ("digit", "paused", "round")}


def draw_and_save(pad) -> int:
    """Draw the digit the pad asks for, click Save, wait for "saved"; return the digit."""
    digit = int(asked(pad)["digit"])
    mouse_draw(pad, DIGITS[digit])
    wait_for_final_reading(pad, len(DIGITS[digit]))
    pad.wait_for_timeout(1100)  # saves are paced: one a second
    pad.locator(".mnist-pad button", has_text="Save").click()
    wait_for_message(pad, "saved")
    return digit


def count(teacher) -> int:
    return int(teacher.locator(".mnist-class-view").get_attribute("data-count"))


def wait_for_count(teacher, n: int, timeout: float = WITHIN) -> float:
    """Wait until the page's data-count is ``n``; return how long it took."""
    start = time.monotonic()
    teacher.wait_for_function(
        f"document.querySelector('.mnist-class-view').dataset.count === '{n}'",
        timeout=timeout * 1000,
        polling=50,
    )
    return time.monotonic() - start


def test_saves_show_on_the_teacher_page_within_two_seconds(pads, teacher, store):
    with screenshot_on_failure(teacher, "teacher-saves"):
        assert count(teacher) == 0
        for n, pad in enumerate(pads * 2, 1):
            digit = draw_and_save(pad)
            took = wait_for_count(teacher, n)
            assert took <= WITHIN, f"the page showed save {n} after {took:.1f} s"
            newest = store.summary().newest[0]
            tile = teacher.locator(f'.cv-newest .cv-tile[data-uuid="{newest.uuid}"]')
            assert tile.count() == 1 and tile.get_attribute("data-label") == str(digit)
        assert teacher.locator(".cv-newest .cv-tile").count() == 4
        assert not teacher.js_errors and not any(p.js_errors for p in pads), teacher.js_errors


def test_the_page_is_legible_on_a_projector(teacher, store):
    store.allow_nicknames = True
    store.add(DIGITS[1], 1, "<b id=pwned>Sam</b>")  # a nickname is text, never markup
    wait_for_count(teacher, len(store), timeout=5)
    teacher.wait_for_timeout(400)  # the tiles' images load
    path = screenshot(teacher, "teacher-projector-1920x1080")
    assert teacher.locator("#pwned").count() == 0
    assert "<b id=pwned>Sam</b>" in teacher.locator(".cv-chips").inner_text()
    sizes = teacher.evaluate(
        """() => {
          const small = [];
          for (const el of document.querySelectorAll('body *')) {
            const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
            const box = el.getBoundingClientRect();
            if (!text || !box.width || box.bottom > innerHeight || getComputedStyle(el).visibility === 'hidden') continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < 18) small.push(`${el.className || el.tagName}: ${size}px "${el.textContent.trim().slice(0, 30)}"`);
          }
          const tiles = [...document.querySelectorAll('.cv-newest .cv-tile img')].map(i => i.getBoundingClientRect().width);
          const count = parseFloat(getComputedStyle(document.querySelector('.cv-count b')).fontSize);
          const wide = document.documentElement.scrollWidth;
          return {small, tiles, count, wide};
        }"""
    )
    assert not sizes["small"], f"text under 18 px on the projector ({path}): {sizes['small'][:8]}"
    assert sizes["tiles"] and min(sizes["tiles"]) >= 110, sizes["tiles"]
    assert sizes["count"] >= 36 and sizes["wide"] <= PROJECTOR["width"], sizes
    assert not axe_violations(teacher), axe_violations(teacher)


def test_a_clicked_drawing_shows_how_the_model_sees_it_and_a_deletion_disappears_everywhere(
    teacher, store, tmp_path
):
    with screenshot_on_failure(teacher, "teacher-delete"):
        before = count(teacher)
        tile = teacher.locator(".cv-newest .cv-tile").nth(1)
        uuid = tile.get_attribute("data-uuid")
        tile.locator(".cv-open").click()
        dialog = teacher.locator(".tv-dialog")
        dialog.locator(".mnist-bars").wait_for(timeout=10_000)
        assert (
            dialog.locator("img.mnist-model-img").count() == 1
            and dialog.locator(".mnist-bar-row").count() == 10
        )
        screenshot(teacher, "teacher-how-the-model-sees-it")
        delete = dialog.locator('button[data-action="delete"]')
        delete.click()
        assert store.get(uuid).uuid == uuid  # one click only arms it
        delete.click()
        # Gone from the gallery at once, before the server has answered ...
        teacher.wait_for_function(
            f"!document.querySelector('[data-uuid=\"{uuid}\"]')", timeout=300, polling=10
        )
        # ... then from the store, the count, exports and notebook 06.
        wait_for_count(teacher, before - 1, timeout=5)
        with pytest.raises(KeyError):
            store.get(uuid)
        assert uuid not in (store.export(tmp_path / "export") / "records.csv").read_text()
        assert teacher.locator(f'[data-uuid="{uuid}"]').count() == 0
        teacher.wait_for_timeout(1500)  # a later poll does not bring it back
        assert teacher.locator(f'[data-uuid="{uuid}"]').count() == 0


def test_pause_stops_every_pad_from_saving_and_resume_lets_them(pads, teacher, store):
    with screenshot_on_failure(teacher, "teacher-pause"):
        teacher.locator(".tv-pause").click()
        teacher.wait_for_selector('.mnist-class-view[data-paused="true"]', timeout=5_000)
        assert teacher.locator(".tv-pause").get_attribute("aria-pressed") == "true"
        saved = len(store)
        for pad in pads:
            pad.wait_for_selector('.mnist-prompt [data-paused="true"]', timeout=PAD_LOOK * 1000)
            assert pad.locator(".mnist-pad button", has_text="Save").is_disabled()
            assert "Paused by your teacher" in pad.locator(".mnist-prompt").inner_text()
        screenshot(pads[0], "teacher-paused-pad")
        screenshot(teacher, "teacher-paused")
        assert len(store) == saved
        teacher.locator(".tv-pause").click()
        teacher.wait_for_selector('.mnist-class-view[data-paused="false"]', timeout=5_000)
        pads[0].wait_for_selector('.mnist-prompt [data-paused="false"]', timeout=PAD_LOOK * 1000)
        draw_and_save(pads[0])
        assert len(store) == saved + 1


def test_a_round_makes_every_pad_ask_for_its_digit(pads, teacher, store):
    with screenshot_on_failure(teacher, "teacher-round"):
        teacher.locator('.tv-round button[data-digit="3"]').click()
        teacher.wait_for_selector('.mnist-class-view[data-round="3"]', timeout=5_000)
        for pad in pads:
            pad.wait_for_selector('.mnist-prompt [data-round="3"][data-digit="3"]', timeout=PAD_LOOK * 1000)
        assert draw_and_save(pads[1]) == 3
        wait_for_count(teacher, len(store), timeout=5)
        assert teacher.locator(".cv-newest .cv-tile").first.get_attribute("data-label") == "3"
        screenshot(teacher, "teacher-round")
        teacher.locator(".tv-end-round").click()
        teacher.wait_for_selector('.mnist-class-view[data-round=""]', timeout=5_000)
        pads[1].wait_for_selector('.mnist-prompt [data-round=""]', timeout=PAD_LOOK * 1000)
        assert not teacher.js_errors, teacher.js_errors
