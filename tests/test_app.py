"""The students' app (app/app.ipynb, served by `make app`): headless, then in Voila in a real browser.

The browser tests start Voila as `make app` does (app/config/voila.py, a pool of one warm kernel)
on 127.0.0.1 with a token, and stop it and its kernels afterwards. A failing test saves a
screenshot to test-artifacts/ and names it in its message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import itertools
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import nbformat
import pytest
from browser_support import (
    app_in_chromium,
    assert_no_code,
    canvas_ink,
    chromium_page,
    mouse_draw,
    pad_canvas,
    screenshot,
    screenshot_on_failure,
    voila_server,
    wait_for_read_digit,
    wait_for_reading,
)
from nbclient import NotebookClient

from mnistlib.paths import REPO_ROOT
from tools.drawn_digits import DIGITS
from tools.local_servers import kernel_pids, parent_pid

sys.path.insert(0, str(REPO_ROOT / "app" / "config"))
import app_pool  # app/config/app_pool.py, imported as app/config/voila.py imports it

APP = REPO_ROOT / "app" / "app.ipynb"
RELOAD_MESSAGE = '.mnist-pad .mnist-message [data-kind="reload"]'

# Run after the app's cells, in the same kernel: what the app cost this kernel.
IMPORT_CHECK = """import sys
heavy = sorted(m for m in ("matplotlib", "torchvision", "pandas") if m in sys.modules)
assert not heavy, f"the app imported {heavy}: every student's kernel pays for them"
print("no heavy imports")"""


def test_the_app_notebook_runs_headless_and_shows_only_a_pad():
    nb = nbformat.read(APP, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(code) == 1 and "DrawingPad(" in code[0].source, "the app should be one cell showing the pad"
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code), (
        "commit app/app.ipynb fully stripped (no outputs, no counts): nbval refuses half-stripped cells"
    )
    nb.cells.append(nbformat.v4.new_code_cell(IMPORT_CHECK))
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(APP.parent)}}
    ).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"], outputs
    views = [out for out in outputs if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    assert len(views) == 1, f"expected one widget (the pad), got {len(views)}: {outputs}"
    assert "no heavy imports" in outputs[-1].get("text", "")


# ---- in Voila, in a browser ------------------------------------------------------------------------


def kernel_pid(server, kernel_id: str) -> int:
    """Return the pid of the server's kernel process ``kernel_id`` (its connection file names it)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (
                    parent_pid(int(entry.name)) == server.process.pid
                    and kernel_id.encode() in (entry / "cmdline").read_bytes()
                ):
                    return int(entry.name)
    raise AssertionError(f"no process of kernel {kernel_id} among the server's children")


@pytest.fixture(scope="module")
def app_page(playwright, tmp_path_factory):
    """The app served as `make app` serves it, open in Chromium (from any directory pytest runs in)."""
    with app_in_chromium(playwright, APP, tmp_path_factory.mktemp("app"), "app-open") as page:
        yield page


def test_the_app_page_is_the_pad_alone_and_reads_a_drawing(app_page):
    page = app_page
    with screenshot_on_failure(page, "app-draw"):
        assert_no_code(page, "DrawingPad", "import", "Exercises", "For teachers")
        for name in ("Clear", "Undo", "Upload"):
            assert page.locator(".mnist-pad button", has_text=name).count() == 1, f"no {name} button"
        mouse_draw(page, DIGITS[7])
        wait_for_read_digit(page, 7)
        assert canvas_ink(page)["ink"] > 2000, "the strokes do not show on the canvas"
        assert page.locator(RELOAD_MESSAGE).count() == 0
        assert not page.js_errors, f"errors in the page: {page.js_errors}"
        screenshot(page, "app-reads-7")


def server_kernels(server) -> list[int]:
    """Return the pids of the app kernels forked from the server's kernel template (app/fork)."""
    kernels = kernel_pids(server.process.pid, forked_only=True)
    assert kernels, "no kernel forked from the app's template: is APP_FORK off?"
    return kernels


def batch_points(frame: bytes) -> int:
    """Return how many points a websocket frame's "mnist_moves" or "mnist_up" message carries."""
    start = frame.index(b'"points":') + len(b'"points":')
    points, _ = json.JSONDecoder().raw_decode(frame[start:].decode(errors="replace").lstrip())
    return len(points)


