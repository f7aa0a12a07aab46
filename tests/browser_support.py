"""Helpers for the real-browser tests: servers on 127.0.0.1, Chromium, drawing strokes, reading the pad.

Ports, homes, Chromium's flags and the server process come from ``tools.local_servers``, which
``tools/classroom/`` uses too; the digits drawn are ``tools.drawn_digits``'.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mnistlib.classroom.strokes import PAD_SIZE
from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT
from tools.drawn_digits import Point, dense
from tools.local_servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAD_PAINTED,
    Server,
    free_port,
    isolated_env,
    voila_server,
)

ARTIFACTS = REPO_ROOT / "test-artifacts"
NOTEBOOK = "04_draw_and_predict.ipynb"
STEP = 6.0  # px between two mouse moves along a stroke

# Run every cell of the notebook open in JupyterLab, and list the cells that raised.
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


def copy_notebooks(dest: Path) -> Path:
    """Copy notebooks/ to ``dest`` (the browser autosaves into what it serves) and return it."""
    shutil.copytree(NOTEBOOKS_DIR, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


def lab_server(root: Path, home: Path) -> Server:
    """Start JupyterLab on 127.0.0.1 with a token, serving ``root``; a context manager, ready, then stopped."""
    port, token = free_port(), secrets.token_hex(16)
    args = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.open_browser=False",
    ]
    return Server(args, port, token, isolated_env(home), home / "lab.log", f"/api/status?token={token}")


# System browsers first: Debian's Chromium, then other common names on PATH.
CHROMIUM_NAMES = (CHROMIUM, "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_found_browser: list[str] = []  # the lookup's answer, so Playwright's download is tried once per run


def find_chromium(playwright) -> str:
    """Return a Chromium to launch: the system's first, else Playwright's own, downloading it once if allowed."""
    if _found_browser:
        return _found_browser[0]
    system = next(filter(None, (shutil.which(name) for name in CHROMIUM_NAMES)), None)
    own = Path(playwright.chromium.executable_path)
    tried: list[str] = []
    if system is None and not own.exists():
        # Where the internet allows it; a network that only reaches package registries refuses it.
        try:
            done = subprocess.run(
                [sys.executable, "-m", "playwright", "install", "chromium"],
                check=False,
                capture_output=True,
                text=True,
                timeout=300,
            )
            tried = (done.stdout + done.stderr).strip().splitlines()[-1:] if done.returncode else []
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried = [str(exc)]
    found = system or (str(own) if own.exists() else None)
    if found is None:
        detail = f" ({tried[0]})" if tried else ""
        raise RuntimeError(
            f"The browser tests need Chromium at {CHROMIUM}: sudo apt-get install chromium "
            f"(Playwright's own `playwright install chromium` failed too{detail})"
        )
    _found_browser.append(found)
    return found


def launch_chromium(playwright, user_data_dir: Path, has_touch: bool = False):
    """Launch Chromium headless (the system's, else Playwright's) with a fresh profile; return the context."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=find_chromium(playwright),
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 1280, "height": 900},
        has_touch=has_touch,
    )


@contextlib.contextmanager
def chromium_page(playwright, profile: Path, has_touch: bool = False) -> Iterator:
    """Yield a page of a fresh Chromium; ``page.js_errors`` collects the page's uncaught exceptions."""
    profile.mkdir(parents=True, exist_ok=True)
    context = launch_chromium(playwright, profile, has_touch=has_touch)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        yield page
    finally:
        context.close()


@contextlib.contextmanager
def notebook_in_lab(playwright, root: Path, notebook: str, scratch: Path, name: str) -> Iterator:
    """Yield ``notebook`` (in ``root``) open in JupyterLab in Chromium, every cell run and its pad painted.

    ``scratch`` holds the server's home and the browser's profile; ``name`` names the screenshot of a failure.
    """
    with (
        lab_server(root, scratch / "lab-home") as server,
        chromium_page(playwright, scratch / "chromium") as page,
    ):
        with screenshot_on_failure(page, name):
            page.goto(f"{server.url}/lab/tree/{notebook}?token={server.token}")
            # The status bar says Idle only once a kernel exists; a Run All before that is lost.
            page.wait_for_selector("#jp-main-statusbar >> text=/\\| Idle/", timeout=90_000)
            ok = page.evaluate(RUN_ALL)
            errors = page.evaluate(CELL_ERRORS)
            assert ok and not errors, f"Run All failed: {errors}\n{server.log_tail(1500)}"
            wait_until_pad_is_painted(page)
        yield page


@contextlib.contextmanager
def app_in_chromium(
    playwright, notebook: Path, scratch: Path, name: str, has_touch: bool = False
) -> Iterator:
    """Yield ``notebook`` served as `make app` serves it, open in Chromium with its pad painted.

    The page knows its ``app_url`` and its ``server``; ``scratch`` and ``name`` as for ``notebook_in_lab``.
    """
    with (
        voila_server(notebook, scratch / "voila-home") as server,
        chromium_page(playwright, scratch / "chromium", has_touch) as page,
    ):
        page.server, page.app_url = server, f"{server.url}/?token={server.token}"
        with screenshot_on_failure(page, name):
            page.goto(page.app_url)
            wait_until_pad_is_painted(page)
        yield page


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def explained(explain: Callable[[Exception], str]) -> Iterator[None]:
    """Re-raise any failure inside as an AssertionError whose message is ``explain(the failure)``."""
    try:
        yield
    except Exception as exc:
        raise AssertionError(explain(exc)) from exc


