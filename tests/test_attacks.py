"""A class server a curious student cannot take down, spy on or flood: each abuse tried on a real server.

Every test speaks to Voila started with `make app`'s own options (tools.local_servers.voila_args:
app/config, the warm pool, kernels forked from the template) on 127.0.0.1, over real HTTP and real
websockets, as a student with a browser console and a few lines of Python would. Each checks that
the abuse is refused or bounded, that the teacher's log says so, that another student's reading
still arrives within 1 s, and that the server's memory does not move. Every loop is bounded in
count and in time. What each abuse did before, and what the guards are, is in app/config/
(kernel_socket.py, class_server.py, class_code.py), app/fork's memory ceiling and mnistlib.classroom's
limits (strokes, collect, store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import sys
import time
import urllib.parse
import uuid
import zlib
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClosedError

from mnistlib.classroom.store import ClassStore
from mnistlib.classroom.strokes import MAX_BATCH_POINTS, MAX_STROKE_POINTS, MAX_UPLOAD_BYTES
from mnistlib.paths import REPO_ROOT
from tools.local_servers import Server

sys.path.insert(0, str(REPO_ROOT / "app" / "config"))
import kernel_socket  # app/config/kernel_socket.py: the limits the server enforces
from server_support import (
    CONNECT_TIMEOUT,
    MAX_KERNELS,
    ONE,
    POOL,
    READING_WITHIN,
    SERVER_GROWTH,
    SEVEN,
    Page,
    header,
    kernels,
    logged,
    new_page,
    pack_v1,
    reading_value,
    server_pss,
    start_server,
    unpack_v1,
    wait_for,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("class-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bystander(server, loop):
    """Another student, drawing on their own pad throughout."""

    async def open_pad() -> Page:
        page = await new_page(server)
        await page.draw(ONE)  # the first reading pays one-time costs
        return page

    return loop.run(open_pad())


@pytest.fixture
def unharmed(server, loop, bystander):
    """After the test: the other student's reading arrives within 1 s and the server's memory has not moved."""
    before = server_pss(server)
    yield
    latency = loop.run(bystander.draw(SEVEN if len(bystander.messages) % 2 else ONE, timeout=10))
    assert latency < READING_WITHIN, f"the other student's reading took {latency:.2f} s"
    grown = server_pss(server) - before
    assert grown < SERVER_GROWTH, f"the server grew by {grown / 1e6:.0f} MB"
    assert kernels(server) <= MAX_KERNELS


# ---- no message can stop the server ----------------------------------------------------------------


def v1_frame(offsets: list[int], body: bytes = b"") -> bytes:
    return len(offsets).to_bytes(8, "little") + b"".join(o.to_bytes(8, "little") for o in offsets) + body


MALFORMED = {
    "the issue's 8 bytes": bytes.fromhex("ffffffffffffff00"),
    "2**63 offsets": (2**63).to_bytes(8, "little") + b"\0" * 64,
    "offsets past the frame's end": v1_frame([56, 61, 10**12, 10**12 + 1, 10**12 + 2, 10**12 + 3], b"shell"),
    "decreasing offsets": v1_frame([56, 61, 58, 70, 80, 90], b"shell" + b"{}" * 20),
    "a first offset inside the offsets": v1_frame([8, 61, 63, 65, 67, 69], b"shell" + b"{}" * 4),
    "too short for its offsets": (6).to_bytes(8, "little") + b"\0" * 12,
    "a text frame": "not a binary frame",
    "no header": v1_frame([56, 61, 61, 63, 65, 67], b"shell" + b"{}" * 3),
    "the iopub channel": pack_v1("iopub", header("comm_msg", "x"), {}),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_frame_closes_only_its_own_connection(server, loop, unharmed, name):
    async def attack() -> bool:
        page = Page(server)
        await page.open()
        conn = await page.connect()
        conn.write_message(MALFORMED[name], binary=isinstance(MALFORMED[name], bytes))
        closed = await _wait_event(page.closed, 5)
        await page.leave()
        return closed

    assert loop.run(attack()), f"the server kept a connection that sent {name}"
    logged(server, "Closed a websocket to kernel")


async def _wait_event(event: asyncio.Event, timeout: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


def test_a_legacy_protocol_websocket_is_refused_before_it_opens(server, loop, unharmed):
    async def attack() -> int:
        page = Page(server)
        await page.open()
        try:
            await page.connect(subprotocols=())
        except HTTPClientError as exc:
            return exc.code
        finally:
            await page.leave()
        return 101

    assert loop.run(attack()) == 400
    logged(server, "(legacy protocol)")


def test_a_flood_of_valid_messages_is_paced(server, loop, unharmed):
    async def attack() -> tuple[int, bool]:
        page = await new_page(server)
        deadline = time.monotonic() + 8
        sent = 0
        while sent < 20_000 and time.monotonic() < deadline and not page.closed.is_set():
            frame = pack_v1("shell", header("comm_info_request", page.session), {"target_name": "x"})
            with contextlib.suppress(WebSocketClosedError):
                page.conn.write_message(frame, binary=True)
            sent += 1
            if sent % 200 == 0:
                await asyncio.sleep(0)
        closed = await _wait_event(page.closed, 10)
        replies = sum(m["msg_type"] == "comm_info_reply" for m in page.messages)
        await page.leave()
        return replies, closed

    replies, closed = loop.run(attack())
    assert replies < 2500, f"{replies} messages reached the kernel"
    assert closed, "a connection that never stopped flooding stayed open"
    logged(server, "faster than a page sends them")


def test_messages_a_page_never_sends_are_dropped(server, loop, unharmed):
    """execute_request, shutdown_request, and widgets of any class made from the page."""

    async def attack() -> Page:
        page = await new_page(server)
        since = len(page.messages)
        page.send("execute_request", {"code": "import os; os.system('echo pwned')", "silent": False})
        page.conn.write_message(
            pack_v1("control", header("shutdown_request", page.session), {"restart": False}), binary=True
        )
        opened = [uuid.uuid4().hex for _ in range(3)]
        state = {
            "_model_module": "@jupyter-widgets/controls",
            "_model_module_version": "2.0.0",
            "_model_name": "HTMLModel",
            "_view_module": "@jupyter-widgets/controls",
            "_view_module_version": "2.0.0",
            "_view_name": "HTMLView",
            "value": "<b>made by a page</b>",
        }
        for comm_id, target in zip(opened, ("jupyter.widget", "ipycanvas", "some.other.target"), strict=True):
            page.send(
                "comm_open",
                {"comm_id": comm_id, "target_name": target, "data": {"state": state, "buffer_paths": []}},
                metadata={"version": "2.1.0"},
            )
        page.send("comm_info_request", {})
        reply = await page.wait(lambda m: m["msg_type"] == "comm_info_reply", 10, since)
        assert not any(
            m["msg_type"] in ("execute_reply", "shutdown_reply", "stream") for m in page.messages[since:]
        )
        assert not set(opened) & set(reply["content"]["comms"]), (
            "the page's comm_opens made widgets in the kernel"
        )
        await page.draw(ONE)  # the kernel is alive and well
        await page.leave()
        return page

    loop.run(attack())
    logged(server, "Dropped a 'execute_request' message")
    logged(server, "Dropped a 'shutdown_request' message")
    logged(server, "Dropped a comm_open of target 'jupyter.widget'")


def test_huge_frames_are_refused_at_the_socket(server, loop, unharmed):
    """A 12 MiB text frame, and a comm message with 200 kB of JSON: closed, before the kernel reads them."""

    async def attack() -> list[bool]:
        results = []
        for frame in ("x" * (12 << 20), None):
            page = Page(server)
            await page.open()
            conn = await page.connect()
            if frame is None:
                points = [[100.0 + i % 50, 100.0] for i in range(20_000)]
                frame = pack_v1(
                    "shell",
                    header("comm_msg", page.session),
                    {
                        "comm_id": "x",
                        "data": {"method": "custom", "content": {"event": "mnist_moves", "points": points}},
                    },
                )
            with contextlib.suppress(WebSocketClosedError):
                conn.write_message(frame, binary=isinstance(frame, bytes))
            results.append(await _wait_event(page.closed, 15))
            await page.leave()
        return results

    assert loop.run(attack()) == [True, True]
    logged(server, "bytes of JSON, more than")


def test_many_websockets_to_one_kernel_are_refused(server, loop, unharmed):
    async def attack() -> list[int]:
        page = Page(server)
        await page.open()
        codes = []
        for _ in range(10):
            try:
                await page.connect(session=uuid.uuid4().hex)
                codes.append(101)
            except HTTPClientError as exc:
                codes.append(exc.code)
        await page.leave()
        return codes

    codes = loop.run(attack())
    assert codes.count(101) == kernel_socket.MAX_SOCKETS and set(codes[3:]) == {429}, codes
    logged(server, "already open")


def test_slow_headers_are_dropped(server, unharmed):
    """Twenty connections that dribble their headers, a byte every 2 s, are cut off (tornado's 20 s)."""
    sockets = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"GET /voila/static/favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sockets.append(s)
    deadline = time.monotonic() + 40
    open_ = list(sockets)
    while open_ and time.monotonic() < deadline:
        for s in list(open_):
            try:
                s.sendall(b"a")
                s.settimeout(0.05)
                if s.recv(1) == b"":
                    open_.remove(s)
            except TimeoutError:
                pass
            except OSError:
                open_.remove(s)
        time.sleep(2)
    for s in sockets:
        s.close()
    assert not open_, f"{len(open_)} of 20 slow connections still open after 40 s"


def test_oversize_requests_are_refused(server, loop, unharmed):
    """A 1 MB body and 64 kB of headers: refused before any handler reads them."""

    async def refused(request) -> int:
        try:
            return (await request).code
        except OSError:  # the server closed the connection while the client was still sending
            return 599

    async def attack() -> tuple[int, int]:
        page = Page(server)
        body = await refused(page.request("/voila/api/shutdown/x", "POST", b"_xsrf=" + b"a" * (1 << 20)))
        heads = await refused(page.request("/voila/static/favicon.ico", **{"X-Big": "b" * (64 << 10)}))
        return body, heads

    body, heads = loop.run(attack())
    # Tornado answers 400 or 431, or closes the connection (599 here) before reading on.
    assert body in (400, 413, 599) and heads in (400, 431, 599), (body, heads)


@pytest.mark.parametrize(
    "path",
    [
        "/voila/templates/mnist-app/static/../../../../../../etc/passwd",
        "/voila/templates/..%2F..%2F..%2Fetc/static/passwd",
        "/voila/templates/mnist-app/index.html.j2",
        "/voila/static/..%2F..%2F..%2F..%2Fapp%2Fconfig%2Fvoila.py",
        "/voila/files/config/voila.py",
        "/voila/files/app.ipynb",
        "/voila/files/..%2Fconfig%2Fvoila.py",
        "/voila/labextensions/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/voila/api/themes/..%2F..%2F..%2Fetc%2Fpasswd",
        "/voila/tree",
        "/api/kernels",
        "/api/contents",
        "/voila/query/00000000-0000-0000-0000-000000000000",
    ],
)
def test_no_path_reads_the_servers_files(server, loop, path):
    async def probe() -> object:
        page = Page(server)
        return await page.request(f"{path}{'&' if '?' in path else '?'}token={server.token}")

    response = loop.run(probe())
    body = response.body or b""
    if response.code == 302:  # the page handler sends any other path to /voila/files/, which refuses it
        response = loop.run(Page(server).request(response.headers["Location"]))
        body = response.body or b""
    assert response.code in (400, 403, 404, 405, 500), (response.code, body[:200])
    assert b"root:" not in body and b"get_config" not in body and b'"cells"' not in body
    assert b"Traceback" not in body


# ---- a bounded server -------------------------------------------------------------------------------


def test_closing_a_tab_frees_its_kernel_at_once_and_the_pool_refills(server, loop, unharmed):
    async def visit() -> tuple[int, int]:
        page = await new_page(server)
        before = kernels(server)
        left = await page.leave()
        gone = await page.request(f"/api/kernels/{page.kernel_id}?token={server.token}")
        assert gone.code == 404, gone.code
        return left.code, before

    code, before = loop.run(visit())
    assert code == 204, "the page's shutdown beacon was refused"
    logged(server, "its page closed; shutting it down")
    wait_for(lambda: kernels(server) <= before - 1, 10, server)  # freed at once...
    wait_for(lambda: kernels(server) >= before, 60, server)  # ...and the pool refilled


def test_kernels_never_exceed_the_pool_and_a_full_class_gets_a_clear_page(server, loop, unharmed):
    """Plain GETs (an <img src> on any page would do) take kernels: never more than the pool plus 2,
    then HTTP 503 "The class is full"; ?theme= and ?template= change nothing; kernels whose page never
    connected come back within the connect timeout."""

    async def flood() -> list[object]:
        responses = []
        for query in ["", "theme=dark", "template=../../../etc", "", "", "", "", ""]:
            page = Page(server)
            responses.append(await page.open(query, within=0))
            assert kernels(server) <= MAX_KERNELS
        return responses

    responses = loop.run(flood())
    codes = [r.code for r in responses]
    assert 503 in codes and codes.count(200) <= MAX_KERNELS - 1, codes
    full = next(r for r in responses if r.code == 503).body.decode()
    assert "The class is full: ask your teacher." in full
    served = [r.body.decode() for r in responses if r.code == 200]
    assert all("theme-light" in page and "mnist-app" in page for page in served), "an override took effect"
    logged(server, "The class is full")
    # Nobody connected to the kernels those GETs took: they go back, and the pool fills up again.
    logged(server, "its page never connected", timeout=CONNECT_TIMEOUT + 15)
    wait_for(
        lambda: f"filled with {POOL} kernel" in server.log_tail(2000) or kernels(server) >= POOL, 90, server
    )
    assert loop.run(Page(server).open(within=90)).code == 200


# ---- only the class gets in, and only into its own pad ----------------------------------------------


def test_without_the_class_code_nothing_opens(server, loop):
    async def stranger() -> tuple[object, object, object]:
        page = Page(server)
        front = await page.open(token=False)
        wrong = await page.request("/?token=not-the-code")
        login = await page.request("/login")
        return front, wrong, login

    front, wrong, login = loop.run(stranger())
    assert front.code == 302 and "/login" in front.headers["Location"], front.code
    assert wrong.code == 302 and "/login" in wrong.headers["Location"]
    assert login.code == 200 and b"token" in login.body.lower()


def test_the_teacher_is_given_the_link_and_a_qr_code(server):
    log = server.log_tail(400_000)
    assert f"Students open: https://class.example.org/?token={server.token}" in log
    assert f"Class code: {server.token}" in log
    assert "\u2588\u2588\u2588\u2588" in log, "no QR code in the terminal"


def test_another_page_cannot_touch_my_kernel(server, loop, unharmed, bystander):
    """Whoever learns a kernel's id (it is in the page, in URLs, in logs) still cannot use it."""

    async def attack() -> dict[str, int]:
        thief = Page(server)
        await thief.open()  # a page of the class, with its own kernel and cookies
        codes = {}
        try:
            await thief.connect(bystander.kernel_id)
            codes["websocket"] = 101
        except HTTPClientError as exc:
            codes["websocket"] = exc.code
        token = f"?token={server.token}"
        codes["info"] = (await thief.request(f"/api/kernels/{bystander.kernel_id}{token}")).code
        codes["delete"] = (await thief.request(f"/api/kernels/{bystander.kernel_id}{token}", "DELETE")).code
        body = urllib.parse.urlencode({"_xsrf": thief.cookies.get("_xsrf", "")}).encode()
        codes["shutdown"] = (
            await thief.request(
                f"/voila/api/shutdown/{bystander.kernel_id}",
                "POST",
                body,
                **{"Content-Type": "application/x-www-form-urlencoded"},
            )
        ).code
        await thief.leave()
        return codes

    assert loop.run(attack()) == {"websocket": 403, "info": 403, "delete": 403, "shutdown": 403}
    logged(server, f"not the page that took kernel {bystander.kernel_id}")


def test_a_widgets_state_is_not_echoed_to_other_connections(server, loop, unharmed):
    """ipywidgets' echo would show what one connection sets (a message's HTML) on every other one."""

    async def attack() -> list[str]:
        page = await new_page(server)
        second = await page.connect(session=uuid.uuid4().hex)
        seen: list[bytes] = []

        async def read() -> None:
            while (frame := await second.read_message()) is not None:
                seen.append(frame)

        reader = asyncio.ensure_future(read())
        page.comm(
            page.ids["mnist-message"],
            {"method": "update", "state": {"value": "<img src=x onerror=alert(1)>"}, "buffer_paths": []},
        )
        await asyncio.sleep(2)
        reader.cancel()
        await page.leave()
        return [unpack_v1(f)["content"].get("data", {}).get("method") for f in seen if isinstance(f, bytes)]

    assert "echo_update" not in loop.run(attack())


def test_a_comm_message_to_another_kernels_widget_does_nothing(server, loop, unharmed, bystander):
    async def attack() -> str:
        page = await new_page(server)
        since = len(bystander.messages)
        for widget in ("Clear", "canvas"):  # the other pad's widget ids, sent to this page's own kernel
            page.comm(bystander.ids[widget], {"method": "custom", "content": {"event": "click"}})
        await asyncio.sleep(1)
        await page.leave()
        return "".join(str(m) for m in bystander.messages[since:])

    assert "data-state" not in loop.run(attack()), "the other pad changed"


# ---- a bounded kernel --------------------------------------------------------------------------------


def test_a_huge_stroke_is_capped_with_a_message(server, loop, unharmed):
    """Batches of 3,000 points, and a stroke of 4,000: the pad keeps 500 a batch and 2,000 a stroke, and says so."""

    async def stroke(
        page: Page, batches: list[list[list[float]]], strokes: int
    ) -> tuple[tuple[str, str], float]:
        since = len(page.messages)
        page.custom("canvas", {"event": "mnist_down", "x": 20, "y": 20})
        for batch in batches:
            page.custom("canvas", {"event": "mnist_moves", "points": batch})
        start = time.monotonic()
        page.custom("canvas", {"event": "mnist_up", "points": []})
        final = f'data-strokes="{strokes}" data-live="false"'
        await page.wait(lambda m: final in reading_value(m, page), 20, since)
        return page.message(since), time.monotonic() - start

    async def attack() -> tuple[tuple[str, str], tuple[str, str], float]:
        page = await new_page(server)
        wide = [[20.0 + i % 240, 20.0 + (i // 240) * 3] for i in range(3000)]  # one message, 48 kB of JSON
        too_many, took = await stroke(page, [wide] * 20, 1)
        zigzag = [[20.0 + (k % 120) * 2, 100.0 + (k // 120) * 2] for k in range(2 * MAX_STROKE_POINTS)]
        chunks = [zigzag[i : i + MAX_BATCH_POINTS] for i in range(0, len(zigzag), MAX_BATCH_POINTS)]
        too_long, _ = await stroke(page, chunks, 2)
        await page.leave()
        return too_many, too_long, took

    (kind, text), (kind2, text2), took = loop.run(attack())
    assert kind == "error" and "left out" in text, text
    assert kind2 == "error" and f"first {MAX_STROKE_POINTS:,} points" in text2, text2
    assert took < 5, f"the capped stroke kept its kernel busy for {took:.1f} s"
    logged(server, "a page sent more than a pad takes")


# ---- uploads -------------------------------------------------------------------------------------


def upload(page: Page, name: str, content: bytes) -> None:
    """Send a file as the upload button does: its state with the file's bytes as a buffer."""
    value = [{"name": name, "type": "image/png", "size": len(content), "last_modified": 0}]
    page.comm(
        page.ids["upload"],
        {"method": "update", "state": {"value": value}, "buffer_paths": [["value", 0, "content"]]},
        buffers=[content],
    )


def bomb_png(side: int = 30_000) -> bytes:
    """Return a tiny PNG whose header claims ``side`` x ``side`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\0" * (side + 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * 4))
        + chunk(b"IEND", b"")
    )


def test_oversize_and_bomb_uploads_get_a_message(server, loop, unharmed):
    async def attack() -> list[tuple[str, str]]:
        page = await new_page(server)
        shown = []
        for name, content in [
            ("big.png", b"\x89PNG" + b"\0" * (MAX_UPLOAD_BYTES + 1000)),
            ("bomb.png", bomb_png()),
            ("x" * 5000 + ".png", b"not an image at all"),
        ]:
            since = len(page.messages)
            upload(page, name, content)
            shown.append(await page.said(since))
        await page.leave()
        return shown

    (big, bomb, junk) = loop.run(attack())
    assert big[0] == "error" and "under 10 MB" in big[1], big
    assert bomb[0] == "error" and "pixels" in bomb[1], bomb
    assert junk[0] == "error" and len(junk[1]) < 400, junk


# ---- collect mode you can trust ----------------------------------------------------------------------


def test_saves_are_paced_and_a_huge_drawing_is_not_saved(server, loop, unharmed, tmp_path):
    """A script that draws and clicks Save in a loop saves one drawing a second; 30,000 points are not saved."""

    async def attack() -> tuple[int, float, list[tuple[str, str]], tuple[str, str]]:
        page = await new_page(server)
        store = ClassStore(server_class_dir(server))
        before = len(store)
        start = time.monotonic()
        shown = []
        for _ in range(12):  # a stroke and a click, as fast as the kernel takes them
            since = len(page.messages)
            page.custom("canvas", {"event": "mnist_down", "x": 140, "y": 40})
            page.custom("canvas", {"event": "mnist_up", "points": [[140.0, 240.0]]})
            page.custom("Save", {"event": "click"})
            shown.append(await page.said(since))
        saved, elapsed = len(store) - before, time.monotonic() - start
        # A drawing of 30,000 points, each batch a legal 500: more than a record holds.
        since = len(page.messages)
        for s in range(15):
            page.custom("canvas", {"event": "mnist_down", "x": 20, "y": 20 + s})
            for b in range(4):
                points = [
                    [20.0 + (k % 120) * 2, 20.0 + s * 15 + b * 3 + (k // 120)]
                    for k in range(MAX_BATCH_POINTS)
                ]
                page.custom("canvas", {"event": "mnist_moves", "points": points})
            page.custom("canvas", {"event": "mnist_up", "points": []})
        await page.wait(lambda m: 'data-strokes="15" data-live="false"' in reading_value(m, page), 30, since)
        await asyncio.sleep(1.1)
        since = len(page.messages)
        page.custom("Save", {"event": "click"})
        huge = await page.said(since)
        await page.leave()
        return saved, elapsed, shown, huge

    saved, elapsed, shown, huge = loop.run(attack())
    assert 1 <= saved <= 1 + elapsed, f"{saved} drawings saved in {elapsed:.1f} s"
    assert ("error", "Not saved: that was too fast. Draw the digit, then click Save.") in shown, shown
    assert huge[0] == "error" and "points" in huge[1] and "Not saved" in huge[1], huge
    logged(server, "a pad's drawing was not saved")


def server_class_dir(server: Server) -> Path:
    return server.log.parent / "class"


def test_nicknames_cannot_pose_as_a_pad_and_exports_escape_formulas(server, loop, unharmed, tmp_path):
    store = ClassStore(server_class_dir(server))
    store.allow_nicknames = True

    async def attack() -> list[tuple[str, str]]:
        page = await new_page(server)
        shown = []
        for nickname in ("anon-00000000", "ＡＮＯＮ-1234abcd", '=HYPERLINK("http://x")'):
            page.comm(
                page.ids["nickname"], {"method": "update", "state": {"value": nickname}, "buffer_paths": []}
            )
            await page.draw(ONE)
            await asyncio.sleep(1.1)  # the pace of saves
            since = len(page.messages)
            page.custom("Save", {"event": "click"})
            shown.append(await page.said(since))
        await page.leave()
        return shown

    try:
        posing, wide, formula = loop.run(attack())
    finally:
        store.allow_nicknames = False
    assert posing[0] == wide[0] == "error" and "anon" in posing[1], (posing, wide)
    assert formula[0] == "saved", formula
    export = store.export(tmp_path / "export")
    rows = (export / "records.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in rows and "\n=HYPERLINK" not in rows and ",=HYPERLINK" not in rows


# ---- errors without internals ------------------------------------------------------------------------


def test_bad_messages_get_a_short_message_and_the_teacher_the_traceback(server, loop, unharmed):
    async def attack() -> tuple[list[dict], tuple[str, str]]:
        page = await new_page(server)
        since = len(page.messages)
        page.comm(page.ids["canvas"], {"method": "custom", "content": "not a dict"})
        page.custom("canvas", {"event": "mnist_down", "x": "abc", "y": None})
        page.custom("canvas", {"event": "mnist_moves", "points": "zz"})
        page.custom("canvas", {"event": "mouse_down", "x": [1], "y": {"a": 1}})
        page.comm(page.ids["upload"], {"method": "update", "state": {"value": 5}, "buffer_paths": []})
        await asyncio.sleep(3)
        messages = page.messages[since:]
        shown = page.message(since)
        await page.leave()
        return messages, shown

    messages, (kind, text) = loop.run(attack())
    sent = json.dumps(messages)
    assert "Traceback" not in sent and "/site-packages/" not in sent and str(REPO_ROOT) not in sent, sent[
        :2000
    ]
    assert kind == "error" and len(text) < 200, text
    log = server.log_tail(400_000)
    assert "Traceback" in log and "[mnistlib pad" in log


# ---- a kernel past its memory ceiling ---------------------------------------------------------------


def test_a_kernel_past_its_memory_ceiling_dies_alone_and_its_page_says_reload(tmp_path, loop):
    """With a ceiling of 45 MB (512 in class), the biggest drawing the pad keeps (100 strokes of 2,000 points,
    about 30 MB on top of the 25 MB a kernel adds running the app) takes the kernel past it."""
    server = start_server(tmp_path, APP_KERNEL_MEMORY_MB="45")
    try:

        async def attack() -> tuple[str, float]:
            other = await new_page(server)
            await other.draw(ONE)
            page = await new_page(server)
            for s in range(100):
                page.custom("canvas", {"event": "mnist_down", "x": 20, "y": 20 + s})
                for b in range(4):
                    points = [
                        [20.0 + (k % 120) * 2, 20.0 + s + b * 9 + (k // 120) * 2]
                        for k in range(MAX_BATCH_POINTS)
                    ]
                    page.custom("canvas", {"event": "mnist_moves", "points": points})
                    await asyncio.sleep(0.02)  # a page's pace: nothing is dropped on the way
                page.custom("canvas", {"event": "mnist_up", "points": []})
                if page.closed.is_set() or any(
                    m["msg_type"] == "status"
                    and m["content"].get("execution_state") in ("restarting", "dead")
                    for m in page.messages
                ):
                    break
            status = await page.wait(
                lambda m: (
                    m["msg_type"] == "status"
                    and m["content"].get("execution_state") in ("restarting", "dead")
                ),
                60,
            )
            return status["content"]["execution_state"], await other.draw(SEVEN)

        before = server_pss(server)
        state, latency = loop.run(attack())
        logged(server, "over its ceiling of 45 MB", timeout=30)
        assert state in ("restarting", "dead")  # what the page's kernel_watch.js turns into "Reload the page"
        assert latency < READING_WITHIN, f"the other student's reading took {latency:.2f} s"
        assert server_pss(server) - before < SERVER_GROWTH
    finally:
        server.stop()
