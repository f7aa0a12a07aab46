"""Helpers for the tests of the app on many screens and of its accessibility: devices, layout checks, axe-core.

Devices are Playwright's descriptors (viewport, device pixel ratio, touch) plus a Chromebook and a
projector, opened in the system's Chromium (``tools.local_servers``'s flags), one browser context
each. axe-core comes from npm, pinned in tests/axe/package-lock.json (`make axe`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from browser_support import ARTIFACTS, find_chromium, pad_canvas, wait_until_pad_is_painted

from mnistlib.classroom.strokes import BRUSH_WIDTH, PAD_SIZE, Strokes
from mnistlib.paths import REPO_ROOT
from tools.drawn_digits import Point, dense
from tools.local_servers import CHROMIUM_ARGS

AXE_JS = REPO_ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
STEP = 6.0  # px along a stroke between two moves, in the pad's own pixels

# name -> (Playwright descriptor or a viewport of our own, what the test checks it as)
DEVICES: dict[str, dict] = {
    "small-phone": {"descriptor": "iPhone SE"},  # 320 x 568, 2 device pixels per CSS px, touch
    "small-phone-landscape": {"descriptor": "iPhone SE landscape"},  # 568 x 320
    "large-phone": {"descriptor": "Pixel 7"},  # 412 x 839, 2.625
    "tablet-portrait": {"descriptor": "iPad Mini"},  # 768 x 1024, 2
    "tablet-landscape": {"descriptor": "iPad Mini landscape"},  # 1024 x 768, 2
    "chromebook": {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1},  # the mouse
    "projector": {
        "viewport": {"width": 1920, "height": 1080},
        "device_scale_factor": 1,
        "query": "view=projector",
    },
    "wide-monitor": {"viewport": {"width": 2560, "height": 1440}, "device_scale_factor": 1.5},
}


def context_options(playwright, device: str) -> dict:
    """Return browser.new_context()'s options for ``device`` (a key of DEVICES)."""
    spec = DEVICES[device]
    if "descriptor" in spec:
        options = dict(playwright.devices[spec["descriptor"]])
        options.pop("default_browser_type", None)
        return options
    return {k: v for k, v in spec.items() if k != "query"}


