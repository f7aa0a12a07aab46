"""A class server as `make app` runs it, and a student's page as a light client: for the server tests.

tests/test_attacks.py tries every abuse through these; tests/test_class_box.py and tests/test_teacher_view.py
use the same server and pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import html
import itertools
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from mnistlib.paths import REPO_ROOT
from tools.classroom import protocol
from tools.classroom.protocol import unpack_v1
from tools.local_servers import Server, descendants, free_port, isolated_env, pss_bytes, voila_args

sys.path.insert(0, str(REPO_ROOT / "app" / "config"))
import kernel_socket  # app/config/kernel_socket.py: the limits the server enforces

APP = REPO_ROOT / "app" / "app.ipynb"
V1 = kernel_socket.V1
POOL = 3  # the warm pool: at most POOL + 2 kernels run (app/config/voila.py)
MAX_KERNELS = POOL + 2
CONNECT_TIMEOUT = 6  # s a page has to connect to the kernel it took (60 in class)
READING_WITHIN = 1.0  # s: another student's reading arrives this soon whatever happens
SERVER_GROWTH = 64e6  # bytes the server process may grow by in one test (PSS)
ONE = [[(150.0, 45.0), (140.0, 140.0), (130.0, 235.0)]]  # a "1", in pad pixels
SEVEN = [[(75.0, 55.0), (205.0, 55.0), (160.0, 140.0), (120.0, 235.0)]]


def dense(stroke: list[tuple[float, float]], step: float = 4.0) -> list[list[float]]:
    """Return a stroke with a point every ``step`` px, as mouse moves come."""
    points = [list(stroke[0])]
    for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
        n = max(1, int(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 // step))
        points += [[x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n] for i in range(1, n + 1)]
    return points


# ---- the kernel websocket's v1 frames --------------------------------------------------------------


def pack_v1(channel: str, header: dict, content: dict, metadata: dict | None = None, buffers=()) -> bytes:
    """Encode one message as the page's v1 websocket frame (a page sends no parent header)."""
    return protocol.pack_v1(channel, header, {}, metadata or {}, content, buffers)


def header(msg_type: str, session: str) -> dict:
    return {
        "msg_id": uuid.uuid4().hex,
        "msg_type": msg_type,
        "username": "student",
        "session": session,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": "5.3",
    }


READING = re.compile(r'data-state="(\w+)" data-digit="(\d*)" data-strokes="(\d+)" data-live="(\w+)"')


# ---- a student's page, as a light client -----------------------------------------------------------


