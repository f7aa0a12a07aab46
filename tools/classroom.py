"""Classroom load benchmark for the students' app: N students open `make app`'s page at once and draw.

    python tools/classroom.py --students 30 --browsers 3        # or: make classroom STUDENTS=30 BROWSERS=3
    python tools/classroom.py --students 5 --browsers 1 --delay-ms 100 --pool 7

A benchmark, not a test: it prints figures and fails only when it cannot run. It starts Voila on
127.0.0.1 as `make app` does (app/config/voila.py, a pool of ``--pool`` warm kernels: by default
`make app STUDENTS=N`'s, N plus spares), waits for the pool to be warm, as a teacher would start the server before class, then lets every student in at once:

* light students (N - K) speak the app's own protocol, as a load generator: they GET the page and the
  files a real page loads (recorded once in Chromium before the class; ``--no-assets``: the page
  alone), take the kernel id and widget ids from it and the kernel, connect to ``/api/kernels/<id>/channels``,
  send the pad's pointer events for real digit strokes as the app page sends them (a mouse move
  every 1/60 s, sent in batches of 0.3 s by app/jupyter/voila/templates/mnist-app/pad_client.js;
  ``--per-move``: ipycanvas's one message per move, as JupyterLab sends them) and wait for the
  reading widget to show ``data-digit``;
* browser students (K) are Debian's Chromium pages drawing with the mouse on ``.mnist-pad canvas``;
  ink (mouse move -> the stroke's pixel on the canvas) and reading (mouse up -> final reading)
  latencies are measured inside the page.

It prints, per kind of student: time to a usable pad, ink and reading latency (p50/p90/max),
accuracy (digits read as drawn) and failures; and the memory of the server and its kernels (PSS,
browsers excluded) per student. ``--delay-ms`` puts a delaying TCP proxy (half the delay each way)
between the students and Voila. Everything is bounded in time, and every process group it starts
is killed on exit.

Voila runs in its own session, so with Linux's autogroup scheduling (on by default) the server and
its kernels get a share of the CPU apart from the students' side, as on a server of their own; but
also apart from anything else on the machine: figures taken while other sessions keep the cores
busy are slower, whatever those sessions' nice level (``cat /proc/loadavg`` before a run).
Chromium runs in a session of its own too; the benchmark gives it the lowest weight, so its pages (which
stand for laptops of their own) take only the CPU the server and the light students leave
(``--browsers-share-cpu``: an equal share).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import html
import itertools
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_NOTEBOOK = REPO_ROOT / "app" / "app.ipynb"
APP_CONFIG = REPO_ROOT / "app" / "config"
sys.path[:0] = [str(REPO_ROOT), str(APP_CONFIG)]  # also when run as `python tools/classroom.py`
import app_pool  # app/config/app_pool.py: the pool size `make app STUDENTS=N` uses

from tools.local_servers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    cpu_seconds,
    free_port,
    isolated_env,
    pss_bytes,
    voila_args,
)

PAD = 280  # the pad's size in CSS and canvas pixels (mnistlib.classroom.strokes.PAD_SIZE)
MOVE_INTERVAL = 1 / 60  # s between two pointer events: a mouse reports about 60 a second
THINK_TIME = 1.0  # s a student pauses between two digits
BATCH_INTERVAL = 0.3  # s: the app page sends a stroke's moves in batches this far apart (pad_client.js)

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> list[Point]:
    """Return points on an ellipse from angle ``a0`` to ``a1`` (degrees, 0 at the top, clockwise)."""
    return [
        (
            cx + rx * math.sin(math.radians(a0 + (a1 - a0) * i / n)),
            cy - ry * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
        )
        for i in range(n + 1)
    ]


# The ten digits, drawn in pad pixels (x right, y down) the way a person draws them; each one is read
# correctly by both shipped models when rasterised by mnistlib.classroom.strokes.Strokes (checked by hand).
DIGITS: dict[int, list[list[Point]]] = {
    0: [_arc(140, 140, 62, 95, 0, 370, 36)],
    1: [[(150, 45), (140, 140), (132, 235)]],
    2: [_arc(140, 95, 55, 50, -70, 120, 16) + [(85, 235), (200, 235)]],
    3: [_arc(135, 92, 52, 45, -60, 180, 16) + _arc(135, 185, 58, 50, 0, 220, 16)[1:]],
    4: [[(165, 45), (80, 170), (205, 170)], [(165, 95), (160, 240)]],
    5: [[(195, 50), (100, 50), (92, 130)] + _arc(138, 180, 58, 55, -60, 220, 18)[1:]],
    6: [[(185, 50), (120, 110), (90, 180)] + _arc(140, 185, 52, 50, 250, 620, 26)],
    7: [[(75, 55), (205, 55), (160, 140), (120, 235)]],
    8: [_arc(140, 92, 45, 45, 180, 540, 24) + _arc(140, 185, 55, 52, 0, 360, 28)],
    9: [_arc(140, 95, 50, 48, 90, 450, 24) + [(188, 100), (180, 170), (165, 240)]],
}


def densify(stroke: Sequence[Point], step: float = 6.0) -> list[Point]:
    """Return the stroke's points with extra ones every ``step`` px, as a hand moving a mouse sends them."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, math.ceil(math.dist((x0, y0), (x1, y1)) / step))
        points += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return points


