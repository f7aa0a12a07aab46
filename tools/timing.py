"""The one timing helper every benchmark uses: run a call a number of times and keep each duration."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Durations of repeated runs of one call, in seconds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """Return the median duration: robust to the odd slow run a busy machine adds."""
        return statistics.median(self.times)

    @property
    def slowest(self) -> float:
        """Return the longest duration."""
        return max(self.times)


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 0) -> Timing:
    """Call ``fn`` ``warmup`` times untimed (kernels, caches, allocator), then ``repeats`` times timed."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}.")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))
