"""The students' app for a class: one Voila process per core behind nginx, or one Voila alone.

`make app STUDENTS=N` runs this file. One Voila process serves every file and relays every kernel
message on one thread, so it keeps one core busy while the others wait. Here, with nginx installed::

    students --> nginx on APP_HOST:APP_PORT (default 127.0.0.1:8866)
                   /                a redirect to /s1/, /s2/, ... in turn (a returning student: theirs)
                   /static/...      Voila's and the widgets' JavaScript, from disk: precompressed
                                    (gzip), kept a year by the browser (a content hash in the path)
                   /sK/voila/templates/<template>/static/...   the page's CSS and fonts, from disk
                   /sK/...          the page, its kernel's websocket, REST and shutdown -> Voila K
                 Voila K on 127.0.0.1 (a free port), base_url /sK/: app/config/voila.py as always,
                 with its share of the class's warm pool and its own kernel template (app/fork)

A page, its websocket, its REST calls and its shutdown beacon all carry /sK/, so they all reach
the Voila that holds the page's kernel; nginx needs no session table. The Voila processes read the
same app/config, so each one is the same bounded class server; nginx adds its own limits (request
size, timeouts, connections per address, no directory listings).

Without nginx (a teacher's laptop: `apt-get install nginx` or `brew install nginx` adds it), or
with ``APP_PROXY=0``, this runs one Voila as before and says so.

Settings, from the environment as for the rest of app/config (the Makefile sets them):

* ``APP_STUDENTS`` / ``APP_POOL``: the class, or the warm pool, split evenly over the Voila processes.
* ``APP_BACKENDS``: how many Voila processes (default: one per core, and one per
  :data:`STUDENTS_PER_BACKEND` students at most, since each has its own kernel template).
* ``APP_PORT`` (default 8866) and ``APP_HOST`` (default this computer only): where students connect.
* ``APP_CONNECTIONS_PER_ADDRESS``: connections one address may hold at once (default 64; 0: no
  limit, for a class behind one address).
* ``APP_CODE``, ``APP_BEHIND_PROXY``, ``APP_PUBLIC_URL``: the class code and a reverse proxy in
  front (app/config/class_code.py, docs/class-server.md).

Command-line arguments are passed to every Voila process (e.g. ``--no-browser``, ``--token=...``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import hashlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
NOTEBOOK = APP_DIR / "app.ipynb"
CONFIG_DIR = APP_DIR / "config"
NGINX_TEMPLATE = APP_DIR / "nginx.conf.template"
TEMPLATE = "mnist-app"  # the page template app/config/voila.py sets (c.VoilaConfiguration.template)
DEFAULT_PORT = 8866  # Voila's own
STUDENTS_PER_BACKEND = 10
READY_TIMEOUT = 120.0  # s for a Voila process to answer; its pool keeps warming afterwards
# Text files worth compressing; fonts (woff, woff2) and pictures already are.
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".json", ".map", ".svg", ".html", ".txt", ".ttf", ".eot"})

# Appended: app/config/voila.py is Voila's config file, and must not hide the voila package.
sys.path.append(str(CONFIG_DIR))
import app_pool  # app/config/app_pool.py: the pool a class needs
import page_assets  # app/config/page_assets.py: the extensions the page loads


def voila_command(*args: str, notebook: Path = NOTEBOOK) -> list[str]:
    """Return the command that serves ``notebook`` with the app's Voila settings, plus ``args``."""
    return [sys.executable, "-m", "voila", str(notebook), f"--Voila.config_file_paths={CONFIG_DIR}", *args]


