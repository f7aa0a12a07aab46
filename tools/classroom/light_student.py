"""A light student: no browser, the app's own protocol spoken directly, as a load generator.

It opens the page (and the files a browser would load with it), connects to its kernel, asks for
the widgets' states as a browser's widget manager does, and sends the pad's pointer events for
each digit as the app page sends them, waiting for the final reading.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import random
import re
import time
import uuid
from urllib.parse import urlparse

from tools.classroom.chromium_student import PageAssets
from tools.classroom.page_files import fetch_files
from tools.classroom.protocol import WS_PROTOCOL, KernelSocket, comm_data, reading_of
from tools.classroom.student import MOVE_INTERVAL, MOVE_STEP, THINK_TIME, Student, jitter
from tools.classroom.teacher_page import pace, save
from tools.drawn_digits import DIGITS, Point, Stroke, dense

BATCH_INTERVAL = 0.3  # s: the app page sends a stroke's moves in batches this far apart (pad_client.js)


async def send_stroke(
    ks: KernelSocket, canvas: str, points: list[Point], per_move: bool
) -> list[list[float]]:
    """Send a stroke's pointer events as the app page does, a mouse move every MOVE_INTERVAL, pen still down.

    The app page (app/jupyter/voila/templates/mnist-app/pad_client.js) sends "mnist_down", then the
    moves in batches, one when BATCH_INTERVAL has passed since the batch's first move; it returns the
    last batch, which the page sends with the pen-up. ``per_move`` sends ipycanvas's own events
    instead, one message per move, as a page without that script does.
    """

    def custom(content: dict) -> None:
        ks.comm(canvas, {"method": "custom", "content": content})

    (x0, y0), moves = points[0], points[1:]
    if per_move:
        custom({"event": "mouse_down", "x": x0, "y": y0})
        for x, y in moves:
            await asyncio.sleep(MOVE_INTERVAL)
            custom({"event": "mouse_move", "x": x, "y": y})
        return []
    custom({"event": "mnist_down", "x": x0, "y": y0})
    batch: list[list[float]] = []
    due = math.inf
    for x, y in moves:
        await asyncio.sleep(MOVE_INTERVAL)
        if not batch:
            due = time.monotonic() + BATCH_INTERVAL
        batch.append([x, y])
        if time.monotonic() >= due:
            custom({"event": "mnist_moves", "points": batch})
            batch = []
    return batch


async def open_pad(
    base: str, token: str, timeout: float, assets: PageAssets | None = None
) -> tuple[object, KernelSocket, dict[str, str]]:
    """Open the page as a browser does and connect to its kernel; return the websocket and the pad's widget ids.

    The page's address may send the student on to one of several Voila processes (``/s1/``, ...);
    the page's files, websocket and cookies are then that one's. ``assets``: the page's own files
    (scripts, styles) to fetch first, as a browser with an empty cache does (page_files). Returns
    once the kernel has repainted the pad for this view: the pad is then usable.
    """
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    page = await AsyncHTTPClient().fetch(f"http://{base}/?token={token}", request_timeout=timeout)
    landed = f"http://{base}{urlparse(page.effective_url).path}"
    await fetch_files(assets.for_prefix(landed) if assets else [], timeout)
    config = json.loads(
        html.unescape(
            re.search(
                r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                page.body.decode(),
                re.DOTALL,
            )[1]
        )
    )
    session = uuid.uuid4().hex
    # The page's cookies go back as a browser sends them (the server may bind the kernel to its page).
    cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("Set-Cookie"))
    conn = await websocket_connect(
        HTTPRequest(
            f"ws://{base}{config['baseUrl']}api/kernels/{config['kernelId']}/channels?session_id={session}",
            headers={"Authorization": f"token {token}", **({"Cookie": cookies} if cookies else {})},
            request_timeout=timeout,
        ),
        max_message_size=64 << 20,
        subprotocols=[WS_PROTOCOL],
    )
    ks = KernelSocket(conn, session)
    # What the widget manager in a browser does first: ask the kernel for every widget's state.
    control = uuid.uuid4().hex
    waiting = ks.wait(lambda m: (comm_data(m, control) or {}).get("method") == "update_states", timeout)
    states_task = asyncio.ensure_future(waiting)
    ks.send(
        "comm_open",
        {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
        metadata={"version": "1.0.0"},  # the widget control protocol's version
    )
    ks.comm(control, {"method": "request_states"})
    ids = pad_widget_ids((await states_task)["content"]["data"]["states"])
    # A view announces itself; the kernel repaints the pad for it. Then the pad is usable.
    painted = asyncio.ensure_future(ks.wait(lambda m: comm_data(m, ids["manager"]) is not None, timeout))
    ks.comm(ids["canvas"], {"method": "custom", "content": {"event": "client_ready"}})
    await painted
    return conn, ks, ids


def pad_widget_ids(states: dict) -> dict[str, str]:
    """Return the model ids of the pad's canvas, canvas manager, reading and Clear button in ``states``."""
    ids = {}
    for model_id, s in states.items():
        st = s.get("state", {})
        if s.get("model_name") == "CanvasModel":
            ids["canvas"] = model_id
        elif s.get("model_name") == "CanvasManagerModel":
            ids["manager"] = model_id
        elif "mnist-reading" in st.get("_dom_classes", []):
            ids["reading"] = model_id
        elif s.get("model_name") == "ButtonModel" and st.get("description") == "Clear":
            ids["clear"] = model_id
        elif s.get("model_name") == "ButtonModel" and st.get("description") == "Save":
            ids["save"] = model_id  # collect mode's
        elif "mnist-message" in st.get("_dom_classes", []):
            ids["message"] = model_id
    if len(ids) < 4:
        raise RuntimeError(f"the page's widgets lack a pad: found {sorted(ids)}")
    return ids