def jitter(strokes: list[list[Point]], rng: random.Random) -> list[list[Point]]:
    """Return the strokes a little smaller or larger and shifted, as no two students draw alike."""
    scale, dx, dy = rng.uniform(0.85, 1.05), rng.uniform(-12, 12), rng.uniform(-10, 10)
    return [
        [(140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy) for x, y in stroke]
        for stroke in strokes
    ]


# ---- results ------------------------------------------------------------------------------------


@dataclass
class Student:
    """What one simulated student saw."""

    kind: str  # "light" or "browser"
    usable: float | None = None  # s from opening the page to a pad that takes strokes
    ink: list[float] = field(default_factory=list)  # s, mouse move -> pixel on the canvas (browser)
    reading: list[float] = field(default_factory=list)  # s, pointer up -> final reading
    drawn: int = 0
    read_right: int = 0
    failures: list[str] = field(default_factory=list)


def percentiles(values: Sequence[float]) -> str:
    """Return 'p50 / p90 / max' of ``values`` in ms, or '-' if there are none."""
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return f"{1000 * statistics.median(ordered):.0f} / {1000 * p90:.0f} / {1000 * ordered[-1]:.0f} ms"


def seconds(values: Sequence[float]) -> str:
    """Return 'p50 / p90 / max' of ``values`` in s."""
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return f"{statistics.median(ordered):.1f} / {p90:.1f} / {ordered[-1]:.1f} s"


# ---- memory -------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants' pids, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


# ---- the server and the proxy -------------------------------------------------------------------


def pss_mb(pids: Sequence[int]) -> float:
    """Return the summed proportional set size (PSS) of ``pids`` in MB: shared pages counted once in all."""
    return pss_bytes(pids) / 2**20


