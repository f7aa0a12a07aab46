"""What the app's server and its kernels use: memory (PSS) and CPU, and when a warm pool has gone quiet."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

from tools.local_servers import Server, cpu_seconds, descendants, kernel_pids, pss_bytes


def pss_mb(pids: Sequence[int]) -> float:
    """Return the summed proportional set size (PSS) of ``pids`` in MB: shared pages counted once in all."""
    return pss_bytes(pids) / 2**20


def _command(pid: int) -> list[bytes]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return []


def voila_pids(server_pid: int) -> list[int]:
    """Return the Voila processes among ``server_pid`` and its descendants (one, or one per backend)."""
    return [pid for pid in descendants(server_pid) if _command(pid)[1:3] == [b"-m", b"voila"]]


def nginx_pids(server_pid: int) -> list[int]:
    """Return nginx's processes (master and workers) among ``server_pid``'s descendants."""
    return [pid for pid in descendants(server_pid) if _command(pid)[:1] and b"nginx" in _command(pid)[0]]


def cpu_split(server_pid: int) -> tuple[float, float, float, float]:
    """Return the CPU s used so far by the Voila processes, nginx, the kernels, and this benchmark's side.

    This benchmark's side is this process (the light students) and its other children (Chromium).
    """
    server_side = set(descendants(server_pid))
    ours = [pid for pid in descendants(os.getpid()) if pid not in server_side]
    return (
        cpu_seconds(voila_pids(server_pid)),
        cpu_seconds(nginx_pids(server_pid)),
        cpu_seconds(kernel_pids(server_pid)),
        cpu_seconds(ours),
    )


def wait_for_warm_pool(server: Server, pool: int, timeout: float) -> None:
    """Wait until ``pool`` kernels run and none has used CPU for 2 s (the app notebook has run in them).

    Voila has no API that lists kernels, and its "pool is filled" log line comes when the kernels have
    started, before they have run the notebook.
    """
    start, before, now, busy = time.monotonic(), {}, {}, 0
    while time.monotonic() - start < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server stopped:\n{server.log_tail(3000)}")
        now = {pid: cpu_seconds([pid]) for pid in kernel_pids(server.process.pid)}
        busy = sum(1 for p in now if p not in before or now[p] - before[p] >= 0.05)
        if len(now) >= pool and not busy:
            return
        before = now
        time.sleep(2)
    raise RuntimeError(
        f"the pool of {pool} kernels was not warm after {timeout:.0f} s: {len(now)} kernels, {busy} of them "
        "new or busy (a slow or busy machine? try a smaller --pool)"
    )


async def sample_memory(pid: int, samples: list[float], kernels: list[int], stop: asyncio.Event) -> None:
    """Record the server's and its kernels' PSS, and how many kernels run, every 2 s until ``stop`` is set.

    In a thread: reading 30 kernels' smaps_rollup can take seconds on a busy machine, and in this
    loop it would stall every light student, who would then measure that stall, not the app.
    """
    while not stop.is_set():
        samples.append(await asyncio.to_thread(lambda: pss_mb(descendants(pid))))
        kernels.append(len(await asyncio.to_thread(kernel_pids, pid)))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)