@contextlib.contextmanager
def browser(playwright) -> Iterator:
    """Yield the system's Chromium, headless (a context per device: launch_persistent_context has one)."""
    chromium = playwright.chromium.launch(executable_path=find_chromium(playwright), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@contextlib.contextmanager
def app_on(chromium, playwright, server, device: str, query: str = "") -> Iterator:
    """Yield a page of the app served by ``server``, on ``device``, its pad painted; ``query`` adds to the URL.

    The page knows its ``device``, whether it ``touches`` and its ``cdp`` session (for touch strokes).
    """
    options = context_options(playwright, device)
    context = chromium.new_context(**options)
    try:
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        page.device, page.touches = device, bool(options.get("has_touch"))
        page.cdp = context.new_cdp_session(page) if page.touches else None
        extra = "&".join(filter(None, [DEVICES[device].get("query", ""), query]))
        page.goto(f"{server.url}/?token={server.token}" + (f"&{extra}" if extra else ""))
        wait_until_pad_is_painted(page, appear=90_000)
        page.wait_for_timeout(700)  # pad_client.js takes the pad over within a second of its appearing
        yield page
        page.close(run_before_unload=True)  # Voila then shuts the page's kernel down
    finally:
        context.close()


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/screens-<name>.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"screens-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---- drawing: real strokes, with the finger on touch screens and the mouse elsewhere ---------------


def _to_page(box: dict, x: float, y: float) -> Point:
    return box["x"] + x * box["width"] / PAD_SIZE, box["y"] + y * box["height"] / PAD_SIZE


def draw(page, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw ``strokes`` (in the pad's own pixels) where the canvas is shown, at whatever size it is shown."""
    box = pad_canvas(page).bounding_box()
    for stroke in strokes:
        points = [_to_page(box, *p) for p in dense(stroke, STEP)]
        if page.touches:
            send = page.cdp.send
            send(
                "Input.dispatchTouchEvent",
                {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
            )
            for x, y in points[1:]:
                send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        else:
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point)
            page.mouse.up()


def expected_ink(strokes: Sequence[Sequence[Point]]) -> np.ndarray:
    """Return the pad's own rasterisation of ``strokes`` (PAD_SIZE x PAD_SIZE, True where inked)."""
    pad = Strokes(PAD_SIZE, PAD_SIZE, BRUSH_WIDTH)
    for stroke in strokes:
        pad.add_stroke(dense(stroke, STEP))
    return pad.rasterize() > 128


def canvas_ink_mask(page) -> np.ndarray:
    """Return the canvas's own pixels as a mask (True where inked), at its internal resolution."""
    found = page.locator(".mnist-pad canvas").first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  const out = []; for (let i = 0; i < d.length; i += 4) out.push(d[i] > 128 ? 1 : 0);
                  return {w: c.width, h: c.height, ink: out}; }"""
    )
    return np.array(found["ink"], dtype=bool).reshape(found["h"], found["w"])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Return the intersection over union of two masks."""
    return float((a & b).sum() / max(1, (a | b).sum()))


# ---- layout: nothing clipped, nothing overlapping, nothing past the right edge ----------------------

# The parts of the pad a student must see and reach: every visible control, the canvas, the reading and bars.
CONTROLS = (
    ".mnist-pad canvas, .mnist-pad button, .mnist-pad select, .mnist-pad input, .mnist-reading .mnist-big, "
    ".mnist-reading .mnist-hint, .mnist-bars-panel .mnist-bars, .mnist-prompt .mnist-prompt-text, .mnist-model-img"
)
BOXES = """(selector) => [...document.querySelectorAll(selector)].filter(e => e.getClientRects().length)
  .map(e => { const b = e.getBoundingClientRect();
    const name = (e.getAttribute('aria-label') || e.textContent || e.getAttribute('alt') || e.className || e.tagName)
      .trim().replace(/\\s+/g, ' ').slice(0, 40);
    return {name: `${e.tagName.toLowerCase()} "${name}"`, x: b.left + scrollX, y: b.top + scrollY,
            w: b.width, h: b.height}; })"""
# Elements that cut their content off: a scroller or a hidden overflow narrower than what it holds
# (a button's label ellipsised, a column that scrolls sideways). Screen-reader-only text is meant to be.
CLIPPED = """() => [...document.querySelectorAll('.mnist-pad, .mnist-pad *, #rendered_cells, #rendered_cells *')]
  .filter(e => e.getClientRects().length && !e.closest('.mnist-sr-only, .mnist-pad-help'))
  .filter(e => { const o = getComputedStyle(e).overflowX; return o !== 'visible' && e.scrollWidth > e.clientWidth + 1; })
  .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} "${(e.textContent || '').trim().slice(0, 30)}"`
       + ` shows ${e.clientWidth} of ${e.scrollWidth} px`)
  .concat([...document.querySelectorAll('.mnist-pad select')].filter(e => e.getClientRects().length).filter(e => {
    // A menu cuts its choice's name without scrolling: measure the name in the menu's font.
    const c = document.createElement('canvas').getContext('2d'); const cs = getComputedStyle(e);
    c.font = cs.font;
    const text = c.measureText(e.options[e.selectedIndex].text).width;
    return text + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) > e.clientWidth + 1;
  }).map(e => `the menu shows ${e.clientWidth} px of "${e.options[e.selectedIndex].text}"`))"""


def boxes(page, selector: str = CONTROLS) -> list[dict]:
    """Return the page boxes (document coordinates, CSS px) of the visible elements ``selector`` matches."""
    return page.evaluate(BOXES, selector)


def layout_problems(page, min_target: float = 0) -> list[str]:
    """List what is wrong with the pad's layout on this page (an empty list: nothing).

    Every control and panel is inside the window's width and no taller than the window, no two of them
    overlap, nothing is cut off or scrolls sideways, and (``min_target``) every control is at least that
    many CSS px wide and high.
    """
    width, height = page.evaluate("[innerWidth, innerHeight]")
    problems = []
    doc_width = page.evaluate("document.documentElement.scrollWidth")
    if doc_width > width:
        problems.append(f"the page is {doc_width} px wide in a {width} px window: it scrolls sideways")
    problems += page.evaluate(CLIPPED)
    found = boxes(page)
    for b in found:
        if b["x"] < -0.5 or b["x"] + b["w"] > width + 0.5:
            problems.append(f"{b['name']} spans x {b['x']:.0f}-{b['x'] + b['w']:.0f}, outside 0-{width}")
        if b["h"] > height:
            problems.append(f"{b['name']} is {b['h']:.0f} px high, more than the window's {height}")
        if (
            min_target
            and b["name"].startswith(("button", "select", "input"))
            and min(b["w"], b["h"]) < min_target
        ):
            problems.append(
                f"{b['name']} is {b['w']:.0f} x {b['h']:.0f} px, under {min_target} x {min_target}"
            )
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 0.5 and dy > 0.5:
                problems.append(f"{a['name']} and {b['name']} overlap by {dx:.0f} x {dy:.0f} px")
    return problems


def in_view_together(page, selectors: Sequence[str]) -> list[str]:
    """Scroll the pad's top to the window's top (as far as the page scrolls); list what is then not fully in view.

    ``selectors`` are Playwright's (``:has-text()`` too); each must match at least one visible element.
    """
    page.evaluate(
        """() => { const row = document.querySelector('.mnist-pad .mnist-row');
                   window.scrollTo(0, row.getBoundingClientRect().top + scrollY - 4); }"""
    )
    width, height = page.evaluate("[innerWidth, innerHeight]")
    missing = []
    for selector in selectors:
        found = page.locator(selector).evaluate_all(
            """es => es.filter(e => e.getClientRects().length).map(e => {
                 const b = e.getBoundingClientRect();
                 return {text: (e.textContent || '').trim().slice(0, 20), x: b.left, y: b.top, r: b.right, bottom: b.bottom};
               })"""
        )
        if not found:
            missing.append(f"{selector}: not on the page")
        for b in found:
            if b["x"] < -0.5 or b["y"] < -0.5 or b["r"] > width + 0.5 or b["bottom"] > height + 0.5:
                missing.append(
                    f"{selector} {b['text']!r} at ({b['x']:.0f}, {b['y']:.0f})-({b['r']:.0f}, {b['bottom']:.0f})"
                    f" in a {width} x {height} window"
                )
    return missing


# ---- axe-core ------------------------------------------------------------------------------------


def require_axe() -> Path:
    """Return axe-core's script, or fail saying how to install it."""
    if not AXE_JS.exists():
        raise RuntimeError(f"axe-core is not installed at {AXE_JS}: run `make axe` (npm ci in tests/axe)")
    return AXE_JS


def axe_violations(
    page, include: str | None = None, impacts: Sequence[str] = ("serious", "critical")
) -> list[str]:
    """Run axe-core (WCAG 2.x A/AA and best practices) on the page, or on ``include``; list the ``impacts`` found."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(require_axe()))
    found = page.evaluate(
        """async (include) => {
             const result = await axe.run(include ? {include: [[include]]} : document, {resultTypes: ['violations']});
             return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\\s+/g, ' '))}));
           }""",
        include,
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}) x{len(v['nodes'])}: " + " | ".join(v["nodes"][:3])
        for v in found
        if v["impact"] in impacts
    ]