def test_the_page_inks_strokes_itself_and_sends_them_in_batches(app_page):
    """Ink does not wait for the kernel (pad_client.js); a stroke is a few messages, not one per move."""
    page = app_page
    sent: list[bytes] = []

    def watch(ws) -> None:
        ws.on(
            "framesent",
            lambda payload: sent.append(payload if isinstance(payload, bytes) else payload.encode()),
        )

    page.on("websocket", watch)
    with screenshot_on_failure(page, "app-batches"):
        page.goto(page.app_url)  # a new page, so that its kernel's websocket is watched from the start
        pad_canvas(page)
        wait_for_reading(page, "blank", timeout=60_000)
        page.wait_for_timeout(1500)  # the script takes the pad over within a second of its appearing
        sent.clear()
        mouse_draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        # mouse_draw moves the mouse every 6 px along the stroke.
        moves = sum(math.ceil(math.dist(a, b) / 6) for a, b in itertools.pairwise(DIGITS[1][0]))
        batches = [batch_points(frame) for frame in sent if b"mnist_moves" in frame]
        ups = [batch_points(frame) for frame in sent if b"mnist_up" in frame]
        # Only the move to the stroke's start (pen up, before the page's first stroke of its own: a
        # stroke begun before the script took the pad over stays ipycanvas's) may pass as ipycanvas's.
        per_move = [f for f in sent if b'"mouse_move"' in f]
        assert len(per_move) <= 1, f"the page sent ipycanvas's one message per move ({len(per_move)})"
        # At most one batch every 300 ms, the last one sent with the pen-up: Playwright's moves come a
        # few ms apart, several per batch.
        assert len(batches) <= moves / 2, f"{len(batches)} batches for {moves} moves"
        assert sum(b"mnist_down" in f for f in sent) == 1 and len(ups) == 1
        held = sum(batches) + ups[0]
        assert held == moves, f"the batches and the pen-up hold {held} of the stroke's {moves} moves"
        before = canvas_ink(page)["ink"]
        kernels = server_kernels(page.server)
        for pid in kernels:  # every kernel stopped: only the page itself can ink the next stroke
            os.kill(pid, signal.SIGSTOP)
        try:
            mouse_draw(page, DIGITS[7])
            page.wait_for_timeout(200)
            during = canvas_ink(page)["ink"]
        finally:
            for pid in kernels:
                os.kill(pid, signal.SIGCONT)
        assert during > before + 1000, f"no ink while the kernel was stopped ({before} -> {during} px)"
        # The kernel catches up: it reads both strokes, and its own copy of the canvas keeps the ink.
        page.wait_for_selector('.mnist-reading [data-strokes="2"][data-live="false"]', timeout=30_000)
        assert canvas_ink(page)["ink"] >= during - 50
        assert not page.js_errors, f"errors in the page: {page.js_errors}"
        screenshot(page, "app-inked-by-the-page")


def test_a_dead_kernel_says_reload_and_a_reload_gives_a_working_pad(app_page):
    page = app_page
    with screenshot_on_failure(page, "app-kernel-death"):
        kernel_id = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        os.kill(kernel_pid(page.server, kernel_id), signal.SIGKILL)
        # The server notices within its restarter's few seconds; the page must say so, not sit dead.
        page.wait_for_selector(RELOAD_MESSAGE, timeout=30_000)
        assert "Reload the page" in page.locator(RELOAD_MESSAGE).inner_text()
        assert page.locator(".mnist-pad.mnist-pad-lost").count() == 1, "the dead pad still looks usable"
        screenshot(page, "app-kernel-lost")
        start = time.monotonic()
        page.locator(".mnist-reload").click()  # the message's own button reloads the page
        page.wait_for_selector(".mnist-pad canvas", timeout=90_000)
        wait_for_reading(page, "blank", timeout=60_000)
        mouse_draw(page, DIGITS[1])
        wait_for_read_digit(page, 1)
        assert page.locator(RELOAD_MESSAGE).count() == 0, "the new page still says reload"
        assert time.monotonic() - start < 120


def test_a_culled_kernel_says_reload(playwright, tmp_path, monkeypatch):
    # Its own server, culling a kernel after 15 idle seconds (looking every 2 s), even with its page open.
    monkeypatch.setenv("APP_CULL_IDLE", "15")
    monkeypatch.setenv("APP_CULL_INTERVAL", "2")
    with (
        voila_server(APP, tmp_path / "home") as server,
        chromium_page(playwright, tmp_path / "chromium") as page,
        screenshot_on_failure(page, "app-culled"),
    ):
        page.goto(f"{server.url}/?token={server.token}")
        wait_for_reading(page, "blank", timeout=60_000)
        page.wait_for_selector(RELOAD_MESSAGE, timeout=45_000)
        assert page.locator(RELOAD_MESSAGE).get_attribute("data-reason") == "gone"
        assert "Culling" in server.log_tail(), "the kernel went away, but not by culling"


