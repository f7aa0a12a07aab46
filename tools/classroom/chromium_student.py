"""A browser student: a Chromium page drawing with the mouse, its ink and reading latencies measured in the page."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from mnistlib.classroom.strokes import PAD_SIZE
from tools.classroom.student import MOVE_INTERVAL, MOVE_STEP, THINK_TIME, Student, jitter
from tools.drawn_digits import DIGITS, dense
from tools.local_servers import PAD_PAINTED, NetworkCount


def chromium(pid: int) -> bool:
    """Whether ``pid`` is one of Chromium's processes."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("chromium", "chrome")
    return False


def yield_cpu(pids: Sequence[int]) -> None:
    """Give the autogroups (sessions) of ``pids`` the lowest CPU weight.

    Chromium runs in a session of its own (Playwright starts it detached), so with autogroup
    scheduling it competes with the server for the cores as a third of the machine. Its pages stand
    for laptops of their own: at weight 19 they take only what the server and the light students leave.
    """
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that has just exited
            Path(f"/proc/{pid}/autogroup").write_text("19")


# Installed before the page's own scripts. Ink: for each mouse move over the pad, the pixel AHEAD px
# beyond the pointer in the direction it moves, inside the round end of the new segment but out of
# reach of the previous one (moves are 6 px apart, the brush's radius is 9 px; the pixel's centre is
# up to half a pixel further, and further out the last move of a stroke, which no later segment
# covers, would sit on the antialiased edge and never count as ink); if it is not ink yet, the time
# until it turns bright (checked every animation frame). Reading: from a mouse-up to the reading
# widget showing a final (not live) reading of that many strokes.
AHEAD = 6
IN_PAGE = """
(() => {
  const m = window.__mnist = {ink: [], inkLost: 0, readings: [], ups: 0, upTime: null, pending: []};
  const pad = () => document.querySelector('.mnist-pad canvas');
  const bright = (c, x, y) => { const d = c.getContext('2d').getImageData(x, y, 1, 1).data;
                                return d[0] > 128 && d[3] > 200; };
  let prev = null;
  window.addEventListener('mousedown', () => { prev = null; }, true);
  window.addEventListener('mousemove', (e) => {
    const c = pad();
    if (!c || !(e.buttons & 1) || e.target !== c) { prev = null; return; }
    const r = c.getBoundingClientRect();
    const px = (e.clientX - r.left) * c.width / r.width, py = (e.clientY - r.top) * c.height / r.height;
    const last = prev;
    prev = {x: px, y: py};
    const d = last && Math.hypot(px - last.x, py - last.y);
    if (!d) return;
    const x = Math.round(px + (px - last.x) / d * AHEAD), y = Math.round(py + (py - last.y) / d * AHEAD);
    if (!bright(c, x, y)) m.pending.push({x, y, t: performance.now()});
  }, true);
  window.addEventListener('mouseup', () => { m.ups += 1; m.upTime = performance.now(); }, true);
  const frame = () => {
    const c = pad(), now = performance.now();
    if (c) m.pending = m.pending.filter((p) => {
      if (bright(c, p.x, p.y)) { m.ink.push(now - p.t); return false; }
      if (now - p.t > 5000) { m.inkLost += 1; return false; }
      return true; });
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new MutationObserver(() => {
    const box = document.querySelector('.mnist-reading [data-state]');
    if (!box || m.upTime === null) return;
    if (box.dataset.live === 'false' && Number(box.dataset.strokes) === m.ups) {
      m.readings.push({ms: performance.now() - m.upTime, digit: box.dataset.digit, strokes: m.ups});
      m.upTime = null;
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})();
"""