def cores() -> int:
    """Return the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def backend_count(students: int, cores: int) -> int:
    """Return how many Voila processes serve a class of ``students`` on ``cores`` cores."""
    return max(1, min(cores, math.ceil(students / STUDENTS_PER_BACKEND)))


def shares(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` shares as even as round robin makes them (the first ones get one more)."""
    return [total // parts + (i < total % parts) for i in range(parts)]


@dataclass(frozen=True)
class Backend:
    """One Voila process: its number, its port on 127.0.0.1, and the settings of its share of the class."""

    number: int
    port: int
    env: dict[str, str]

    @property
    def prefix(self) -> str:
        """Return its base_url, e.g. ``/s1/``."""
        return f"/s{self.number}/"

    @property
    def name(self) -> str:
        return f"s{self.number}"


def class_env(environ: dict[str, str], count: int) -> list[dict[str, str]]:
    """Return each Voila process's share of the class (APP_STUDENTS, APP_POOL, APP_MAX_KERNELS) in ``count`` parts."""
    parts: list[dict[str, str]] = [{} for _ in range(count)]
    for name in ("APP_STUDENTS", "APP_POOL", "APP_MAX_KERNELS"):
        if environ.get(name):
            for part, share in zip(parts, shares(int(environ[name]), count), strict=True):
                part[name] = str(share)
    return parts


def pool_total(environ: dict[str, str], count: int) -> int:
    """Return the warm kernels of all ``count`` Voila processes together, as app/config/voila.py sizes each."""
    total = 0
    for part in class_env(environ, count):
        if "APP_POOL" in part:
            total += int(part["APP_POOL"])
        elif "APP_STUDENTS" in part:
            total += app_pool.pool_size(int(part["APP_STUDENTS"]))
        else:
            total += 1
    return total


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    """Raise RuntimeError if ``port`` is taken on ``host`` (another `make app`?), before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx binds it
        try:
            s.bind((host, port))
        except OSError as exc:
            raise RuntimeError(
                f"port {port} on {host} is taken ({exc.strerror}): another `make app`?"
            ) from exc


def find_nginx() -> str | None:
    """Return nginx's path (Debian installs it in /usr/sbin, often not on a user's PATH), or None."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin:/opt/homebrew/bin")


# -- The static files nginx serves ----------------------------------------------------------------


def merged_files(roots: Sequence[Path]) -> dict[str, Path]:
    """Return relative path -> file over ``roots``, the first root holding a path winning, as Voila looks them up."""
    files: dict[str, Path] = {}
    for root in roots:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    files.setdefault(path.relative_to(root).as_posix(), path)
    return files


def content_hash(files: dict[str, Path]) -> str:
    """Return a short hash of the files' names and contents: it changes whenever one of them does."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel].read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def write_tree(files: dict[str, Path], folder: Path) -> None:
    """Copy ``files`` into ``folder``, with a gzipped copy (``.gz``, read by nginx's gzip_static) of each text file."""
    for rel, source in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        target.write_bytes(data)
        if source.suffix in COMPRESSIBLE:
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) < len(data):
                target.with_name(target.name + ".gz").write_bytes(packed)


def voila_static_roots() -> list[Path]:
    """Return the folders Voila serves the page template's static files from, in the order it looks."""
    from voila.paths import collect_static_paths

    return [Path(p) for p in collect_static_paths(["voila", "nbconvert"], TEMPLATE)]


def extension_roots() -> dict[str, Path]:
    """Return the folder of each extension the page loads (page_assets.EXTENSIONS), as Voila finds them."""
    from jupyterlab_server.config import get_federated_extensions
    from voila.utils import get_voila_labextensions_path

    found = get_federated_extensions(get_voila_labextensions_path())
    missing = [name for name in page_assets.EXTENSIONS if name not in found]
    if missing:
        raise RuntimeError(f"the app page needs these JupyterLab extensions, not installed: {missing}")
    return {name: Path(found[name]["ext_path"]) for name in page_assets.EXTENSIONS}


@dataclass(frozen=True)
class StaticTree:
    """Where nginx finds the page's static files, and the addresses the page asks for them at."""

    folder: Path  # what /static/ maps to
    voila: str  # sub-folder of Voila's static files (its main script, chunks, CSS, fonts)
    lab: str  # sub-folder of the extensions

    @property
    def static_url(self) -> str:
        return f"/static/{self.voila}"

    @property
    def labextensions_url(self) -> str:
        return f"/static/{self.lab}"


