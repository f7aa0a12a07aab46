"""The kernel websocket as a browser speaks it: v1 binary frames, comm messages, the pad's reading.

jupyter_server's "v1.kernel.websocket.jupyter.org" protocol: every frame is binary: the number of
offsets, the offsets (8 bytes little-endian each), then the channel name, header, parent header,
metadata, content (JSON) and any buffers. Voila reads every binary frame it sends as this protocol:
a client of the older JSON protocol receiving a binary frame (a widget state with an image in it)
sends Voila's server into an endless loop, so a load generator must speak v1 too.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import uuid

WS_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def pack_v1(channel: str, header: dict, parent: dict, metadata: dict, content: dict, buffers=()) -> bytes:
    """Encode one message (and its binary ``buffers``) as a v1 binary websocket frame."""
    parts = [channel.encode()] + [json.dumps(x).encode() for x in (header, parent, metadata, content)]
    parts += list(buffers)
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


# The reading widget's page hook (mnistlib.classroom.panels): its state, digit, strokes and liveness.
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
