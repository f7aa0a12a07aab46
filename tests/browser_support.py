"""Helpers for the real-browser tests: servers on 127.0.0.1, Chromium, drawing strokes, reading the pad.

Ports, homes, Chromium's flags and the server process come from ``tools.local_servers``, which
``tools/classroom.py`` uses too.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from pad_support import dense

from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT
from tools.local_servers import CHROMIUM, CHROMIUM_ARGS, Server, free_port, isolated_env, voila_args

ARTIFACTS = REPO_ROOT / "test-artifacts"
NOTEBOOK = "04_draw_and_predict.ipynb"
PAD = 280  # the pad's size in canvas pixels (mnistlib.classroom.pad.PAD_SIZE)

Stroke = Sequence[tuple[float, float]]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 36) -> list[tuple[float, float]]:
    # Starts at the top and goes round clockwise, overlapping a little to close the loop.
    return [
        (cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n))
        for i in range(n + 2)
    ]


# Digits designed in pad pixels (x right, y down), each as a person would draw it.
DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [_ellipse(140, 140, 65, 95)],
    1: [[(150, 45), (140, 140), (130, 235)]],
    7: [[(75, 55), (205, 55), (160, 140), (120, 235)]],
}


def copy_notebooks(dest: Path) -> Path:
    """Copy notebooks/ to ``dest`` (the browser autosaves into what it serves) and return it."""
    shutil.copytree(NOTEBOOKS_DIR, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return dest


@contextlib.contextmanager
def lab_server(root: Path, home: Path) -> Iterator[Server]:
    """Run JupyterLab on 127.0.0.1 with a token, serving ``root``."""
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
    server = Server(args, port, token, isolated_env(home), home / "lab.log", f"/api/status?token={token}")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def voila_server(notebook: Path, home: Path) -> Iterator[Server]:
    """Run Voila on 127.0.0.1 with a token, serving one notebook as an app."""
    port, token = free_port(), secrets.token_hex(16)
    # Probe a static file: every GET of / starts a kernel and runs the notebook.
    server = Server(
        voila_args(notebook, port, token),
        port,
        token,
        isolated_env(home),
        home / "voila.log",
        "/voila/static/favicon.ico",
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


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


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    """Re-raise any failure inside with a screenshot saved and named in the message."""
    try:
        yield
    except Exception as exc:
        path = screenshot(page, f"FAILED-{name}")
        raise AssertionError(f"{exc}\n(screenshot: {path})") from exc


def pad_canvas(page):
    """Return the pad's canvas, scrolled into view."""
    canvas = page.locator(".mnist-pad canvas").first
    canvas.wait_for(state="visible", timeout=60_000)
    canvas.scroll_into_view_if_needed()
    return canvas


def _to_page(box: dict, x: float, y: float) -> tuple[float, float]:
    return box["x"] + x * box["width"] / PAD, box["y"] + y * box["height"] / PAD


def mouse_draw(page, strokes: Sequence[Stroke]) -> None:
    """Draw strokes on the pad with the mouse."""
    box = pad_canvas(page).bounding_box()
    for stroke in strokes:
        points = dense(stroke, 6.0)
        page.mouse.move(*_to_page(box, *points[0]))
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*_to_page(box, *point))
        page.mouse.up()


def touch_draw(page, cdp, strokes: Sequence[Stroke]) -> None:
    """Draw strokes on the pad with one finger, through DevTools touch events."""
    box = pad_canvas(page).bounding_box()
    for stroke in strokes:
        points = [_to_page(box, *p) for p in dense(stroke, 6.0)]
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
    try:
        page.wait_for_selector(selector, timeout=timeout)
    except Exception as exc:
        raise AssertionError(
            f"expected the pad to show {expected}; it shows {reading(page)}, message: {message(page)!r}"
        ) from exc


def wait_for_reading(page, state: str, timeout: float = 20_000) -> None:
    """Wait until the pad shows ``state`` ("blank", "digit" or "unsure")."""
    _wait_for(page, f'.mnist-reading [data-state="{state}"]', state, timeout)


def wait_for_read_digit(page, digit: int, strokes: int = 1, timeout: float = 30_000) -> None:
    """Wait until the pad reads ``digit`` (sure or not) from ``strokes`` finished strokes, not a live reading.

    The kernel can lag behind the browser: while it catches up, the pad may show a live reading of
    half a stroke, which may already be the right digit.
    """
    final = f'[data-digit="{digit}"][data-strokes="{strokes}"][data-live="false"]'
    selector = ", ".join(f'.mnist-reading [data-state="{s}"]{final}' for s in ("digit", "unsure"))
    _wait_for(page, selector, f"{digit} read from {strokes} finished stroke(s)", timeout)


def message(page) -> str:
    """Return the text of the pad's message line."""
    return page.locator(".mnist-message").first.inner_text()


def canvas_ink(page) -> dict[str, int]:
    """Count the canvas's pixels: opaque ones, and bright (ink) ones."""
    return page.locator(".mnist-pad canvas").first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let opaque = 0, ink = 0;
                  for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 200) opaque++;
                                                           if (d[i] > 128 && d[i+3] > 200) ink++; }
                  return {opaque, ink, total: c.width * c.height}; }"""
    )
