"""The app's kernel pool: how big it is for a class, and refills that wait until the class is quiet.

Voila's own pool refills one kernel per page taken, ``fill_delay`` seconds later, all at once: right
after a class opens the page, as many kernels run the app notebook while the students draw their
first digits, and the readings wait behind them. Here the pool holds the whole class and a few spares
(:func:`pool_size`), so nobody needs a refill during the lesson, and refills (:func:`serial_refill`):

* start one kernel at a time, each after the previous one has run the app notebook;
* once the first page has been taken, wait until no kernel has been active for ``quiet`` seconds
  (students drawing keep kernels active), unless a page is already waiting for that very kernel:
  Voila counts a refill not yet started as part of the pool, and a page that comes when only such
  refills are left takes one and must not wait for the class to pause;
* never start while the server runs its most kernels (the kernel manager's ``max_kernels``, see
  class_server.ClassKernelManager): a refill waits until a page frees one. The pool's size as the
  page handler sees it (``get_pool_size``) counts such a refill only when it can start.
"""

from __future__ import annotations

import asyncio
import datetime
import math


def spares(students: int) -> int:
    """Return the kernels kept beyond one per student: one per 10 students, at least 2 (for reloads)."""
    return max(2, math.ceil(students / 10))


def pool_size(students: int) -> int:
    """Return the warm kernels for a class of ``students``: one each plus :func:`spares`; 0 for none."""
    if students < 0:
        raise ValueError(f"a class has 0 or more students, not {students}: set STUDENTS=N (e.g. 30)")
    return students + spares(students) if students else 0


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def serial_refill(base: type, quiet: float = 5.0, poll: float = 0.25) -> type:
    """Return a subclass of Voila's pooled kernel manager ``base`` whose refills run one at a time, when quiet.

    ``base`` is what voila.voila_kernel_manager.voila_kernel_manager_factory returns with preheated
    kernels on; it keeps every other behaviour (culling, restarts, shutting down).
    """

    class SerialRefillKernelManager(base):
        """Voila's kernel pool, refilled one kernel at a time while the class is quiet."""

        def __init__(self, **kwargs) -> None:
            self._refill_lock = asyncio.Lock()
            self._pages_taken = 0
            self._waiting_pages = 0  # pages that took a refill not started yet: it starts at once
            self._refill_starting = False  # the refill holding the lock has begun starting its kernel
            super().__init__(**kwargs)

        def _room(self) -> float:
            """Return how many more kernels may start (a kernel manager without a cap: no limit)."""
            if not getattr(self, "max_kernels", 0):
                return math.inf
            return self.max_kernels - self.kernel_count()

        def get_pool_size(self, notebook_name: str) -> int:
            """Return the pool's kernels a page may take now: started ones, and refills that can start."""
            pool = self._pools.get(notebook_name) or []
            ready = sum(1 for task in pool if task.done())
            starting = int(self._refill_starting and len(pool) > ready)
            return ready + starting + min(len(pool) - ready - starting, max(0, self._room()))

        async def get_rendered_notebook(self, notebook_name: str, *args, **kwargs):
            """Give a page the oldest kernel of the pool, as Voila does, noting if it still has to start."""
            pool = self._pools.get(notebook_name) or []
            if pool and not pool[0].done():
                self._waiting_pages += 1
            self._pages_taken += 1
            return await super().get_rendered_notebook(notebook_name, *args, **kwargs)

        async def _wait_for_turn(self) -> None:
            """Return once a kernel may start and no kernel has been active for ``quiet`` s (or a page waits for it)."""
            while True:
                if self._room() >= 1:
                    if not self._pages_taken:
                        return
                    if self._waiting_pages:
                        self._waiting_pages -= 1
                        return
                    idle = (_now() - self.last_kernel_activity).total_seconds()
                    if idle >= quiet:
                        return
                    await asyncio.sleep(min(poll, quiet - idle))
                else:
                    await asyncio.sleep(poll)

        async def _initialize(self, notebook_path: str, kernel_id: str | None = None, **kwargs) -> dict:
            """Start a pool kernel and run the app notebook in it, one kernel at a time."""
            if kernel_id is not None:  # a restarted kernel re-runs the notebook at once: a page waits for it
                return await super()._initialize(notebook_path, kernel_id, **kwargs)
            async with self._refill_lock:  # FIFO: kernels join the pool in the order Voila queued them
                await self._wait_for_turn()
                self._refill_starting = True
                try:
                    content = await super()._initialize(notebook_path, None, **kwargs)
                    # The next one starts after this one has run the notebook (or failed: Voila reports it).
                    await asyncio.wait([content["task"]])
                finally:
                    self._refill_starting = False
                return content

    return SerialRefillKernelManager