def start_voila(port: int, token: str, pool: int, home: Path, log: Path) -> subprocess.Popen:
    """Start Voila as `make app` does, in its own process group, on 127.0.0.1:``port``."""
    env = isolated_env(home)
    env["APP_POOL"] = str(pool)
    return subprocess.Popen(
        voila_args(APP_NOTEBOOK, port, token),
        env=env,
        cwd=REPO_ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kernel_pids(server_pid: int) -> list[int]:
    """Return the pids of the server's kernels: ipykernel processes, or children of the kernel template.

    App kernels forked from the template (app/fork/kernels/python3/fork_kernel.py) keep its command line.
    """
    found = []
    for pid in descendants(server_pid)[1:]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            forked = b"fork_kernel.py\x00serve" in Path(f"/proc/{ppid}/cmdline").read_bytes()
            if b"ipykernel_launcher" in cmdline or forked:
                found.append(pid)
    return found


def cpu_split(server_pid: int) -> tuple[float, float, float]:
    """Return the CPU s used so far by the server process, its kernels, and this benchmark's side.

    This benchmark's side is this process (the light students) and its other children (Chromium).
    """
    server_side = set(descendants(server_pid))
    ours = [pid for pid in descendants(os.getpid()) if pid not in server_side]
    return cpu_seconds([server_pid]), cpu_seconds(kernel_pids(server_pid)), cpu_seconds(ours)


def wait_for_warm_pool(server: subprocess.Popen, pool: int, timeout: float, log: Path) -> float:
    """Wait until ``pool`` kernels run and none has used CPU for 2 s (the app notebook has run in them).

    Voila has no API that lists kernels, and its "pool is filled" log line comes when the kernels have
    started, before they have run the notebook.
    """
    start, before = time.monotonic(), {}
    while time.monotonic() - start < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"Voila stopped:\n{log.read_text(errors='replace')[-3000:]}")
        now = {pid: cpu_seconds([pid]) for pid in kernel_pids(server.pid)}
        if len(now) >= pool and now.keys() == before.keys() and all(now[p] - before[p] < 0.05 for p in now):
            return time.monotonic() - start
        before = now
        time.sleep(2)
    raise RuntimeError(
        f"the pool of {pool} kernels was not warm after {timeout:.0f} s "
        "(a slow or busy machine? try a smaller --pool)"
    )


async def delay_proxy(listen_port: int, upstream_port: int, delay: float) -> None:
    """Forward 127.0.0.1:listen_port to upstream_port, each byte ``delay`` s late in each direction."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def send() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(send())
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + delay, data))
        queue.put_nowait(None)
        with contextlib.suppress(ConnectionError):
            await sender

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


# ---- light students: the app's protocol, spoken directly ------------------------------------------


# The kernel websocket protocol a browser speaks (jupyter_server's "v1.kernel.websocket.jupyter.org"):
# every frame is binary: the number of offsets, the offsets (8 bytes little-endian each), then the
# channel name, header, parent header, metadata, content (JSON) and any buffers. Voila 0.5.13 reads
# every binary frame it sends as this protocol: a client of the older JSON protocol receiving a
# binary frame (a widget state with an image in it) sends Voila's server into an endless loop.
WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def pack_v1(channel: str, header: dict, parent: dict, metadata: dict, content: dict) -> bytes:
    """Encode one message as a v1 binary websocket frame."""
    parts = [channel.encode()] + [json.dumps(x).encode() for x in (header, parent, metadata, content)]
    offsets = [8 * (len(parts) + 2)]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return b"".join([len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets), *parts])


def unpack_v1(frame: bytes) -> dict:
    """Decode a v1 binary websocket frame into {channel, header, msg_type, content} (buffers dropped)."""
    n = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(n)]
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(n - 1)]
    header = json.loads(parts[1])
    return {
        "channel": parts[0].decode(),
        "header": header,
        "msg_type": header["msg_type"],
        "content": json.loads(parts[4]),
    }


class KernelSocket:
    """One student's websocket to its kernel: send comm messages, wait for the ones that match."""

    def __init__(self, conn, session: str) -> None:
        self.conn, self.session = conn, session
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.listeners: list = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while (frame := await self.conn.read_message()) is not None:
            msg = unpack_v1(frame) if isinstance(frame, bytes) else json.loads(frame)
            for listener in list(self.listeners):
                listener(msg)
        for listener in list(self.listeners):
            listener(None)  # closed

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> None:
        """Send one shell message."""
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "student",
            "session": self.session,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3",
        }
        self.conn.write_message(pack_v1("shell", header, {}, metadata or {}, content), binary=True)

    def comm(self, comm_id: str, data: dict) -> None:
        """Send a comm message to a widget."""
        self.send("comm_msg", {"comm_id": comm_id, "data": data})

    async def wait(self, match, timeout: float) -> dict:
        """Return the first message from now on for which ``match(msg)`` is true."""
        future = asyncio.get_running_loop().create_future()

        def listener(msg: dict | None) -> None:
            if future.done():
                return
            if msg is None:
                future.set_exception(ConnectionError("the kernel's websocket closed"))
            elif match(msg):
                future.set_result(msg)

        self.listeners.append(listener)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.listeners.remove(listener)


