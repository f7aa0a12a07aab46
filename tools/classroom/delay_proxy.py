"""A TCP proxy that delays every byte, to measure the class over a slower network.

    python -m tools.classroom.delay_proxy LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT ONE_WAY_DELAY_S

It runs as its own process (``running_proxy``): the light students' busy event loop must not
slow its forwarding down, or their own stalls would count as network delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.local_servers import Server


async def delay_proxy(listen_port: int, upstream_host: str, upstream_port: int, delay: float) -> None:
    """Forward 127.0.0.1:listen_port to upstream_host:upstream_port, each byte ``delay`` s late each way."""

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
        up_reader, up_writer = await asyncio.open_connection(upstream_host, upstream_port)
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


def running_proxy(server: Server, round_trip_ms: float, folder: Path) -> Server:
    """Start the proxy in front of ``server`` (the app), half the delay each way, as a process of its own.

    As a context manager, it is ready once the server's probe answers through it, and stopped at the end.
    """
    # Imported here: the proxy's own process stays free of mnistlib, and of torch with it.
    from mnistlib.paths import REPO_ROOT
    from tools.local_servers import Server, free_port

    port = free_port()
    one_way = round_trip_ms / 2 / 1000
    args = [
        *(sys.executable, "-m", "tools.classroom.delay_proxy"),
        *(str(port), server.host, str(server.port), str(one_way)),
    ]
    return Server(
        args, port, server.token, dict(os.environ), folder / "proxy.log", server.probe, cwd=REPO_ROOT
    )


if __name__ == "__main__":
    asyncio.run(delay_proxy(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