class Page:
    """One student's page: its GET (keeping the cookies it sets, as a browser does) and its kernel websocket."""

    def __init__(self, server: Server) -> None:
        self.server, self.cookies = server, {}
        self.kernel_id: str | None = None
        self.conn = None
        self.session = uuid.uuid4().hex
        self.messages: list[dict] = []
        self.closed = asyncio.Event()
        self.ids: dict[str, str] = {}

    async def request(self, path: str, method: str = "GET", body: bytes | None = None, **headers) -> object:
        """Send an HTTP request with this page's cookies (no redirects followed); keep the cookies it sets."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(
                f"{self.server.url}{path}",
                method=method,
                body=body,
                headers={**({"Cookie": cookie} if cookie else {}), **headers},
                follow_redirects=False,
                request_timeout=120,
                allow_nonstandard_methods=True,
                ca_certs=getattr(self.server, "ca_certs", None),
            ),
            raise_error=False,
        )
        for line in response.headers.get_list("Set-Cookie"):
            name, _, value = line.split(";")[0].partition("=")
            self.cookies[name.strip()] = value
        return response

    async def open(self, query: str = "", token: bool = True, within: float = 120) -> object:
        """GET the app's page (waiting, within bounds, while the class is full); note its kernel id."""
        path = "/?" + "&".join(filter(None, [f"token={self.server.token}" if token else "", query]))
        deadline = time.monotonic() + within
        while True:
            response = await self.request(path)
            if response.code != 503 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        found = re.search(
            r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
            response.body.decode(errors="replace"),
            re.DOTALL,
        )
        if found:
            self.kernel_id = json.loads(html.unescape(found[1]))["kernelId"]
        return response

    async def connect(self, kernel_id: str | None = None, subprotocols=(V1,), session: str | None = None):
        """Open a websocket to ``kernel_id`` (this page's) with this page's cookies; start reading it."""
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        ws = self.server.url.replace("http", "ws", 1)
        conn = await websocket_connect(
            HTTPRequest(
                f"{ws}/api/kernels/{kernel_id or self.kernel_id}/channels?session_id={session or self.session}",
                headers={"Cookie": cookie} if cookie else {},
                request_timeout=60,
                ca_certs=getattr(self.server, "ca_certs", None),
            ),
            subprotocols=list(subprotocols),
            max_message_size=64 << 20,
        )
        if self.conn is None:
            self.conn = conn
            asyncio.ensure_future(self._read(conn))
        return conn

    async def _read(self, conn) -> None:
        while (frame := await conn.read_message()) is not None:
            self.messages.append(unpack_v1(frame) if isinstance(frame, bytes) else json.loads(frame))
        self.closed.set()

    def send(self, msg_type: str, content: dict, metadata: dict | None = None, conn=None, buffers=()) -> None:
        (conn or self.conn).write_message(
            pack_v1("shell", header(msg_type, self.session), content, metadata, buffers), binary=True
        )

    def comm(self, comm_id: str, data: dict, conn=None, buffers=()) -> None:
        self.send("comm_msg", {"comm_id": comm_id, "data": data}, conn=conn, buffers=buffers)

    def custom(self, widget: str, content: dict, conn=None) -> None:
        self.comm(self.ids[widget], {"method": "custom", "content": content}, conn=conn)

    async def wait(self, match: Callable[[dict], bool], timeout: float, since: int = 0) -> dict:
        """Return the first message from index ``since`` on that ``match``es, within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.messages[since:]:
                if match(msg):
                    return msg
            await asyncio.sleep(0.01)
        raise AssertionError(f"no such message within {timeout} s; last ones: {self.messages[-3:]}")

    async def start(self) -> Page:
        """Connect and ask for the widgets' states, as the page's widget manager does; note the pad's widgets."""
        await self.connect()
        control = uuid.uuid4().hex
        self.send(
            "comm_open",
            {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
            metadata={"version": "1.0.0"},
        )
        self.comm(control, {"method": "request_states"})
        msg = await self.wait(lambda m: widget_data(m).get("method") == "update_states", 60)
        for model_id, s in msg["content"]["data"]["states"].items():
            state = s.get("state", {})
            classes = state.get("_dom_classes", [])
            if s.get("model_name") == "CanvasModel":
                self.ids["canvas"] = model_id
            for css in ("mnist-reading", "mnist-message", "mnist-prompt"):
                if css in classes:
                    self.ids[css] = model_id
            if s.get("model_name") == "ButtonModel":
                self.ids[state.get("description", "")] = model_id
            if s.get("model_name") == "TextModel" and state.get("description") == "Nickname":
                self.ids["nickname"] = model_id
            if s.get("model_name") == "FileUploadModel":
                self.ids["upload"] = model_id
        self.custom("canvas", {"event": "client_ready"})
        return self

    def widget_value(self, widget: str, since: int = 0) -> list[str]:
        """Return the values the kernel sent for ``widget`` since message ``since``."""
        values = []
        for msg in self.messages[since:]:
            data = widget_data(msg)
            if msg["content"].get("comm_id") == self.ids[widget] and "value" in data.get("state", {}):
                values.append(data["state"]["value"])
        return values

    async def draw(self, strokes, timeout: float = 30) -> float:
        """Clear the pad, draw ``strokes`` as the app page sends them; return s from the last pen-up to its reading."""
        since = len(self.messages)
        self.custom("Clear", {"event": "click"})
        for stroke in strokes:
            points = dense(stroke)
            self.custom("canvas", {"event": "mnist_down", "x": points[0][0], "y": points[0][1]})
            self.custom("canvas", {"event": "mnist_moves", "points": points[1:-5]})
            start = time.monotonic()
            self.custom("canvas", {"event": "mnist_up", "points": points[-5:]})
        final = f'data-strokes="{len(strokes)}" data-live="false"'
        await self.wait(lambda m: final in reading_value(m, self), timeout, since)
        return time.monotonic() - start

    async def said(self, since: int, timeout: float = 20) -> tuple[str, str]:
        """Wait for the pad's message line to say something (not just clear) after message ``since``; return it."""

        def spoke(msg: dict) -> bool:
            data = widget_data(msg)
            value = data.get("state", {}).get("value", "")
            return (
                msg["content"].get("comm_id") == self.ids["mnist-message"] and 'data-kind="none"' not in value
            )

        msg = await self.wait(
            lambda m: spoke(m) and "value" in widget_data(m).get("state", {}), timeout, since
        )
        value = widget_data(msg)["state"]["value"]
        kind = re.search(r'data-kind="(\w+)"', value)
        return (kind[1] if kind else ""), html.unescape(re.sub("<[^>]+>", "", value))

    def message(self, since: int = 0) -> tuple[str, str]:
        """Return the pad's last message line (kind, text) sent since message ``since``."""
        values = self.widget_value("mnist-message", since)
        if not values:
            return "", ""
        kind = re.search(r'data-kind="(\w+)"', values[-1])
        return (kind[1] if kind else ""), html.unescape(re.sub("<[^>]+>", "", values[-1]))

    async def leave(self) -> object:
        """Close the page as a browser does: the shutdown beacon (with the _xsrf cookie), then the websocket."""
        body = urllib.parse.urlencode({"_xsrf": self.cookies.get("_xsrf", "")}).encode()
        response = await self.request(
            f"/voila/api/shutdown/{self.kernel_id}",
            "POST",
            body,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        if self.conn is not None:
            self.conn.close()
        return response


def widget_data(msg: dict) -> dict:
    return msg["content"].get("data", {}) if msg.get("msg_type") == "comm_msg" else {}


def reading_value(msg: dict, page: Page) -> str:
    if msg["content"].get("comm_id") != page.ids.get("mnist-reading"):
        return ""
    return widget_data(msg).get("state", {}).get("value", "")


# ---- the server, and what every test checks --------------------------------------------------------


class Loop:
    """An event loop in a thread of its own: websockets opened in one test live on into the next."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 240):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_server(home: Path, **env: str) -> Server:
    """Start Voila as `make app` does (a pool of POOL, collect mode, a class code), and wait for its pool."""
    port, token = free_port(), secrets.token_hex(8)
    (home / "class").mkdir(parents=True, exist_ok=True)
    settings = {
        "APP_POOL": str(POOL),
        "APP_COLLECT": "1",
        "APP_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "APP_REFILL_QUIET": "0.5",
        "APP_REFILL_DELAY": "0.2",
        "APP_PUBLIC_URL": "https://class.example.org/",
        "MNISTLIB_CLASS_DIR": str(home / "class"),
        **env,
    }
    server = Server(
        voila_args(APP, port, token),
        port,
        token,
        isolated_env(home) | settings,
        home / "voila.log",
        "/voila/static/favicon.ico",
    )
    try:
        server.wait_ready(90)
        wait_for(lambda: f"filled with {POOL} kernel" in server.log_tail(200_000), 180, server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_for(
    condition: Callable[[], bool], timeout: float, server: Server | None = None, poll: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(
        f"not within {timeout} s" + (f"; server log:\n{server.log_tail(3000)}" if server else "")
    )


def kernels(server: Server) -> int:
    """Return how many app kernels the server runs (processes forked from its kernel template)."""
    count = 0
    for pid in descendants(server.process.pid):
        with contextlib.suppress(OSError):
            if b"fork_kernel.py\x00serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                count += b"fork_kernel.py\x00serve" in Path(f"/proc/{parent}/cmdline").read_bytes()
    return count


def server_pss(server: Server) -> int:
    return pss_bytes([server.process.pid])


def logged(server: Server, text: str, timeout: float = 10) -> None:
    """Wait until the server's log (the teacher's terminal) holds ``text``."""
    wait_for(lambda: text in server.log_tail(400_000), timeout, server)


async def new_page(server: Server) -> Page:
    page = Page(server)
    response = await page.open()
    assert response.code == 200 and page.kernel_id, f"{response.code}: {response.body[:300]!r}"
    return await page.start()


async def closed_within(conn, timeout: float) -> bool:
    """Return True if the server closes ``conn`` within ``timeout`` s (reading whatever it sends meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = await asyncio.wait_for(conn.read_message(), max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return False
        if frame is None:
            return True
    return False