async def draw_digit(
    ks: KernelSocket, ids: dict[str, str], strokes: list[Stroke], per_move: bool, timeout: float
) -> tuple[str | None, list[float]]:
    """Clear the pad, draw ``strokes``; return the final reading's digit and each stroke's reading latency."""
    # The kernel handles messages in order: the strokes below land on the cleared pad. (A pad
    # already blank sends no update for Clear, so there is nothing to wait for.)
    ks.comm(ids["clear"], {"method": "custom", "content": {"event": "click"}})
    result, latencies = None, []
    for n, stroke in enumerate(strokes, 1):
        last = await send_stroke(ks, ids["canvas"], dense(stroke, MOVE_STEP), per_move)
        final = asyncio.ensure_future(
            ks.wait(
                lambda m, n=n: (r := reading_of(m, ids["reading"])) is not None and r[2] == n and not r[3],
                timeout,
            )
        )
        up = time.monotonic()
        end = (
            {"event": "mouse_up", "x": stroke[-1][0], "y": stroke[-1][1]}
            if per_move
            else {"event": "mnist_up", "points": last}
        )
        ks.comm(ids["canvas"], {"method": "custom", "content": end})
        result = reading_of(await final, ids["reading"])
        latencies.append(time.monotonic() - up)
    return (result[1] if result else None), latencies


async def light_student(
    base: str,
    token: str,
    digits: list[int],
    seed: int,
    timeout: float,
    per_move: bool = False,
    assets: PageAssets | None = None,
    save_every: float = 0.0,
) -> Student:
    """One student without a browser: open the page (and its ``assets``), connect to its kernel, draw ``digits``.

    ``save_every``: click Save after each digit, at most every so many seconds (collect mode; teacher_page).
    """
    student, rng = Student("light"), random.Random(seed)
    start, last_save = time.monotonic(), None
    try:
        conn, ks, ids = await open_pad(base, token, timeout, assets)
        student.usable = time.monotonic() - start
        for digit in digits:
            await asyncio.sleep(THINK_TIME * rng.uniform(0.5, 1.5))
            read, latencies = await draw_digit(ks, ids, jitter(DIGITS[digit], rng), per_move, timeout)
            student.reading += latencies
            student.drawn += 1
            student.read_right += read == str(digit)
            if save_every:
                await pace(last_save, save_every, rng)
                last_save = time.monotonic()
                student.saves.append(await save(ks, ids, timeout))
                student.saved += 1
        conn.close()
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures instead of stopping
        student.failures.append(f"{type(exc).__name__}: {exc}"[:200])
    return student
