"""The benchmark's printout: the run's setting, the server's memory and CPU, then each kind of student."""

from __future__ import annotations

import argparse
import math
import os
import statistics
from collections.abc import Sequence

from tools.classroom.student import Student


def _p50_p90_max(values: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)],
        ordered[-1],
    )


def percentiles(values: Sequence[float]) -> str:
    """Return 'p50 / p90 / max' of ``values`` in ms, or '-' if there are none."""
    if not values:
        return "-"
    return " / ".join(f"{1000 * v:.0f}" for v in _p50_p90_max(values)) + " ms"


def seconds(values: Sequence[float]) -> str:
    """Return 'p50 / p90 / max' of ``values`` in s, or '-' if there are none."""
    if not values:
        return "-"
    return " / ".join(f"{v:.1f}" for v in _p50_p90_max(values)) + " s"


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
    server = "one Voila (no nginx)" if args.one_voila else f"{args.backends} Voila process(es) behind nginx"
    if args.server_cores:
        server += f", pinned to {args.server_cores} core(s) (the students on the others)"
    network = args.link or f"loopback, {args.delay_ms:.0f} ms round trip added"
    print(
        f"\n{args.students} students ({args.students - args.browsers} light, {args.browsers} in Chromium), "
        f"{server}, pool {args.pool}, {args.digits} digits each"
    )
    print(f"network: {network}")
    how = "one message per mouse move" if args.per_move else "the app page's batches (pad_client.js)"
    print(f"light students send strokes as {how}")
    if args.page:
        page = args.page
        print(
            f"light students fetch the page's {len(page.urls)} files, as a browser with an empty "
            "cache does (recorded in Chromium before the class)"
        )
        print(
            f"page in Chromium: first visit {page.first_requests} requests, {page.first_bytes / 2**20:.2f} MB "
            f"transferred; reload {page.reload_requests} requests, {page.reload_bytes / 2**10:.0f} kB"
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
    # Where the cores went: a server or kernels near the machine's core count explain slow readings.
    # The students' side (light clients, Chromium) shares the machine here, unlike in a real class.
    voila_cpu, nginx_cpu, kernel_cpu, students_cpu, wall = cpu
    digits = max(1, sum(s.drawn for s in students))
    print(
        f"CPU during the class ({wall:.0f} s): Voila {voila_cpu:.0f} s = {voila_cpu / wall:.2f} cores, "
        f"nginx {nginx_cpu:.1f} s = {nginx_cpu / wall:.2f} cores, "
        f"kernels {kernel_cpu:.0f} s = {kernel_cpu / wall:.2f} cores, students' side (light clients + "
        f"Chromium) {students_cpu:.0f} s = {students_cpu / wall:.2f} cores ({os.cpu_count()} on this machine)"
    )
    print(
        f"CPU per digit drawn: Voila {1000 * voila_cpu / digits:.0f} ms, kernels {1000 * kernel_cpu / digits:.0f} ms"
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