def screenshot_on_failure(page, name: str):
    """Re-raise any failure inside with a screenshot saved and named in the message (a context manager)."""
    return explained(lambda exc: f"{exc}\n(screenshot: {screenshot(page, f'FAILED-{name}')})")


def pad_canvas(page, timeout: float = 60_000):
    """Return the pad's canvas once it shows, scrolled into view."""
    canvas = page.locator(".mnist-pad canvas").first
    canvas.wait_for(state="visible", timeout=timeout)
    canvas.scroll_into_view_if_needed()
    return canvas


def wait_until_pad_is_painted(page, timeout: float = 30_000, appear: float = 60_000) -> None:
    """Wait until the pad's canvas shows and is painted black all over (its kernel drew it for this page)."""
    pad_canvas(page, appear)
    unpainted = "the pad was never painted for this page (no repaint on client_ready?)"
    with explained(lambda _: f"{unpainted}: {canvas_ink(page)}"):
        page.wait_for_function(PAD_PAINTED, timeout=timeout)


def _to_page(box: dict, x: float, y: float) -> Point:
    return box["x"] + x * box["width"] / PAD_SIZE, box["y"] + y * box["height"] / PAD_SIZE


def mouse_draw(page, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw strokes on the pad with the mouse."""
    box = pad_canvas(page).bounding_box()
    for stroke in strokes:
        points = dense(stroke, STEP)
        page.mouse.move(*_to_page(box, *points[0]))
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*_to_page(box, *point))
        page.mouse.up()


def touch_draw(page, cdp, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw strokes on the pad with one finger, through DevTools touch events."""
    box = pad_canvas(page).bounding_box()
    for stroke in strokes:
        points = [_to_page(box, *p) for p in dense(stroke, STEP)]
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
        )
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def reading(page) -> dict[str, str]:
    """Return the pad's displayed reading: {"state": ..., "digit": ..., "strokes": ..., "live": ...}."""
    box = page.locator(".mnist-reading [data-state]").first
    return {k: box.get_attribute(f"data-{k}") or "" for k in ("state", "digit", "strokes", "live")}


def _wait_for(page, selector: str, expected: str, timeout: float) -> None:
    def shows(_: Exception) -> str:
        return f"expected the pad to show {expected}; it shows {reading(page)}, message: {message(page)!r}"

    with explained(shows):
        page.wait_for_selector(selector, timeout=timeout)


def clear(page) -> None:
    """Click the pad's Clear button and wait until the pad is blank."""
    page.locator(".mnist-pad button", has_text="Clear").click()
    wait_for_reading(page, "blank")


def wait_for_reading(page, state: str, timeout: float = 20_000) -> None:
    """Wait until the pad shows ``state`` ("blank", "digit" or "unsure")."""
    _wait_for(page, f'.mnist-reading [data-state="{state}"]', state, timeout)


def wait_for_final_reading(page, strokes: int, digit: int | None = None, timeout: float = 30_000) -> str:
    """Wait until the pad reads ``digit`` (or any digit), sure or not, from ``strokes`` finished strokes; return it.

    Not a live reading: the kernel can lag behind the browser, and while it catches up the pad may
    show a live reading of half a stroke, which may already be the right digit.
    """
    final = f'[data-strokes="{strokes}"][data-live="false"]'
    if digit is not None:
        final += f'[data-digit="{digit}"]'
    selector = ", ".join(f'.mnist-reading [data-state="{s}"]{final}' for s in ("digit", "unsure"))
    wanted = "a digit" if digit is None else str(digit)
    _wait_for(page, selector, f"{wanted} read from {strokes} finished stroke(s)", timeout)
    return reading(page)["digit"]


def wait_for_read_digit(page, digit: int, strokes: int = 1, timeout: float = 30_000) -> None:
    """Wait until the pad reads ``digit`` (sure or not) from ``strokes`` finished strokes, not a live reading."""
    wait_for_final_reading(page, strokes, digit, timeout)


def message(page) -> str:
    """Return the text of the pad's message line."""
    return page.locator(".mnist-message").first.inner_text()


def wait_for_message(page, kind: str, timeout: float = 20_000) -> str:
    """Wait until the pad's message line is of ``kind`` (``data-kind``: saved, error, ...); return its text."""
    page.wait_for_selector(f'.mnist-message [data-kind="{kind}"]', timeout=timeout)
    return message(page)


def canvas_ink(page) -> dict[str, int]:
    """Count the canvas's pixels: opaque ones, and bright (ink) ones."""
    return page.locator(".mnist-pad canvas").first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let opaque = 0, ink = 0;
                  for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 200) opaque++;
                                                           if (d[i] > 128 && d[i+3] > 200) ink++; }
                  return {opaque, ink, total: c.width * c.height}; }"""
    )


def assert_no_code(page, *snippets: str) -> None:
    """Fail if the page shows any of ``snippets``: an app page shows a pad, not its notebook's code."""
    text = page.locator("body").inner_text()
    shown = [snippet for snippet in snippets if snippet in text]
    assert not shown, f"the page shows {shown}"
