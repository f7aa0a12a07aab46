"""The app's kernel launcher (app/fork/kernels/python3/fork_kernel.py): kernels that skip empty flushes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ipykernel.iostream import OutStream
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from mnistlib.paths import REPO_ROOT

FORK_DIR = REPO_ROOT / "app" / "fork" / "kernels" / "python3"
sys.path.insert(0, str(FORK_DIR))
import fork_kernel  # app/fork/kernels/python3/fork_kernel.py


class Stream:
    """Stands in for an ipykernel OutStream: only the attributes flush_if_written looks at."""

    def __init__(self, pending: bool, subprocess_pending: bool = False) -> None:
        self._flush_pending, self._subprocess_flush_pending = pending, subprocess_pending


def test_only_a_stream_with_something_written_is_flushed(monkeypatch):
    flushed = []
    monkeypatch.setattr(OutStream, "flush", lambda self: flushed.append(self))  # restored after the test
    fork_kernel.skip_empty_flushes()
    written, empty, child = Stream(True), Stream(False), Stream(False, subprocess_pending=True)
    for stream in (written, empty, child):
        OutStream.flush(stream)
    assert flushed == [written, child]
    OutStream.flush(object())  # a stream without those attributes (another ipykernel): flushed as before
    assert len(flushed) == 3


@pytest.fixture
def kernel(monkeypatch):
    """An app kernel as Voila starts one (app/fork's kernel.json) when no template process answers."""
    monkeypatch.delenv(fork_kernel.SOCKET_ENV, raising=False)
    specs = KernelSpecManager(kernel_dirs=[str(FORK_DIR.parent)])
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    """Run ``code``; return what it printed, all of which must come before the kernel is idle again."""
    out: list[str] = []
    reply = client.execute_interactive(
        code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", ""))
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_a_kernel_started_without_the_template_skips_empty_flushes_and_still_prints(kernel):
    assert run(kernel, "from ipykernel.iostream import OutStream; print(OutStream.flush.__name__)") == (
        "flush_if_written\n"
    )
    # Output written by a comm handler or a cell still reaches the page before the kernel goes idle.
    assert run(kernel, "import sys; print('to stdout'); print('to stderr', file=sys.stderr)") == (
        "to stdout\nto stderr\n"
    )


def test_a_template_whose_server_stops_while_it_imports_stops_too(tmp_path):
    # The server starts the template and is gone half a second later, long before torch is imported.
    starter = (
        "import subprocess, sys, time; "
        "print(subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL).pid, flush=True); time.sleep(0.5)"
    )
    server = subprocess.run(
        [
            sys.executable,
            "-c",
            starter,
            *(sys.executable, str(FORK_DIR / "fork_kernel.py"), "serve", str(tmp_path / "template.sock")),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=30,
    )
    template = int(server.stdout)
    deadline = time.monotonic() + 60
    while running(template) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = running(template)
    if left:
        os.kill(template, signal.SIGKILL)
    assert not left, "the template outlived the server that started it"


def running(pid: int) -> bool:
    """Whether ``pid`` runs (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
