"""The command line: `python -m tools.classroom` (`make classroom`); see tools/classroom/__init__.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import tools.classroom
from tools.classroom.class_run import run_class
from tools.classroom.delay_proxy import running_proxy
from tools.classroom.report import report
from tools.classroom.school_link import school_link
from tools.classroom.server_usage import pss_mb, wait_for_warm_pool
from tools.classroom.teacher_page import print_figures
from tools.local_servers import CHROMIUM, app_launcher, app_server, descendants


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line; fill in the pool's size and check what the run needs."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.classroom", description=tools.classroom.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--students", type=int, default=5, help="students opening the page at once")
    parser.add_argument("--browsers", type=int, default=1, help="how many of them use a real Chromium page")
    parser.add_argument(
        "--pool", type=int, default=None, help="warm kernels in all (default: one per student and spares)"
    )
    parser.add_argument(
        "--backends",
        type=int,
        default=None,
        help="Voila processes behind nginx (default: `make app`'s, one per core and per 10 students at most)",
    )
    parser.add_argument(
        "--one-voila",
        action="store_true",
        help="serve the class from one Voila without nginx, as `make app` does when nginx is missing",
    )
    parser.add_argument("--delay-ms", type=float, default=0.0, help="network round-trip delay to add")
    parser.add_argument(
        "--rate-mbit",
        type=float,
        default=0.0,
        help="the class's shared bandwidth each way, in Mbit/s: the server then runs in a network "
        "namespace behind a shaped link (root and iproute2); 0: loopback",
    )
    parser.add_argument(
        "--server-cores",
        type=int,
        default=0,
        help="run the app on this many cores only (the first ones; taskset), the students on the others: "
        "how the class that fits grows with the cores (0: all cores, shared with the students)",
    )
    parser.add_argument("--digits", type=int, default=3, help="digits each student draws")
    # Bounds: warming (the pool's kernels start one at a time), then the class, then clean-up stay
    # under 7 minutes in all.
    parser.add_argument("--timeout", type=float, default=60.0, help="s a student waits for any one step")
    parser.add_argument("--class-timeout", type=float, default=120.0, help="s all students have to finish")
    parser.add_argument("--warm-timeout", type=float, default=240.0, help="s to wait for the pool to warm up")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-assets",
        dest="assets",
        action="store_false",
        help="light students fetch only the page, not the ~100 files of Voila's JavaScript a real page loads "
        "(those are recorded once in Chromium before the class, when it is installed)",
    )
    parser.add_argument(
        "--browsers-share-cpu",
        dest="yield_browsers",
        action="store_false",
        help="give the Chromium pages an equal share of the cores with the server (by default they "
        "take only what the server and the light students leave, as laptops of their own would)",
    )
    parser.add_argument(
        "--per-move",
        action="store_true",
        help="light students send one message per mouse move (ipycanvas's own events, as in JupyterLab) "
        "instead of the app page's batches",
    )
    parser.add_argument(
        "--save-every",
        type=float,
        default=0.0,
        help="collect mode: light students click Save after each digit, at most every so many seconds "
        "(a class folder of the run's own)",
    )
    parser.add_argument(
        "--teacher",
        action="store_true",
        help="open the teacher's live view throughout (a Chromium of its own) and measure how far "
        "behind the store it stays (with --save-every)",
    )
    args = parser.parse_args(argv)
    args.browsers = min(args.browsers, args.students)
    args.assets = args.assets and Path(CHROMIUM).exists()
    if args.students < 1 or args.digits < 1:
        parser.error("--students and --digits must be at least 1")
    # The class as `make app STUDENTS=N [APP_POOL=...]` serves it: the pool split over the backends.
    args.env = {"APP_STUDENTS": str(args.students)} | ({"APP_POOL": str(args.pool)} if args.pool else {})
    if args.one_voila or app_launcher.find_nginx() is None:
        args.one_voila, args.backends = True, 1
        args.env["APP_PROXY"] = "0"
    elif args.backends is None:
        args.backends = app_launcher.backend_count(args.students, args.server_cores or app_launcher.cores())
    args.env["APP_BACKENDS"] = str(args.backends)
    if args.save_every or args.teacher:
        args.env |= {"APP_COLLECT": "1", "APP_TEACHER_CODE": secrets.token_hex(8)}
    if args.teacher and not Path(CHROMIUM).exists():
        parser.error(f"--teacher needs Chromium at {CHROMIUM} (apt-get install chromium)")
    args.pool = app_launcher.pool_total(args.env, args.backends)
    if args.browsers and not Path(CHROMIUM).exists():
        parser.error(
            f"--browsers needs Chromium at {CHROMIUM} (apt-get install chromium), or use --browsers 0"
        )
    return args


def pinned(cores: int) -> list[str]:
    """Return the command prefix that runs the app on its first ``cores`` cores, and pin this process to the rest."""
    if not cores:
        return []
    all_cores = sorted(os.sched_getaffinity(0))
    if cores >= len(all_cores):
        raise RuntimeError(
            f"--server-cores {cores}: this machine has {len(all_cores)}; the students need one"
        )
    os.sched_setaffinity(0, all_cores[cores:])
    return ["taskset", "-c", ",".join(map(str, all_cores[:cores]))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 when it ran (whatever the figures), 2 when it could not."""
    args = parse_args(argv)
    # A SIGTERM (timeout, a teacher's kill) must still stop the servers below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="classroom-") as tmp, contextlib.ExitStack() as servers:
        try:
            start = time.monotonic()
            link = (
                servers.enter_context(school_link(args.rate_mbit, args.delay_ms)) if args.rate_mbit else None
            )
            args.link = link.describe() if link else ""
            args.class_dir = Path(tmp) / "class"  # collect mode saves here, never into data/class/
            args.env["MNISTLIB_CLASS_DIR"] = str(args.class_dir)
            server = app_server(
                Path(tmp),
                host=link.server_ip if link else "127.0.0.1",
                prefix=[*(link.prefix if link else ()), *pinned(args.server_cores)],
                timeout=args.warm_timeout,
                **args.env,
            )
            servers.enter_context(server)
            how = "one Voila" if args.one_voila else f"{args.backends} Voila process(es) behind nginx"
            print(f"{how} on {server.host}:{server.port}, warming {args.pool} kernels ...", flush=True)
            wait_for_warm_pool(server, args.pool, args.warm_timeout)
            warm = time.monotonic() - start
            baseline = pss_mb(descendants(server.process.pid))
            base = f"{server.host}:{server.port}"
            # A link whose kernel cannot delay packets (no netem) gets its round trip from the proxy.
            if args.delay_ms > 0 and not (link and link.delay_in_kernel):
                proxy = servers.enter_context(running_proxy(server, args.delay_ms, Path(tmp)))
                base = f"127.0.0.1:{proxy.port}"
            students, samples, kernels, cpu = asyncio.run(run_class(args, server, base))
            report(students, samples, kernels, cpu, baseline, args, warm)
            if args.save_every or args.teacher:
                print_figures(students, args)
        except RuntimeError as exc:
            print(f"classroom: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
