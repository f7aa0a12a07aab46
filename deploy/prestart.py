"""Start the students' servers before class through the JupyterHub REST API, a few at a time.

Usage: python3 deploy/prestart.py --hub https://hub.example.org student01 student02 ...
       python3 deploy/prestart.py --hub http://127.0.0.1 --students 30 --prefix student
The token comes from the environment variable JUPYTERHUB_API_TOKEN: an admin's token from the hub's
/hub/token page, or a service token with the scopes admin:users and admin:servers. Users who do not
exist yet are created. Only the Python standard library is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed


class HubError(RuntimeError):
    """The hub refused a request or a server did not start."""


def call(hub: str, token: str, method: str, path: str) -> tuple[int, dict]:
    """Send one API request; return (status, JSON body); raise HubError on a refusal other than 400/409."""
    request = urllib.request.Request(
        f"{hub.rstrip('/')}/hub/api{path}",
        method=method,
        data=b"" if method == "POST" else None,
        headers={"Authorization": f"token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        if exc.code in (400, 409):  # already running / already exists: fine for a pre-start
            return exc.code, {"message": detail}
        raise HubError(f"{method} {path}: HTTP {exc.code} {detail}") from exc


def start(hub: str, token: str, name: str) -> None:
    """Create ``name`` if needed and ask the hub to start their default server."""
    quoted = urllib.parse.quote(name)
    call(hub, token, "POST", f"/users/{quoted}")
    call(hub, token, "POST", f"/users/{quoted}/server")


def is_ready(hub: str, token: str, name: str) -> bool:
    """Return whether ``name``'s default server is up and answering."""
    _, user = call(hub, token, "GET", f"/users/{urllib.parse.quote(name)}")
    server = user.get("servers", {}).get("")
    return bool(server and server.get("ready"))


def start_and_wait(hub: str, token: str, name: str, deadline: float) -> bool:
    """Start ``name``'s server and wait until it is ready or ``deadline`` (time.monotonic()) passes."""
    start(hub, token, name)
    while time.monotonic() < deadline:
        if is_ready(hub, token, name):
            return True
        time.sleep(1)
    return False


def prestart(hub: str, token: str, names: list[str], parallel: int = 5, timeout: float = 600) -> list[str]:
    """Start every server, ``parallel`` at a time (a class starting at once starves the cores); return the late."""
    deadline = time.monotonic() + timeout
    late = []
    # Threads: the hub answers a start request only once the server is up or after ~10 s.
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(start_and_wait, hub, token, name, deadline): name for name in names}
        for done, future in enumerate(as_completed(futures), start=1):
            name = futures[future]
            if future.result():
                print(f"ready: {name} ({done}/{len(names)})", flush=True)
            else:
                late.append(name)
    return late


def main() -> None:
    """Parse the command line, start the servers, and exit non-zero if any did not come up in time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", required=True, help="the hub's address, e.g. https://hub.example.org")
    parser.add_argument("--students", type=int, default=0, help="start PREFIX01..PREFIXnn")
    parser.add_argument(
        "--prefix", default="student", help="user-name prefix for --students (default: student)"
    )
    parser.add_argument("--parallel", type=int, default=5, help="servers starting at once (default: 5)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for all (default: 600)")
    parser.add_argument("names", nargs="*", help="user names to start")
    args = parser.parse_args()
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        sys.exit("Set JUPYTERHUB_API_TOKEN to an admin token (the hub's /hub/token page) and run again.")
    names = args.names + [f"{args.prefix}{i:02d}" for i in range(1, args.students + 1)]
    if not names:
        sys.exit("Name the students to start, or give --students N.")
    try:
        late = prestart(args.hub, token, names, args.parallel, args.timeout)
    except (HubError, urllib.error.URLError) as exc:
        sys.exit(f"The hub at {args.hub} refused: {exc}")
    if late:
        sys.exit(f"Not ready after {args.timeout:.0f} s: {', '.join(late)}")
    print(f"All {len(names)} servers are running.")


if __name__ == "__main__":
    main()
