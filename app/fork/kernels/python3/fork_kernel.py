"""App kernels forked from one process that has already imported PyTorch: shared memory, fast starts.

Importing torch costs every kernel about 280 MB of private memory and several seconds. A forked
child shares those pages with its parent until it writes to them, so each app kernel only pays
for what it changes. Two roles in this one file:

* ``serve SOCKET``: the template process, started by app/config/voila.py as a child of Voila. It
  imports torch and mnistlib's prediction code (not ipycanvas or ipywidgets: widgets created before
  a kernel exists would never reach a browser), then forks one kernel per request.
* ``launch -f CONNECTION_FILE``: what Jupyter starts as "the kernel" (kernel.json). It asks the
  template for a kernel, forwards signals (interrupt, terminate) to it and exits when it exits; the
  kernel exits when the launcher dies. Without a template (MNIST_KERNEL_TEMPLATE unset, or not
  answering), it runs an ordinary ipykernel instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading

SOCKET_ENV = "MNIST_KERNEL_TEMPLATE"


def _child(conn: socket.socket, request: dict) -> None:
    """Become the kernel described by ``request`` (runs in the forked child; never returns)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the template ignores it; a kernel's subprocesses need it
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])

    def die_with_launcher() -> None:
        # The launcher holds the other end: when it dies (killed, or shut down), so does this kernel.
        while conn.recv(1):
            pass
        os._exit(1)

    threading.Thread(target=die_with_launcher, daemon=True).start()
    from ipykernel.kernelapp import launch_new_instance

    sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
    try:
        launch_new_instance()
    finally:
        os._exit(0)


def serve(path: str) -> None:
    """Import the heavy modules once, then fork a kernel for each launcher that connects to ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        if os.path.exists(path):
            os.unlink(path)
        listener.bind(path)
        listener.listen(128)  # launchers that come before the imports below are done wait in line
        import numpy  # noqa: F401
        import torch  # noqa: F401

        import mnistlib.predict  # noqa: F401 - torch, numpy, Pillow and the preprocessing, for every kernel

        parent = os.getppid()

        def die_with_server() -> None:
            while os.getppid() == parent:
                threading.Event().wait(2)
            os._exit(0)

        # A thread only in the template: fork() copies just the calling thread into a kernel.
        threading.Thread(target=die_with_server, daemon=True).start()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels that exit are reaped at once, no zombies
        while True:
            conn, _ = listener.accept()
            try:
                request = json.loads(conn.makefile("rb").readline())
            except (OSError, ValueError):
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                listener.close()
                _child(conn, request)
            conn.sendall(f"{pid}\n".encode())
            conn.close()


def launch(connection_file: str) -> None:
    """Start a kernel for Jupyter: a fork of the template if there is one, else an ordinary ipykernel."""
    path = os.environ.get(SOCKET_ENV)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path or "")
        request = {
            "connection_file": os.path.abspath(connection_file),
            "env": dict(os.environ),
            "cwd": os.getcwd(),
        }
        conn.sendall(json.dumps(request).encode() + b"\n")
        pid = int(conn.makefile("rb").readline())
    except (OSError, ValueError):
        conn.close()
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda number, _frame: os.kill(pid, number))
    while True:
        try:
            if not conn.recv(1):  # the kernel is gone
                break
        except InterruptedError:
            continue
    sys.exit(0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    elif sys.argv[1:3] == ["launch", "-f"]:
        launch(sys.argv[3])
    else:
        sys.exit("usage: fork_kernel.py serve SOCKET | launch -f CONNECTION_FILE")