def build_static(folder: Path) -> StaticTree:
    """Copy and precompress the page's static files into ``folder``, each set under its content hash."""
    voila_files = merged_files(voila_static_roots())
    lab_files = {
        f"{name}/{rel}": path
        for name, root in extension_roots().items()
        for rel, path in merged_files([root]).items()
    }
    tree = StaticTree(folder, f"voila-{content_hash(voila_files)}", f"lab-{content_hash(lab_files)}")
    write_tree(voila_files, folder / tree.voila)
    write_tree(lab_files, folder / tree.lab)
    return tree


# -- nginx's configuration --------------------------------------------------------------------------


def _proxy_headers(forwarded_proto: str) -> str:
    # A location that sets any proxy header inherits none from the server block: the websockets' need all.
    return "\n".join(
        f"            proxy_set_header {line};"
        for line in (
            "Host $http_host",
            "X-Real-IP $remote_addr",
            "X-Forwarded-For $remote_addr",
            f"X-Forwarded-Proto {forwarded_proto}",
            "Upgrade $http_upgrade",
            "Connection $connection_upgrade",
        )
    )


def nginx_config(
    backends: Sequence[Backend],
    tree: StaticTree,
    runtime: Path,
    listen: str,
    connections_per_address: int,
    behind_proxy: bool,
    user: str = "",
) -> str:
    """Return nginx's configuration for ``backends`` behind ``listen`` (e.g. ``127.0.0.1:8866``)."""
    proto = "$http_x_forwarded_proto" if behind_proxy else "$scheme"
    real_ip = (
        "    # The reverse proxy in front (on this computer) says who the student is.\n"
        "    set_real_ip_from 127.0.0.1;\n    set_real_ip_from ::1;\n"
        "    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n"
        if behind_proxy
        else ""
    )
    upstreams, picks, pick_servers, returning, locations = [], [], [], [], []
    for b in backends:
        upstreams.append(
            f"    upstream {b.name} {{\n        server 127.0.0.1:{b.port};\n        keepalive 32;\n    }}\n"
        )
        picks.append(f"        server unix:{runtime}/pick-{b.name}.sock;")
        pick_servers.append(
            "    server {\n"
            f"        listen unix:{runtime}/pick-{b.name}.sock;\n"
            "        absolute_redirect off;\n"
            f'        add_header Set-Cookie "mnist_backend={b.name}; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax";\n'
            f"        return 302 {b.prefix}$is_args$args;\n"
            "    }\n"
        )
        returning.append(f"        {b.name} {b.name};")
        locations.append(
            f"        # Voila {b.number}: its page template's CSS and fonts from disk, the rest from it.\n"
            f"        location ~ ^{b.prefix}voila/templates/{TEMPLATE}/static/(.+)$ {{\n"
            f"            alias {tree.folder}/{tree.voila}/$1;\n"
            "            gzip_static on;\n"
            "            add_header Cache-Control $template_file_cache;\n"
            "        }\n"
            f"        location ~ ^{b.prefix}api/kernels/[^/]+/channels$ {{\n"
            f"            proxy_pass http://{b.name};\n"
            f"{_proxy_headers(proto)}\n"
            "            # Voila pings each websocket every 30 s; a lesson's pauses are longer than this.\n"
            "            proxy_read_timeout 300s;\n"
            "            proxy_send_timeout 300s;\n"
            "        }\n"
            f"        location {b.prefix} {{\n"
            f"            proxy_pass http://{b.name};\n"
            "        }\n"
        )
    # The teacher's live view: any Voila can serve it (they share the class store); the first one does.
    first = backends[0].prefix
    locations.append(
        f"        location = /teacher {{\n            return 302 {first}teacher/$is_args$args;\n        }}\n"
        f"        location = /teacher/ {{\n            return 302 {first}teacher/$is_args$args;\n        }}\n"
    )
    values = {
        "USER": f"user {user};" if user else "",
        "RUNTIME": str(runtime),
        "REAL_IP": real_ip,
        "RETURNING": "\n".join(returning),
        "UPSTREAMS": "\n".join(upstreams),
        "PICKS": "\n".join(picks),
        "PICK_SERVERS": "\n".join(pick_servers),
        "LISTEN": listen,
        "CONNECTIONS_PER_ADDRESS": str(connections_per_address or 65535),
        "FORWARDED_PROTO": proto,
        "STATIC": str(tree.folder),
        "BACKEND_LOCATIONS": "\n".join(locations),
    }

    def fill(match: re.Match) -> str:
        return values[match[1]]

    return re.sub(r"@([A-Z_]+)@", fill, NGINX_TEMPLATE.read_text())


