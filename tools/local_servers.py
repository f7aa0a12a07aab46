"""Local servers for the browser tests and the classroom benchmark: ports, homes, Chromium, processes.

One place for what ``tests/browser_support.py``, ``tests/hub_support.py`` and ``tools/classroom/``
all need: a free port on 127.0.0.1, an environment whose Jupyter files stay in a scratch home,
Chromium's flags, how it tells a painted pad and what a page transfers, Voila and the whole app as
`make app` runs them (app/serve.py), a server process started in its own process group, waited for
and stopped with its kernels, and the processes' family tree, CPU time and memory.
(``deploy/prestart.py`` stays standalone: it runs on a teacher's machine with only Python.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlib.paths import REPO_ROOT

APP_LAUNCHER = REPO_ROOT / "app" / "serve.py"

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium
# Headless, and nothing that phones home or updates itself while a test or a benchmark runs.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# True in the page once the pad's canvas is painted black all over: its kernel has drawn it for this page.
PAD_PAINTED = """() => { const c = document.querySelector('.mnist-pad canvas'); if (!c) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 400) if (d[i] < 255) return false; return true; }"""


class NetworkCount:
    """Requests a page sends and the bytes they transfer, from Chromium's DevTools network events."""

    def __init__(self, cdp) -> None:
        self.requests: dict[str, int] = {}
        self.cached: set[str] = set()
        cdp.on("Network.requestWillBeSent", lambda e: self.requests.setdefault(e["requestId"], 0))
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def _response(self, event: dict) -> None:
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.cached.add(event["requestId"])

    def _finished(self, event: dict) -> None:
        self.requests[event["requestId"]] = int(event["encodedDataLength"])

    def totals(self) -> tuple[int, int]:
        """Return (requests the server answered, bytes transferred) since the last call."""
        sent = {r: n for r, n in self.requests.items() if r not in self.cached and n}
        self.requests, self.cached = {}, set()
        return len(sent), sum(sent.values())


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """Return an environment that keeps Jupyter, IPython and caches inside ``home``, the repo importable."""
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("IPYTHONDIR", "ipython"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
    ]:
        env[var] = str(home / sub)
        (home / sub).mkdir(parents=True, exist_ok=True)
    # No news or update pop-up covering the page: set it as the (isolated) user's own setting.
    settings = home / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def load_app_launcher():
    """Return app/serve.py (what `make app` runs) as a module: Voila's command and the class's plan."""
    spec = importlib.util.spec_from_file_location("app_serve", APP_LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


app_launcher = load_app_launcher()


def voila_args(notebook: Path, port: int, token: str) -> list[str]:
    """Return the command that serves ``notebook`` with one Voila as `make app`'s do, on 127.0.0.1:``port``."""
    return app_launcher.voila_command(
        "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", f"--token={token}", notebook=notebook
    )


class Server:
    """A Jupyter-family server started in its own process group and stopped, kernels and all, by ``stop``.

    As a context manager it waits until the server answers (``ready_timeout`` s) and stops it on exit.
    """

    def __init__(
        self,
        args: list[str],
        port: int,
        token: str,
        env: dict[str, str],
        log: Path,
        probe: str,
        cwd: Path | None = None,
        ready_timeout: float = 60,
        host: str = "127.0.0.1",
    ) -> None:
        self.port, self.token, self.log, self.host = port, token, log, host
        self.url = f"http://{host}:{port}"
        self.probe, self.ready_timeout = probe, ready_timeout
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def __enter__(self) -> Self:
        try:
            self.wait_ready(self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the probe URL answers, or fail with the end of the server's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}{self.probe}", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"server on port {self.port} did not start:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        """Return the last ``n`` characters of the server's log."""
        self._log_file.flush()
        return self.log.read_bytes()[-n:].decode(errors="replace")

    def stop(self) -> None:
        """Stop the server and every kernel it started (they share its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log_file.close()


def voila_server(
    notebook: Path, home: Path, cwd: Path | None = None, timeout: float = 60, **env: str
) -> Server:
    """Start Voila serving ``notebook`` as `make app` does, on 127.0.0.1 with a token, its files in ``home``.

    ``env``: variables set on top of the isolated environment (e.g. APP_POOL). Use it as a context
    manager: it waits up to ``timeout`` s for the server, and stops it and its kernels at the end.
    """
    port, token = free_port(), secrets.token_hex(16)
    return Server(
        voila_args(notebook, port, token),
        port,
        token,
        isolated_env(home) | env,
        home / "voila.log",
        "/voila/static/favicon.ico",  # a static file: every GET of / starts a kernel and runs the notebook
        cwd=cwd,
        ready_timeout=timeout,
    )


def app_server(
    home: Path,
    host: str = "127.0.0.1",
    prefix: Sequence[str] = (),
    timeout: float = 180,
    **env: str,
) -> Server:
    """Start the app as `make app` does (app/serve.py: nginx and Voila processes, or one Voila), with a token.

    It listens on ``host`` (a free port); ``prefix`` goes before the command (e.g. ``ip netns exec
    NAME``). ``env`` as for :func:`voila_server`; one address may hold any number of connections,
    since every simulated student comes from this one machine. Ready once the first Voila answers
    through nginx (or the one Voila itself).
    """
    port, token = free_port(), secrets.token_hex(16)
    settings = {"APP_PORT": str(port), "APP_HOST": host, "APP_CONNECTIONS_PER_ADDRESS": "0", **env}
    proxied = settings.get("APP_PROXY", "1") != "0" and app_launcher.find_nginx() is not None
    return Server(
        [*prefix, sys.executable, str(APP_LAUNCHER), "--no-browser", f"--token={token}"],
        port,
        token,
        isolated_env(home) | settings,
        home / "app.log",
        "/s1/voila/static/favicon.ico" if proxied else "/voila/static/favicon.ico",
        cwd=REPO_ROOT,
        ready_timeout=timeout,
        host=host,
    )


def parent_pid(pid: int) -> int:
    """Return the parent of ``pid``, read from /proc (OSError once it is gone)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> list[int]:
    """Return ``pid`` and all its descendants' pids, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(parent_pid(int(entry.name)), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


# The command line of the app's kernel template (app/fork/kernels/python3/fork_kernel.py): the kernels
# forked from it keep it, so they are told by their parent's.
FORK_TEMPLATE = b"fork_kernel.py\x00serve"


def kernel_pids(server_pid: int, forked_only: bool = False) -> list[int]:
    """Return the pids of a server's kernels: ipykernel processes, or children of the app's kernel template."""
    found = []
    for pid in descendants(server_pid)[1:]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            forked = FORK_TEMPLATE in Path(f"/proc/{parent_pid(pid)}/cmdline").read_bytes()
            if forked or (
                not forked_only and b"ipykernel_launcher" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ):
                found.append(pid)
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """Return the CPU time (user + system) that ``pids`` have used so far, in seconds (0 for one gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)
    return total


def pss_bytes(pids: Sequence[int]) -> int:
    """Return the summed proportional set size of ``pids`` (shared libraries split fairly between users)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total
