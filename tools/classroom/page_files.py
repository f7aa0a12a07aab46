"""A browser's way of fetching a page's files: six kept-alive HTTP/1.1 connections, gzip accepted.

Tornado's HTTP client opens a connection per request and inflates every gzipped answer in the
benchmark's one thread; with a class of light students that thread, not the server, set the pace.
A browser keeps its connections open and inflates on its own CPU. Here each file is read as it
comes over the wire (compressed if the server compresses it) and only counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit

LANES = 6  # connections a browser opens to one server


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> int:
    """Read one response's body (Content-Length or chunked); return its size in bytes."""
    if "content-length" in headers:
        size = int(headers["content-length"])
        await reader.readexactly(size)
        return size
    if headers.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            total += size
        while (await reader.readline()) not in (b"\r\n", b""):  # trailers
            pass
        return total
    return len(await reader.read())  # the connection's end ends the body


async def _lane(host: str, port: int, queue: asyncio.Queue, counted: list[int], timeout: float) -> None:
    reader = writer = None
    try:
        while not queue.empty():
            target = queue.get_nowait()
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip, deflate\r\n"
                "Connection: keep-alive\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status, *lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)
            }
            if status.split()[1] != "200":
                raise RuntimeError(f"GET {target}: {status}")
            counted.append(len(head) + await asyncio.wait_for(_read_body(reader, headers), timeout))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def fetch_files(urls: Sequence[str], timeout: float, lanes: int = LANES) -> int:
    """Fetch ``urls`` (one server's) as a browser with an empty cache does; return the bytes received."""
    if not urls:
        return 0
    where = urlsplit(urls[0])
    queue: asyncio.Queue = asyncio.Queue()
    for url in urls:
        parts = urlsplit(url)
        queue.put_nowait(parts.path + (f"?{parts.query}" if parts.query else ""))
    counted: list[int] = []
    await asyncio.gather(
        *(
            _lane(where.hostname, where.port or 80, queue, counted, timeout)
            for _ in range(min(lanes, len(urls)))
        )
    )
    return sum(counted)