def listen_address(host: str, port: int) -> str:
    """Return nginx's ``listen`` value for Voila's ``ip`` setting ``host`` (empty: this computer only)."""
    if host in ("", "localhost"):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def worker_user() -> str:
    """Return ``user group`` for nginx's workers when started as root (nobody), else empty: they stay this user."""
    if os.geteuid() != 0:
        return ""
    import grp
    import pwd

    nobody = pwd.getpwnam("nobody")
    return f"nobody {grp.getgrgid(nobody.pw_gid).gr_name}"


# -- Processes ---------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In a child: get SIGTERM when this launcher dies, even by SIGKILL (Linux; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_until_answers(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``url`` answers, or raise RuntimeError if ``process`` stops or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process stopped (exit code {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(processes: Sequence[subprocess.Popen], timeout: float = 15) -> None:
    """Stop ``processes`` (SIGTERM: Voila shuts its kernels down, nginx closes), then kill what is left."""
    for p in processes:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
    deadline = time.monotonic() + timeout
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def class_code(host: str, args: Sequence[str]) -> str | None:
    """Return the class code every Voila process requires: ``--token=`` if given, else class_code.py's rules."""
    for arg in args:
        if arg.startswith("--token="):
            return arg.split("=", 1)[1] or None
    import class_code as codes  # app/config/class_code.py

    return codes.class_code(os.environ.get("APP_CODE", ""), host or "localhost")


def announce(host: str, port: int, code: str | None) -> None:
    """Print the students' link and the class code once (the Voila processes' own would name their ports)."""
    import class_code as codes

    url = codes.students_url(host or "127.0.0.1", port, code, os.environ.get("APP_PUBLIC_URL", ""))
    codes.announce(url, code, codes.is_loopback(host or "127.0.0.1") and not os.environ.get("APP_PUBLIC_URL"))


def serve_one(args: Sequence[str], note: str) -> None:
    """Replace this process with one Voila on APP_PORT, as `make app` ran before there was a proxy."""
    print(f"app/serve.py: {note}; serving the class from one Voila process.", file=sys.stderr, flush=True)
    port, host = os.environ.get("APP_PORT"), os.environ.get("APP_HOST")
    where = [*([f"--port={port}"] if port else []), *([f"--Voila.ip={host}"] if host else [])]
    os.execv(sys.executable, voila_command(*where, *args))


