"""App kernels forked from one process that has already imported PyTorch: shared memory, fast starts.

Importing torch costs every kernel hundreds of MB of private memory and seconds of CPU. A forked
child shares those pages with its parent until it writes to them, so each app kernel only pays
for what it changes. Two roles in this one file:

* ``serve SOCKET``: the template process, started by app/config/voila.py as a child of Voila. It
  imports torch and mnistlib's prediction code (not ipycanvas or ipywidgets: widgets created before
  a kernel exists would never reach a browser), then forks one kernel per request.
* ``launch -f CONNECTION_FILE``: what Jupyter starts as "the kernel" (kernel.json). It asks the
  template for a kernel, forwards signals (interrupt, terminate) to it and exits when it exits; the
  kernel exits when the launcher dies. Without a template (MNIST_KERNEL_TEMPLATE unset, or not
  answering), it runs an ordinary ipykernel instead (``kernel -f CONNECTION_FILE``).

Either way the kernel skips empty flushes of its stdout and stderr (:func:`skip_empty_flushes`). A
forked kernel has a memory ceiling when ``MNIST_KERNEL_MEMORY_MB`` is set (app/config/voila.py sets
it): its launcher kills it past the ceiling (:func:`watch_memory`).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import threading

SOCKET_ENV = "MNIST_KERNEL_TEMPLATE"
MEMORY_ENV = "MNIST_KERNEL_MEMORY_MB"


def skip_empty_flushes() -> None:
    """Make ipykernel's stdout/stderr flush() return at once when nothing was written since the last one.

    ipykernel flushes both streams after every message it handles, and each flush is a round trip to
    its IOPub thread (schedule, then wait on an Event), twice per stream. The pad sends a message for
    every batch of points, so those empty round trips are a good part of what each message costs the
    kernel. A stream marks itself ``_flush_pending`` on every write until flushed, so output is never
    held back. If a future ipykernel drops those attributes, its own flush runs unchanged.
    """
    from ipykernel.iostream import OutStream

    flush = OutStream.flush

    def flush_if_written(self: OutStream) -> None:
        if getattr(self, "_flush_pending", True) or getattr(self, "_subprocess_flush_pending", True):
            flush(self)

    OutStream.flush = flush_if_written


MEMORY_POLL = 0.2  # s between two looks at a kernel's memory (reading /proc costs about 20 us)


def _memory(pid: int | str = "self") -> tuple[int, int]:
    """Return a process's address space and its resident anonymous memory (RssAnon), in bytes."""
    with open(f"/proc/{pid}/statm") as f:
        size, resident, shared = map(int, f.read().split()[:3])
    page = os.sysconf("SC_PAGE_SIZE")
    return size * page, (resident - shared) * page


def memory_budget() -> int:
    """Return the memory a forked kernel may add to what it shares with its template, in bytes (0: no ceiling)."""
    return int(float(os.environ.get(MEMORY_ENV) or 0) * 2**20)


def cap_address_space(budget: int) -> None:
    """Make one huge allocation fail at once in this kernel instead of taking the machine's memory.

    Set well above the ceiling the launcher watches (:func:`watch_memory`): thread stacks and malloc
    arenas reserve address space they never use.
    """
    space, _ = _memory()
    limit = space + 2 * budget + 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def over_ceiling(pid: int, start: int, budget: int) -> int | None:
    """Return the memory kernel ``pid`` holds beyond ``start`` if that is more than ``budget`` bytes, else None."""
    try:
        used = _memory(pid)[1] - start
    except OSError:  # gone
        return None
    return used if used > budget else None


def _kernel(connection_file: str) -> None:
    """Run an ipykernel on ``connection_file`` in this process (never returns normally)."""
    skip_empty_flushes()
    from ipykernel.kernelapp import launch_new_instance

    sys.argv = ["ipykernel_launcher", "-f", connection_file]
    launch_new_instance()


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
    if memory_budget():
        cap_address_space(memory_budget())
    try:
        _kernel(request["connection_file"])
    finally:
        os._exit(0)


def serve(path: str) -> None:
    """Import the heavy modules once, then fork a kernel for each launcher that connects to ``path``."""
    # Before the imports: a server stopped while they run leaves this template to init, not to itself.
    parent = os.getppid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        if os.path.exists(path):
            os.unlink(path)
        listener.bind(path)
        listener.listen(128)  # launchers that come before the imports below are done wait in line
        import numpy  # noqa: F401
        import torch  # noqa: F401

        import mnistlib.classroom.fast_route  # noqa: F401 - torch, numpy, Pillow and the reading, for every kernel

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
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "kernel", "-f", connection_file])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda number, _frame: os.kill(pid, number))
    watch_memory(conn, pid, os.path.basename(connection_file))
    sys.exit(0)


def watch_memory(conn: socket.socket, pid: int, name: str) -> None:
    """Return when kernel ``pid`` exits (its end of ``conn`` closes); kill it if it passes its memory ceiling.

    A forked kernel shares its template's memory; what it adds is the anonymous memory it touches (new
    objects, copies of the pages it writes). Past ``MNIST_KERNEL_MEMORY_MB`` of that, the kernel is
    killed with a line in the server's log: its page then says "reload", and no other kernel notices.
    Watched from here, outside the kernel, so a kernel busy in C code is watched all the same.
    """
    budget = memory_budget()
    start = _memory(pid)[1] if budget else 0  # just forked: what it shares with the template
    conn.settimeout(MEMORY_POLL if budget else None)
    while True:
        try:
            if not conn.recv(1):  # the kernel is gone
                return
        except TimeoutError:
            used = over_ceiling(pid, start, budget)
            if used is not None:
                os.write(
                    2,
                    f"[fork_kernel] {name}: the kernel holds {used / 2**20:.0f} MB of new memory, over its "
                    f"ceiling of {budget / 2**20:g} MB ({MEMORY_ENV}): killing it; its page will say reload\n".encode(),
                )
                os.kill(pid, signal.SIGKILL)
        except InterruptedError:
            continue


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    elif sys.argv[1:3] == ["launch", "-f"]:
        launch(sys.argv[3])
    elif sys.argv[1:3] == ["kernel", "-f"]:
        _kernel(sys.argv[3])
    else:
        sys.exit("usage: fork_kernel.py serve SOCKET | launch -f CONNECTION_FILE | kernel -f CONNECTION_FILE")