def comm_data(msg: dict, comm_id: str) -> dict | None:
    """Return a comm message's data if it is for ``comm_id``."""
    if msg.get("msg_type", msg.get("header", {}).get("msg_type")) != "comm_msg":
        return None
    content = msg.get("content", {})
    return content.get("data") if content.get("comm_id") == comm_id else None


READING = re.compile(r'data-state="(\w+)" data-digit="(\d*)" data-strokes="(\d+)" data-live="(\w+)"')


def reading_of(msg: dict, reading_id: str) -> tuple[str, str, int, bool] | None:
    """Return (state, digit, strokes, live) if ``msg`` updates the reading widget."""
    data = comm_data(msg, reading_id)
    value = (
        (data or {}).get("state", {}).get("value")
        if data and data.get("method") in ("update", "echo_update")
        else None
    )
    match = READING.search(value or "")
    return (match[1], match[2], int(match[3]), match[4] == "true") if match else None


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
    base: str, token: str, timeout: float, assets: Sequence[str] = ()
) -> tuple[object, KernelSocket, dict[str, str]]:
    """Open the page as a browser does and connect to its kernel; return the websocket and the pad's widget ids.

    ``assets``: the page's own files (scripts, styles) to fetch first, six at a time as a browser
    does; a browser's cache starts empty in class. Returns once the kernel has repainted the pad
    for this view: the pad is then usable.
    """
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    client = AsyncHTTPClient()
    page = await client.fetch(f"http://{base}/?token={token}", request_timeout=timeout)
    lanes = asyncio.Semaphore(6)  # a browser's connections to one server

    async def fetch(url: str) -> None:
        async with lanes:
            await client.fetch(url, request_timeout=timeout)

    await asyncio.gather(*(fetch(url) for url in assets))
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
    conn = await websocket_connect(
        HTTPRequest(
            f"ws://{base}/api/kernels/{config['kernelId']}/channels?session_id={session}",
            headers={"Authorization": f"token {token}"},
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
    if len(ids) < 4:
        raise RuntimeError(f"the page's widgets lack a pad: found {sorted(ids)}")
    return ids


async def draw_digit(
    ks: KernelSocket, ids: dict[str, str], strokes: list[list[Point]], per_move: bool, timeout: float
) -> tuple[str | None, list[float]]:
    """Clear the pad, draw ``strokes``; return the final reading's digit and each stroke's reading latency."""
    # The kernel handles messages in order: the strokes below land on the cleared pad. (A pad
    # already blank sends no update for Clear, so there is nothing to wait for.)
    ks.comm(ids["clear"], {"method": "custom", "content": {"event": "click"}})
    result, latencies = None, []
    for n, stroke in enumerate(strokes, 1):
        last = await send_stroke(ks, ids["canvas"], densify(stroke), per_move)
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
    assets: Sequence[str] = (),
) -> Student:
    """One student without a browser: open the page (and its ``assets``), connect to its kernel, draw ``digits``."""
    student, rng = Student("light"), random.Random(seed)
    start = time.monotonic()
    try:
        conn, ks, ids = await open_pad(base, token, timeout, assets)
        student.usable = time.monotonic() - start
        for digit in digits:
            await asyncio.sleep(THINK_TIME * rng.uniform(0.5, 1.5))
            read, latencies = await draw_digit(ks, ids, jitter(DIGITS[digit], rng), per_move, timeout)
            student.reading += latencies
            student.drawn += 1
            student.read_right += read == str(digit)
        conn.close()
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures instead of stopping
        student.failures.append(f"{type(exc).__name__}: {exc}"[:200])
    return student


# ---- browser students: Chromium, a real mouse, latencies measured in the page ---------------------


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
# up to half a pixel further: at 8 px the last move of a stroke, which no later segment covers, sat
# on the antialiased edge and never counted as ink); if it is not ink yet, the time until it turns
# bright (checked every animation frame). Reading: from a mouse-up to the reading widget showing a
# final (not live) reading of that many strokes.
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

PAINTED = """() => { const c = document.querySelector('.mnist-pad canvas'); if (!c) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 400) if (d[i] < 255) return false; return true; }"""


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
        await page.wait_for_function(PAINTED, timeout=timeout * 1000, polling=50)
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
            for stroke in strokes:
                points = [
                    (box["x"] + x * box["width"] / PAD, box["y"] + y * box["height"] / PAD)
                    for x, y in densify(stroke)
                ]
                await page.mouse.move(*points[0])
                await page.mouse.down()
                for point in points[1:]:
                    await asyncio.sleep(MOVE_INTERVAL)
                    await page.mouse.move(*point)
                await page.mouse.up()
                await page.wait_for_function(
                    f"window.__mnist.readings.length >= {strokes.index(stroke) + 1}",
                    timeout=timeout * 1000,
                    polling=20,
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


# ---- the run ------------------------------------------------------------------------------------


async def sample_memory(pid: int, samples: list[float], kernels: list[int], stop: asyncio.Event) -> None:
    """Record the server's and its kernels' PSS, and how many kernels run, every 2 s until ``stop`` is set.

    In a thread: reading 30 kernels' smaps_rollup takes up to seconds on a busy machine, and in this
    loop it would stall every light student (they measured that stall, not the app).
    """
    while not stop.is_set():
        samples.append(await asyncio.to_thread(lambda: pss_mb(descendants(pid))))
        kernels.append(len(await asyncio.to_thread(kernel_pids, pid)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)


async def page_assets(browser, base: str, token: str, timeout: float) -> list[str]:
    """Return the URLs of the files a real page loads from the server, recorded once in Chromium.

    The kernel API and the page itself excluded: light students speak to those themselves. The
    page used takes one kernel from the pool (one of its spares).
    """
    context = await browser.new_context()
    urls: list[str] = []
    try:
        page = await context.new_page()
        page.on("request", lambda request: urls.append(request.url))
        await page.goto(f"http://{base}/?token={token}", timeout=timeout * 1000)
        await page.wait_for_function(PAINTED, timeout=timeout * 1000, polling=50)
    finally:
        await context.close()
    own = f"http://{base}/"
    return [
        url
        for url in dict.fromkeys(urls)
        if url.startswith(own) and "/api/" not in url and not url.startswith(f"{own}?")
    ]


async def run_class(
    args: argparse.Namespace, server: subprocess.Popen, base: str, token: str
) -> tuple[list[Student], list[float], list[int], tuple[float, ...]]:
    """Let every student in at once; return what each saw, memory samples, kernel counts, CPU used.

    The CPU used is (server s, kernels s, students' side s, class's wall-clock s).
    """
    rng = random.Random(args.seed)
    plans = [[rng.randrange(10) for _ in range(args.digits)] for _ in range(args.students)]
    samples: list[float] = []
    kernels: list[int] = []
    stop = asyncio.Event()
    from tornado.httpclient import AsyncHTTPClient

    # All students at once, each with a browser's six connections, not 10 requests by 10.
    AsyncHTTPClient.configure(None, max_clients=6 * args.students + 10)
    browser = playwright = sampler = None
    try:
        if args.browsers or args.assets:
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            if args.yield_browsers:
                yield_cpu([pid for pid in descendants(os.getpid()) if chromium(pid)])
        args.asset_urls = await page_assets(browser, base, token, args.timeout) if args.assets else []
        sampler = asyncio.create_task(sample_memory(server.pid, samples, kernels, stop))
        cpu_before, start = cpu_split(server.pid), time.monotonic()
        kinds = ["browser" if i < args.browsers else "light" for i in range(args.students)]
        tasks = [
            asyncio.ensure_future(
                browser_student(browser, base, token, plans[i], args.seed + i, args.timeout)
                if kinds[i] == "browser"
                else light_student(
                    base, token, plans[i], args.seed + i, args.timeout, args.per_move, args.asset_urls
                )
            )
            for i in range(args.students)
        ]
        # The whole class is bounded too: a student still drawing then counts as a failure.
        await asyncio.wait(tasks, timeout=args.class_timeout)
        cpu_after, wall = cpu_split(server.pid), time.monotonic() - start
        students = []
        for kind, task in zip(kinds, tasks, strict=True):
            if task.done():
                students.append(task.result())
            else:
                task.cancel()
                students.append(Student(kind, failures=[f"not done after {args.class_timeout:.0f} s"]))
    finally:
        stop.set()
        if sampler is not None:
            await sampler
        if browser is not None:
            await browser.close()
        if playwright is not None:
            await playwright.stop()
    cpu = (*(after - before for after, before in zip(cpu_after, cpu_before, strict=True)), wall)
    return students, samples, kernels, cpu


def report(
    students: list[Student],
    samples: list[float],
    kernels: list[int],
    cpu: tuple[float, ...],
    baseline: float,
    args: argparse.Namespace,
    warm: float,
) -> None:
    """Print the figures, one block per kind of student."""
    print(
        f"\n{args.students} students ({args.students - args.browsers} light, {args.browsers} in Chromium), "
        f"pool {args.pool}, network delay {args.delay_ms:.0f} ms round trip, {args.digits} digits each"
    )
    how = "one message per mouse move" if args.per_move else "the app page's batches (pad_client.js)"
    print(f"light students send strokes as {how}")
    if args.asset_urls:
        print(
            f"light students fetch the page's {len(args.asset_urls)} files, as a browser with an empty "
            "cache does (recorded in Chromium before the class)"
        )
    else:
        print("light students fetch the page alone, not its JavaScript (--no-assets, or no Chromium)")
    print(f"pool warm after {warm:.1f} s; server + pool before class: {baseline:.0f} MB PSS")
    peak = max(samples, default=baseline)
    print(
        f"server + kernels while drawing: peak {peak:.0f} MB PSS = {peak / args.students:.0f} MB per student "
        "(browsers excluded)"
    )
    # Refills (kernels started to replace the ones taken) compete with the class for the CPU.
    print(
        f"kernels while drawing: up to {max(kernels, default=0)} (pool {args.pool}: more means refills ran)"
    )
    # Where the 2 cores went: a server or kernels near the machine's core count explain slow readings.
    # The students' side (light clients, Chromium) shares the machine here, unlike in a real class.
    server_cpu, kernel_cpu, students_cpu, wall = cpu
    digits = max(1, sum(s.drawn for s in students))
    print(
        f"CPU during the class ({wall:.0f} s): server {server_cpu:.0f} s = {server_cpu / wall:.2f} cores, "
        f"kernels {kernel_cpu:.0f} s = {kernel_cpu / wall:.2f} cores, students' side (light clients + "
        f"Chromium) {students_cpu:.0f} s = {students_cpu / wall:.2f} cores ({os.cpu_count()} on this machine)"
    )
    print(
        f"CPU per digit drawn: server {1000 * server_cpu / digits:.0f} ms, kernels {1000 * kernel_cpu / digits:.0f} ms"
    )
    for kind in ("light", "browser"):
        group = [s for s in students if s.kind == kind]
        if not group:
            continue
        usable = [s.usable for s in group if s.usable is not None]
        drawn = sum(s.drawn for s in group)
        right = sum(s.read_right for s in group)
        failed = [s for s in group if s.failures]
        print(
            f"  {kind:7s} x{len(group):<3d} usable pad  {seconds(usable)} (p50 / p90 / max; {len(usable)} of "
            f"{len(group)})"
        )
        if kind == "browser":
            print(f"              ink         {percentiles([v for s in group for v in s.ink])}")
        print(f"              reading     {percentiles([v for s in group for v in s.reading])}")
        print(
            f"              accuracy    {right} of {drawn} digits read as drawn; "
            f"{len(failed)} student(s) with failures"
        )
        for s in failed[:5]:
            print(f"                - {'; '.join(s.failures)[:300]}")


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``process`` listens on 127.0.0.1:``port`` (the proxy imports mnistlib, hence torch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the delaying proxy did not listen on port {port} within {timeout:.0f} s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line; fill in the pool's size and check what the run needs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=5, help="students opening the page at once")
    parser.add_argument("--browsers", type=int, default=1, help="how many of them use a real Chromium page")
    parser.add_argument(
        "--pool", type=int, default=None, help="warm kernels (default: one per student and spares)"
    )
    parser.add_argument("--delay-ms", type=float, default=0.0, help="network round-trip delay to add")
    parser.add_argument("--digits", type=int, default=3, help="digits each student draws")
    # Bounds: warming (the pool's kernels start one at a time), then the class, then clean-up stay
    # under 7 minutes in all.
    parser.add_argument("--timeout", type=float, default=60.0, help="s a student waits for any one step")
    parser.add_argument("--class-timeout", type=float, default=120.0, help="s all students have to finish")
    parser.add_argument("--warm-timeout", type=float, default=240.0, help="s to wait for the pool to warm up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-assets",
        dest="assets",
        action="store_false",
        help="light students fetch only the page, not the ~100 files of Voila's JavaScript a real page loads "
        "(those are recorded once in Chromium before the class, when it is installed)",
    )
    parser.add_argument(
        "--browsers-share-cpu",
        dest="yield_browsers",
        action="store_false",
        help="give the Chromium pages an equal share of the cores with the server (by default they "
        "take only what the server and the light students leave, as laptops of their own would)",
    )
    parser.add_argument(
        "--per-move",
        action="store_true",
        help="light students send one message per mouse move (ipycanvas's own events, as in JupyterLab) "
        "instead of the app page's batches",
    )
    args = parser.parse_args(argv)
    args.browsers = min(args.browsers, args.students)
    args.assets = args.assets and Path(CHROMIUM).exists()
    args.pool = app_pool.pool_size(args.students) if args.pool is None else args.pool
    if args.students < 1 or args.digits < 1:
        parser.error("--students and --digits must be at least 1")
    if args.browsers and not Path(CHROMIUM).exists():
        parser.error(
            f"--browsers needs Chromium at {CHROMIUM} (apt-get install chromium), or use --browsers 0"
        )
    return args


def start_proxy(port: int, delay_ms: float) -> tuple[subprocess.Popen, int]:
    """Start the delaying proxy in front of 127.0.0.1:``port`` as its own process; return it and its port."""
    proxy_port = free_port()
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.classroom",
            "--proxy",
            str(proxy_port),
            str(port),
            str(delay_ms / 2000),
        ],
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    wait_for_port(proxy_port, proxy, timeout=60)
    return proxy, proxy_port


def stop(groups: list[subprocess.Popen]) -> None:
    """Stop every process group started (SIGTERM, then SIGKILL after 15 s)."""
    for process in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in groups:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 when it ran (whatever the figures), 2 when it could not."""
    args = parse_args(argv)
    port, token = free_port(), secrets.token_hex(16)
    groups: list[subprocess.Popen] = []
    # A SIGTERM (timeout, a teacher's kill) must still run the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="classroom-") as tmp:
        log = Path(tmp) / "voila.log"
        try:
            server = start_voila(port, token, args.pool, Path(tmp), log)
            groups.append(server)
            print(f"Voila on 127.0.0.1:{port}, warming a pool of {args.pool} kernels ...", flush=True)
            warm = wait_for_warm_pool(server, args.pool, args.warm_timeout, log)
            baseline = pss_mb(descendants(server.pid))
            base = f"127.0.0.1:{port}"
            if args.delay_ms > 0:
                proxy, proxy_port = start_proxy(port, args.delay_ms)
                groups.append(proxy)
                base = f"127.0.0.1:{proxy_port}"
            students, samples, kernels, cpu = asyncio.run(run_class(args, server, base, token))
            report(students, samples, kernels, cpu, baseline, args, warm)
        except RuntimeError as exc:
            print(f"classroom: {exc}", file=sys.stderr)
            return 2
        finally:
            stop(groups)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--proxy"]:  # the delaying proxy, run as its own process by main()
        listen, upstream, one_way = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        asyncio.run(delay_proxy(listen, upstream, one_way))
    sys.exit(main())