async def browser_student(
    browser, base: str, token: str, digits: list[int], seed: int, timeout: float
) -> Student:
    """One student in Chromium: open the page, draw ``digits`` with the mouse, read latencies in the page."""
    student, rng = Student("browser"), random.Random(seed)
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    try:
        await context.add_init_script(IN_PAGE.replace("AHEAD", str(AHEAD)))
        page = await context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)[:200]))
        start = time.monotonic()
        await page.goto(f"http://{base}/?token={token}", timeout=timeout * 1000)
        canvas = page.locator(".mnist-pad canvas").first
        await canvas.wait_for(state="visible", timeout=timeout * 1000)
        await page.wait_for_function(PAD_PAINTED, timeout=timeout * 1000, polling=50)
        student.usable = time.monotonic() - start
        await canvas.scroll_into_view_if_needed()
        box = await canvas.bounding_box()
        clear = page.locator(".mnist-pad button", has_text="Clear")
        for digit in digits:
            await asyncio.sleep(THINK_TIME * rng.uniform(0.5, 1.5))
            await clear.click()
            await page.wait_for_selector('.mnist-reading [data-state="blank"]', timeout=timeout * 1000)
            await page.evaluate(
                "window.__mnist.ups = 0; window.__mnist.upTime = null; window.__mnist.readings = []"
            )
            strokes = jitter(DIGITS[digit], rng)
            for n, stroke in enumerate(strokes, 1):
                points = [
                    (box["x"] + x * box["width"] / PAD_SIZE, box["y"] + y * box["height"] / PAD_SIZE)
                    for x, y in dense(stroke, MOVE_STEP)
                ]
                await page.mouse.move(*points[0])
                await page.mouse.down()
                for point in points[1:]:
                    await asyncio.sleep(MOVE_INTERVAL)
                    await page.mouse.move(*point)
                await page.mouse.up()
                await page.wait_for_function(
                    f"window.__mnist.readings.length >= {n}", timeout=timeout * 1000, polling=20
                )
            readings = await page.evaluate("window.__mnist.readings")
            student.reading += [r["ms"] / 1000 for r in readings]
            student.drawn += 1
            student.read_right += readings[-1]["digit"] == str(digit)
        student.ink = [ms / 1000 for ms in await page.evaluate("window.__mnist.ink")]
        lost = await page.evaluate("window.__mnist.inkLost")
        if lost:
            student.failures.append(f"{lost} mouse moves never showed ink within 5 s")
        if await page.locator('.mnist-message [data-kind="reload"]').count():
            student.failures.append("the page asks to be reloaded")
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures instead of stopping
        student.failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}"[:200])
    finally:
        student.failures += [f"page error: {e}" for e in errors]
        await context.close()
    return student


@dataclass
class PageAssets:
    """The files a page loads from the server, and what a first visit and a reload transfer.

    ``urls`` as recorded by a page that landed on ``prefix`` (the Voila it was sent to, e.g. ``/s1/``);
    bytes are as sent over the network (compressed, headers included), from Chromium's own count.
    """

    urls: list[str]
    prefix: str
    first_requests: int = 0
    first_bytes: int = 0
    reload_requests: int = 0  # answered by the server, not from the browser's cache
    reload_bytes: int = 0

    def for_prefix(self, prefix: str) -> list[str]:
        """Return the URLs as a page sent to ``prefix`` asks for them (its Voila's own files, the shared ones)."""
        return [url.replace(self.prefix, prefix, 1) for url in self.urls]


async def page_assets(browser, base: str, token: str, timeout: float) -> PageAssets:
    """Return the files a real page loads from the server, and the page's weight, recorded once in Chromium.

    The page is opened with an empty cache, then reloaded. The kernel API and the page itself
    excluded from the files: light students speak to those themselves. The two pages take two
    kernels from the pool (its spares).
    """
    context = await browser.new_context()
    urls: list[str] = []
    try:
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        network = NetworkCount(cdp)
        page.on("request", lambda request: urls.append(request.url))
        await page.goto(f"http://{base}/?token={token}", timeout=timeout * 1000)
        await page.wait_for_function(PAD_PAINTED, timeout=timeout * 1000, polling=50)
        await page.wait_for_load_state("networkidle", timeout=timeout * 1000)  # fonts come last
        prefix = f"http://{base}{urlparse(page.url).path}"
        first = network.totals()
        await page.reload(timeout=timeout * 1000)
        await page.wait_for_function(PAD_PAINTED, timeout=timeout * 1000, polling=50)
        await page.wait_for_load_state("networkidle", timeout=timeout * 1000)
        reload = network.totals()
    finally:
        await context.close()
    own = f"http://{base}/"
    files = [
        url
        for url in dict.fromkeys(urls)
        if url.startswith(own)
        and "/api/" not in url
        and urlparse(url).path not in ("/", urlparse(prefix).path)
    ]
    return PageAssets(files, prefix, *first, *reload)
