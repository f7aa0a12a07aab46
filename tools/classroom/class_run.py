"""The class itself: every student in at once, light and in Chromium, while the server's memory is sampled."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

from tools.classroom.chromium_student import browser_student, chromium, page_assets, yield_cpu
from tools.classroom.light_student import light_student
from tools.classroom.server_usage import cpu_split, sample_memory
from tools.classroom.student import Student
from tools.classroom.teacher_page import TeacherPage
from tools.local_servers import CHROMIUM, CHROMIUM_ARGS, Server, descendants


async def run_class(
    args: argparse.Namespace, server: Server, base: str
) -> tuple[list[Student], list[float], list[int], tuple[float, ...]]:
    """Let every student in at once; return what each saw, memory samples, kernel counts, CPU used.

    ``base`` is host:port the students open (Voila's, or the delaying proxy's). The CPU used is
    (Voila s, nginx s, kernels s, students' side s, class's wall-clock s). Sets ``args.page`` (the
    page's files and weight, recorded in Chromium, or None).
    """
    rng = random.Random(args.seed)
    plans = [[rng.randrange(10) for _ in range(args.digits)] for _ in range(args.students)]
    token, server_pid = server.token, server.process.pid
    samples: list[float] = []
    kernels: list[int] = []
    stop = asyncio.Event()
    from tornado.httpclient import AsyncHTTPClient

    # All students at once, each with a browser's six connections, not 10 requests by 10.
    AsyncHTTPClient.configure(None, max_clients=6 * args.students + 10)
    browser = playwright = sampler = teacher = None
    tasks: list[asyncio.Future] = []
    try:
        if args.browsers or args.assets or args.teacher:
            from playwright.async_api import async_playwright

            playwright = await async_playwright().start()
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            if args.yield_browsers:
                yield_cpu([pid for pid in descendants(os.getpid()) if chromium(pid)])
        if args.teacher:  # open before the class comes, as a teacher would (before the page's files are
            # recorded: those take kernels the pool refills once quiet, as in a run without the page)
            teacher = TeacherPage(playwright, CHROMIUM, CHROMIUM_ARGS)
            await teacher.open(base, args.env["APP_TEACHER_CODE"], args.timeout, args.yield_browsers)
        args.page = await page_assets(browser, base, token, args.timeout) if args.assets else None
        sampler = asyncio.create_task(sample_memory(server_pid, samples, kernels, stop))
        if teacher is not None:
            teacher.class_starts()
        cpu_before, start = cpu_split(server_pid), time.monotonic()
        kinds = ["browser" if i < args.browsers else "light" for i in range(args.students)]
        tasks = [
            asyncio.ensure_future(
                browser_student(browser, base, token, plans[i], args.seed + i, args.timeout)
                if kinds[i] == "browser"
                else light_student(
                    base,
                    token,
                    plans[i],
                    args.seed + i,
                    args.timeout,
                    args.per_move,
                    args.page,
                    args.save_every,
                )
            )
            for i in range(args.students)
        ]
        # The whole class is bounded too: a student still drawing then counts as a failure.
        await asyncio.wait(tasks, timeout=args.class_timeout)
        cpu_after, wall = cpu_split(server_pid), time.monotonic() - start
        args.class_wall = wall
        students = []
        for kind, task in zip(kinds, tasks, strict=True):
            if task.done():
                students.append(task.result())
            else:
                task.cancel()
                students.append(Student(kind, failures=[f"not done after {args.class_timeout:.0f} s"]))
    finally:
        stop.set()
        if sampler is not None:
            await sampler
        if teacher is not None:
            done = [t.result() for t in tasks if t.done() and not t.cancelled() and t.exception() is None]
            args.teacher_run = await teacher.close(sum(s.saved for s in done))
        if browser is not None:
            await browser.close()
        if playwright is not None:
            await playwright.stop()
    cpu = (*(after - before for after, before in zip(cpu_after, cpu_before, strict=True)), wall)
    return students, samples, kernels, cpu