def serve_class(args: Sequence[str], nginx: str) -> int:
    """Run the Voila processes and nginx in front of them until one stops or a signal comes; return an exit code."""
    host = os.environ.get("APP_HOST", "")
    port = int(os.environ.get("APP_PORT") or DEFAULT_PORT)
    students = int(os.environ.get("APP_STUDENTS") or 0)
    count = int(os.environ.get("APP_BACKENDS") or backend_count(students, cores()))
    code = class_code(host, args)
    import class_code as codes  # app/config/class_code.py

    codes.teacher_code()  # one teacher code (APP_TEACHER_CODE) for every Voila, which inherit it
    # Voila's template search path, as app/config/voila.py sets it for each Voila process.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(APP_DIR / "jupyter"), os.environ.get("JUPYTER_PATH")])
    )
    processes: list[subprocess.Popen] = []
    runtime = Path(tempfile.mkdtemp(prefix="mnist-app-"))
    runtime.chmod(0o755)  # nginx's workers (nobody, when started as root) read the static files here

    def on_signal(number: int, _frame) -> None:
        raise SystemExit(128 + number)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, on_signal)
    try:
        check_port_free(host if host not in ("", "localhost") else "127.0.0.1", port)
        tree = build_static(runtime / "static")
        backends = [
            Backend(i + 1, free_port(), share) for i, share in enumerate(class_env(dict(os.environ), count))
        ]
        for b in backends:
            env = {
                **os.environ,
                **b.env,
                "APP_HOST": "127.0.0.1",
                "APP_CODE": code or "none",
                "APP_BEHIND_PROXY": "1",
                "APP_STATIC_URL": tree.static_url,
                "APP_LABEXTENSIONS_URL": tree.labextensions_url,
            }
            command = voila_command(
                *args,
                "--no-browser",
                f"--port={b.port}",
                "--Voila.port_retries=0",
                "--Voila.ip=127.0.0.1",
                f"--Voila.base_url={b.prefix}",
                *([f"--token={code}"] if code else []),
            )
            # Their stdout carries only the class link with their own port: this launcher prints nginx's.
            processes.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - no thread runs yet in this process
                )
            )
        for b, p in zip(backends, processes, strict=True):
            wait_until_answers(
                f"http://127.0.0.1:{b.port}{b.prefix}voila/static/favicon.ico", p, READY_TIMEOUT
            )
        conf = runtime / "nginx.conf"
        conf.write_text(
            nginx_config(
                backends,
                tree,
                runtime,
                listen_address(host, port),
                int(os.environ.get("APP_CONNECTIONS_PER_ADDRESS") or 64),
                os.environ.get("APP_BEHIND_PROXY") == "1",
                worker_user(),
            )
        )
        nginx_args = [nginx, "-p", str(runtime), "-c", str(conf), "-e", "stderr"]
        subprocess.run([*nginx_args, "-t", "-q"], check=True)
        processes.append(subprocess.Popen(nginx_args, preexec_fn=_die_with_parent))  # noqa: PLW1509 - no thread yet
        probe_host = "127.0.0.1" if host in ("", "localhost", "0.0.0.0", "::") else host
        probe_host = f"[{probe_host}]" if ":" in probe_host else probe_host
        wait_until_answers(
            f"http://{probe_host}:{port}{backends[0].prefix}voila/static/favicon.ico", processes[-1], 10
        )
        print(
            f"app/serve.py: {len(backends)} Voila process(es) ({', '.join(b.prefix for b in backends)}) behind "
            f"nginx on port {port}; warm kernels: {pool_total(dict(os.environ), count)} in all",
            file=sys.stderr,
            flush=True,
        )
        announce(host, port, code)
        if "--no-browser" not in args:
            url = f"http://{probe_host}:{port}/" + (f"?token={code}" if code else "")
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        stopped = next(p for p in processes if p.poll() is not None)
        print(f"app/serve.py: {stopped.args[0]} stopped; stopping the others", file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError:
        print("app/serve.py: nginx refused its configuration (above)", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"app/serve.py: {exc}", file=sys.stderr)
        return 1
    finally:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        stop(processes)
        shutil.rmtree(runtime, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the class behind nginx, or with one Voila when there is no nginx or ``APP_PROXY=0``."""
    args = list(sys.argv[1:] if argv is None else argv)
    nginx = find_nginx()
    if os.environ.get("APP_PROXY", "1") == "0":
        serve_one(args, "APP_PROXY=0")
    if nginx is None:
        serve_one(
            args,
            "nginx is not installed (apt-get install nginx, or brew install nginx, serves more students)",
        )
    return serve_class(args, nginx)


if __name__ == "__main__":
    sys.exit(main())