# ---- the pool: its size for a class, and refills one at a time while the class is quiet ------------

NB = "app.ipynb"


class FakeVoilaPool:
    """The part of Voila's VoilaKernelManager that serial_refill builds on: a pool of kernel-start tasks.

    A "kernel" takes ``run`` s to run the notebook; it records how many run at once and when each began.
    """

    def __init__(self, size: int, run: float = 0.05) -> None:
        self.size, self.run, self.running, self.most_at_once, self.began = size, run, 0, 0, []
        self.last_kernel_activity = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        self._pools: dict[str, list] = {}
        self.fill_if_needed()

    def fill_if_needed(self) -> None:
        pool = self._pools.setdefault(NB, [])
        while len(pool) < self.size:  # Voila queues every missing kernel at once
            pool.append(asyncio.ensure_future(self._initialize(NB)))

    async def _initialize(self, notebook_path: str, kernel_id: str | None = None, **kwargs) -> dict:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.began.append(time.monotonic())

        async def notebook() -> None:
            await asyncio.sleep(self.run)
            self.running -= 1

        return {"task": asyncio.ensure_future(notebook()), "kernel_id": f"k{len(self.began)}"}

    async def get_rendered_notebook(self, notebook_name: str, **kwargs) -> dict:
        content = await self._pools[notebook_name].pop(0)
        self.fill_if_needed()
        return content

    def touch(self) -> None:
        """A kernel sent a message (a student draws)."""
        self.last_kernel_activity = datetime.datetime.now(datetime.timezone.utc)


Pool = app_pool.serial_refill(FakeVoilaPool, quiet=0.4, poll=0.02)


def run(scenario):
    """Run the coroutine function ``scenario`` in its own thread's event loop (Playwright's holds this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario()).result()


def test_the_pool_holds_the_class_and_spares_for_reloads():
    assert [app_pool.pool_size(n) for n in (0, 1, 10, 11, 30)] == [0, 3, 12, 13, 33]
    with pytest.raises(ValueError, match="STUDENTS"):
        app_pool.pool_size(-1)


def test_the_first_fill_starts_kernels_one_at_a_time_without_waiting_for_quiet():
    async def scenario() -> FakeVoilaPool:
        manager = Pool(size=4)
        manager.touch()  # activity does not hold back the first fill: nobody draws yet
        await asyncio.wait_for(asyncio.gather(*manager._pools[NB]), 2)
        await asyncio.sleep(0.1)
        return manager

    manager = run(scenario)
    assert len(manager.began) == 4
    assert manager.most_at_once == 1, "kernels of the first fill ran the notebook at the same time"


def test_a_refill_waits_until_the_class_stops_drawing():
    async def scenario() -> tuple[float, float]:
        manager = Pool(size=2)
        await asyncio.gather(*manager._pools[NB])
        taken = time.monotonic()
        await manager.get_rendered_notebook(NB)
        stop_drawing = taken + 1.0
        while time.monotonic() < stop_drawing:  # a student draws: a message every 50 ms
            manager.touch()
            await asyncio.sleep(0.05)
        await asyncio.wait_for(manager._pools[NB][-1], 2)
        return manager.began[-1] - taken, stop_drawing - taken

    refill_after, drawing_for = run(scenario)
    assert refill_after >= drawing_for + 0.3, f"the refill started {refill_after:.2f} s in, while drawing"
    assert refill_after < drawing_for + 1.0, f"the refill waited {refill_after:.2f} s, long after drawing"


def test_a_page_that_takes_a_refill_not_started_yet_does_not_wait_for_quiet():
    async def scenario() -> float:
        manager = Pool(size=1)
        await asyncio.gather(*manager._pools[NB])
        await manager.get_rendered_notebook(NB)  # the pool now holds a refill waiting for quiet
        manager.touch()
        drawing = asyncio.ensure_future(draw_forever(manager))
        start = time.monotonic()
        await asyncio.wait_for(manager.get_rendered_notebook(NB), 2)  # a reload, while others draw
        drawing.cancel()
        return time.monotonic() - start

    async def draw_forever(manager: FakeVoilaPool) -> None:
        while True:
            manager.touch()
            await asyncio.sleep(0.05)

    assert run(scenario) < 0.3, "the page waited for the class to stop drawing"
