"""The teacher's live view in the benchmark: students save their digits, the teacher's page follows the store.

With ``--save-every S`` the app runs in collect mode (a class folder of the run's own) and every light
student clicks Save after each digit, at most once every S seconds (a little jitter: a class does not
save in step), waiting for the pad to say "saved". With ``--teacher`` the teacher's page
(app/config/teacher_view.py) is open throughout in a Chromium of its own, at full CPU weight (it
stands for the teacher's laptop): the page records every change it shows (``window.mnistClassView``),
and each save's lag is the time from its record's ``created`` (stamped by the kernel just before the
save's transaction) to the first change of the page showing that many drawings.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tools.classroom.chromium_student import yield_cpu as lowest_weight
from tools.classroom.protocol import KernelSocket, comm_data
from tools.classroom.report import percentiles, seconds
from tools.local_servers import cpu_seconds, descendants

VIEWPORT = {"width": 1920, "height": 1080}  # the projector
MARK = "--window-name=mnist-teacher-view"  # tells the teacher's Chromium from the students' ones
SETTLE = 5.0  # s the page settles after opening, before anything else of the run


def marked() -> list[int]:
    """Return the pids of Chromium processes started with MARK (the teacher's browser process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if MARK.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


async def save(ks: KernelSocket, ids: dict[str, str], timeout: float) -> float:
    """Click the pad's Save and wait for the message line to say "saved"; return how long that took."""

    def saved(message: dict) -> bool:
        value = ((comm_data(message, ids["message"]) or {}).get("state") or {}).get("value", "")
        return 'data-kind="saved"' in value

    waiting = asyncio.ensure_future(ks.wait(saved, timeout))
    start = time.monotonic()
    ks.comm(ids["save"], {"method": "custom", "content": {"event": "click"}})
    await waiting
    return time.monotonic() - start


async def pace(last: float | None, every: float, rng: random.Random) -> None:
    """Sleep until about ``every`` s after the ``last`` save (monotonic time), give or take a fifth."""
    if last is not None:
        await asyncio.sleep(max(0.0, last + every * rng.uniform(0.8, 1.2) - time.monotonic()))


@dataclass
class TeacherRun:
    """What the teacher's page showed during the class."""

    updates: list[tuple[float, int]] = field(default_factory=list)  # (epoch s, drawings shown)
    polls: int = 0
    errors: list[str] = field(default_factory=list)
    opened: float | None = None  # s to open the page
    cpu: float = 0.0  # CPU s its Chromium used from the class's start to its end


class TeacherPage:
    """The teacher's page in a Chromium of its own, open from before the class until ``close``."""

    def __init__(self, playwright, executable: str, args: list[str]) -> None:
        self.playwright, self.executable, self.args = playwright, executable, args
        self.run = TeacherRun()
        self.browser = self.page = None
        self.pids: list[int] = []
        self.cpu_start = 0.0

    async def open(self, base: str, code: str, timeout: float, yield_cpu: bool = True) -> None:
        """Open the page (logged in with ``code``) and let it settle, as a teacher does before the class comes.

        ``yield_cpu``: lowest CPU weight, as the benchmark gives every browser that stands for a
        computer of its own (here the teacher's).
        """
        start = time.monotonic()
        self.browser = await self.playwright.chromium.launch(
            executable_path=self.executable, args=[*self.args, MARK], headless=True
        )
        context = await self.browser.new_context(viewport=VIEWPORT)
        self.page = await context.new_page()
        self.page.on("pageerror", lambda e: self.run.errors.append(str(e)[:200]))
        await self.page.goto(f"http://{base}/teacher/?code={code}", timeout=timeout * 1000)
        await self.page.wait_for_selector(".mnist-class-view", timeout=timeout * 1000)
        self.run.opened = time.monotonic() - start
        self.pids = [p for pid in marked() for p in descendants(pid)]
        if yield_cpu:
            lowest_weight(self.pids)
        await asyncio.sleep(SETTLE)

    def class_starts(self) -> None:
        """Note the CPU its Chromium has used so far: what it uses during the class is reported."""
        self.cpu_start = cpu_seconds(self.pids)

    async def close(self, saved: int = 0, settle: float = 5.0) -> TeacherRun:
        """Read what the page recorded, then close it; first let it show the last of ``saved`` drawings (bounded)."""
        self.run.cpu = cpu_seconds(self.pids) - self.cpu_start
        if self.page is not None:
            with contextlib.suppress(Exception):  # not shown in time: counted as never shown
                shown = "(n) => Number(document.querySelector('.mnist-class-view').dataset.count) >= n"
                await self.page.wait_for_function(shown, arg=saved, timeout=settle * 1000, polling=50)
            try:
                seen = await self.page.evaluate("window.mnistClassView")
                self.run.updates = [(u["at"] / 1000, u["count"]) for u in seen["updates"]]
                self.run.polls = seen["polls"]
            except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not read
                self.run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        if self.browser is not None:
            await self.browser.close()
        return self.run


def save_times(class_dir: Path) -> list[float]:
    """Return the epoch time of every saved drawing, in order (stamped by the kernels when they saved)."""
    from mnistlib.classroom.store import ClassStore

    store = ClassStore(class_dir, read_only=True)
    return sorted(datetime.fromisoformat(store.get(int(i)).created).timestamp() for i in store.images().ids)


def lags(updates: list[tuple[float, int]], saved: list[float]) -> tuple[list[float], int]:
    """Return each save's lag to the page (the first change showing that many drawings), and saves never shown."""
    found, missed, i = [], 0, 0
    for n, when in enumerate(saved, 1):
        while i < len(updates) and updates[i][1] < n:
            i += 1
        if i == len(updates):
            missed += 1
        else:
            found.append(max(0.0, updates[i][0] - when))
    return found, missed


def print_figures(students: list, args) -> None:
    """Print the saves' figures and, with the teacher's page open, how far behind the store it stayed."""
    saves = [s for student in students for s in student.saves]
    saved = sum(student.saved for student in students)
    wall = max(1e-9, getattr(args, "class_wall", 0.0))
    print(
        f"saves: {saved} drawings saved ({saved / wall:.1f} a second over the class's {wall:.0f} s), "
        f"one per student at most every {args.save_every:g} s; Save to 'saved' {percentiles(saves)}"
    )
    run = getattr(args, "teacher_run", None)
    if run is None:
        print("teacher's page: not open (--teacher opens it)")
        return
    found, missed = lags(run.updates, save_times(args.class_dir))
    print(
        f"teacher's page (a Chromium of its own, 1920 x 1080, polling every 0.8 s): opened in "
        f"{run.opened or 0:.1f} s, before the class; {run.polls} polls, {len(run.updates)} changes "
        f"shown; its Chromium used {run.cpu:.1f} s of CPU = {run.cpu / wall:.2f} cores (in the students' side above)"
    )
    print(
        f"  behind the store: save -> shown on the page {seconds(found)} (p50 / p90 / max) for {len(found)} "
        f"saves; {missed} never shown; {len(run.errors)} page error(s) {run.errors[:2] or ''}"
    )
