"""The app's kernel websockets: well-formed v1 frames only, the messages a pad page sends, at a page's pace.

jupyter_server's v1 deserialiser trusts a frame's first 8 bytes as its number of offsets: the 8-byte
frame ``ff ff ff ff ff ff ff 00`` makes it build a list of 2**56 offsets, and the whole server stops
while its memory grows. Voila reads the binary frames it sends to a client of the older (legacy)
protocol as v1 too. ``AppKernelConnection`` (``c.Voila.kernel_websocket_connection_class``, set by
app/config/voila.py) stands in front of both:

* a websocket that does not offer the v1 subprotocol is refused before the upgrade (HTTP 400);
* at most ``MAX_SOCKETS`` websockets to one kernel at once (a page uses one);
* a frame that is not a well-formed v1 frame (:func:`parse_v1`) closes the connection;
* message types and comm targets a pad page never sends are dropped;
* messages beyond a page's pace (``Pace``) are dropped; a connection that keeps flooding is closed.

Every refusal is one line in the server's log, naming the kernel and the client. Pure functions and
one subclass of jupyter_server's own connection class, so that a new jupyter_server is checked by
tests/test_attacks.py against the real thing.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import ClassVar

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web
from tornado.websocket import WebSocketClosedError

V1 = "v1.kernel.websocket.jupyter.org"
MAX_SOCKETS = 3  # a page's widget manager holds one; a reconnect may overlap the old one for a moment
MAX_BUFFERS = 16  # binary parts of one message: an upload is one
MAX_JSON_BYTES = 64 * 1024  # header, parent, metadata and content of one message; a batch of points is < 1 kB
# What a pad page sends: widgets' comm messages and the kernel info the page asks for once.
ALLOWED_TYPES = frozenset({"comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request"})
ALLOWED_COMM_TARGETS = frozenset(
    {"jupyter.widget.control"}
)  # the widget manager's own; widgets are made by the kernel
CHANNELS = frozenset({"shell", "control"})
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours in an IPython traceback


class BadFrame(ValueError):
    """A websocket frame that is not a well-formed v1 message; the text says what is wrong."""


@dataclass(frozen=True)
class Frame:
    """The parts of a v1 frame the app looks at."""

    channel: str
    msg_type: str
    content: bytes  # the content's JSON, parsed only where needed (comm_open's target)


def parse_v1(frame: bytes | str, max_json: int = MAX_JSON_BYTES, max_buffers: int = MAX_BUFFERS) -> Frame:
    """Return the channel, type and content of a v1 frame, or raise BadFrame without trusting any of its numbers.

    A v1 frame is: n (8 bytes, little-endian), n offsets (8 bytes each), then the channel, header,
    parent header, metadata and content (JSON) and 0 or more buffers; the offsets start right after
    themselves, never decrease, and the last one is the frame's end.
    """
    if not isinstance(frame, bytes):
        raise BadFrame("a text frame (the v1 protocol sends binary frames)")
    if len(frame) < 8:
        raise BadFrame(f"{len(frame)} bytes, shorter than the offset count")
    n = int.from_bytes(frame[:8], "little")
    if not 6 <= n <= 6 + max_buffers:
        raise BadFrame(f"{n} offsets (a message has 6, plus one per buffer, at most {max_buffers} buffers)")
    if len(frame) < 8 * (n + 1):
        raise BadFrame(f"{len(frame)} bytes, too short for its {n} offsets")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(n)]
    if offsets[0] != 8 * (n + 1):
        raise BadFrame(f"its first part starts at {offsets[0]}, not right after the offsets ({8 * (n + 1)})")
    if any(a > b for a, b in itertools.pairwise(offsets)):
        raise BadFrame("its offsets decrease")
    if offsets[-1] != len(frame):
        raise BadFrame(f"its last offset is {offsets[-1]}, not the frame's end ({len(frame)})")
    if offsets[5] - offsets[1] > max_json:
        raise BadFrame(f"{offsets[5] - offsets[1]:,} bytes of JSON, more than {max_json:,}")
    try:
        channel = frame[offsets[0] : offsets[1]].decode("ascii")
        header = json.loads(frame[offsets[1] : offsets[2]])
        msg_type = header["msg_type"]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise BadFrame(f"no readable channel and header ({type(exc).__name__})") from None
    if channel not in CHANNELS or not isinstance(msg_type, str):
        raise BadFrame(f"channel {channel[:20]!r}, type {str(msg_type)[:40]!r}")
    return Frame(channel, msg_type, frame[offsets[4] : offsets[5]])


def refusal(frame: Frame) -> str | None:
    """Return why a well-formed message is not passed to the kernel (a type or comm a page never sends), or None."""
    if frame.msg_type not in ALLOWED_TYPES:
        return f"a {frame.msg_type[:40]!r} message"
    if frame.msg_type == "comm_open":
        try:
            target = json.loads(frame.content).get("target_name")
        except (ValueError, AttributeError):
            return "a comm_open without readable content"
        if target not in ALLOWED_COMM_TARGETS:
            return f"a comm_open of target {str(target)[:60]!r}"
    return None


class Pace:
    """Token buckets on messages and bytes: a page's bursts pass, a flood does not.

    A pad page sends 3-4 messages a second while drawing (ipycanvas's own events: one per mouse move,
    about 60 a second) and at most one upload of 10 MB now and then.
    """

    def __init__(
        self,
        messages_per_s: float = 100,
        message_burst: float = 300,
        bytes_per_s: float = 2e6,
        byte_burst: float = 24e6,
        clock=time.monotonic,
    ) -> None:
        self.rates = (messages_per_s, bytes_per_s)
        self.bursts = (message_burst, byte_burst)
        self.tokens = list(self.bursts)
        self.clock = clock
        self.last = clock()

    def take(self, size: int) -> bool:
        """Spend one message and ``size`` bytes; return False (spending nothing) if either bucket lacks them."""
        now = self.clock()
        elapsed, self.last = now - self.last, now
        self.tokens = [min(b, t + r * elapsed) for t, r, b in zip(self.tokens, self.rates, self.bursts)]
        if self.tokens[0] < 1 or self.tokens[1] < size:
            return False
        self.tokens[0] -= 1
        self.tokens[1] -= size
        return True


class AppKernelConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, taking only what a pad page sends (see the module)."""

    _sockets: ClassVar[collections.Counter[str]] = collections.Counter()  # open websockets per kernel id
    FLOOD_CLOSE = 2000  # messages dropped on one connection: no page ever has one dropped, close it

    @property
    def subprotocol(self) -> str:
        """Always v1: legacy connections are refused before they open.

        jupyter_server reads the protocol off the websocket, and a websocket being closed has none:
        frames still arriving then would go to the legacy deserialiser, which reads a v1 frame's
        first 4 bytes as a count of offsets and builds a format string that long (hundreds of MB).
        """
        return V1

    def _where(self) -> str:
        handler = self.websocket_handler
        return f"kernel {self.kernel_id} (client {handler.request.remote_ip})"

    async def prepare(self) -> None:
        """Refuse, before the upgrade, a legacy-protocol websocket or one too many to this kernel."""
        offered = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        if V1 not in [p.strip() for p in offered.split(",")]:
            self.log.warning(
                "Refused a websocket to %s: it does not offer %s (legacy protocol)", self._where(), V1
            )
            self._refuse(400, "The app's kernels speak only the v1 websocket protocol.")
        if self._sockets[self.kernel_id] >= MAX_SOCKETS:
            self.log.warning("Refused a websocket to %s: %d already open", self._where(), MAX_SOCKETS)
            self._refuse(429, "Too many connections to this kernel.")
        self._pace = Pace()
        self._dropped = 0
        self._counted = False
        self._closing = False  # refused: whatever still arrives is dropped
        await super().prepare()

    def _refuse(self, status: int, text: str) -> None:
        """Answer the upgrade request with ``status`` and ``text`` (an error page would need a template it lacks)."""
        self.websocket_handler.set_status(status)
        raise web.Finish(text)

    def connect(self):
        """Connect as jupyter_server does, counting this websocket (one over the limit is closed at once)."""
        connected = super().connect()
        if connected is None:  # it failed and disconnected already
            return None
        self._counted = True
        self._sockets[self.kernel_id] += 1
        if self._sockets[self.kernel_id] > MAX_SOCKETS:
            self._close(1008, f"more than {MAX_SOCKETS} websockets open at once")
        return connected

    def disconnect(self) -> None:
        """Disconnect as jupyter_server does, and stop counting this websocket."""
        if getattr(self, "_counted", False):
            self._counted = False
            self._sockets[self.kernel_id] -= 1
            if self._sockets[self.kernel_id] <= 0:
                del self._sockets[self.kernel_id]
        super().disconnect()

    def _close(self, code: int, why: str) -> None:
        if not self._closing:
            self._closing = True
            self.log.warning("Closed a websocket to %s: %s", self._where(), why)
        self.websocket_handler.close(code, "refused")

    def _on_error(self, channel, msg, msg_list) -> None:
        """Send a kernel's error message to the page without its traceback, and log the traceback here.

        (jupyter_server's own ``allow_tracebacks = False`` fails: it reads the replacement text from
        the kernel's manager, which has none.)
        """
        if channel != "iopub":
            return
        msg["header"] = self.get_part("header", msg["header"], msg_list)
        if msg["header"]["msg_type"] != "error":
            return
        content = self.get_part("content", msg["content"], msg_list)
        trace = ANSI.sub("", "\n".join(content.get("traceback") or []))
        self.log.warning(
            "Kernel %s reported an error; its page gets no traceback:\n%s", self.kernel_id, trace
        )
        msg["content"] = {"ename": "Error", "evalue": "(details in the server's log)", "traceback": []}
        msg_list[3] = self.session.pack(msg["content"])

    def _on_zmq_reply(self, stream, msg_list) -> None:
        """Relay a kernel's message as jupyter_server does, but not to a websocket already closed or refused."""
        if self._closing:
            return
        try:
            super()._on_zmq_reply(stream, msg_list)
        except WebSocketClosedError:  # closed by the client meanwhile: its on_close disconnects the streams
            pass

    def handle_incoming_message(self, incoming_msg) -> None:
        """Check a frame, then pass it to jupyter_server's handling; close or drop what a page never sends."""
        if not self.channels or self._closing:
            return  # closed, or being closed (jupyter_server ignores the former too)
        try:
            frame = parse_v1(incoming_msg)
        except BadFrame as exc:
            self._close(1008, f"a malformed frame: {exc}")
            return
        if not self._pace.take(len(incoming_msg)):
            self._dropped += 1
            if self._dropped == 1:
                self.log.warning("Dropping messages from %s: faster than a page sends them", self._where())
            if self._dropped >= self.FLOOD_CLOSE:
                self._close(1008, f"{self._dropped} messages over the pace limit")
            return
        why = refusal(frame)
        if why:
            self.log.warning("Dropped %s from %s: pages never send it", why, self._where())
            return
        super().handle_incoming_message(incoming_msg)
