"""The classroom benchmark's own parts (tools/classroom/): fetching a page's files as a browser does, the
shaped school link, and a recorded page's files for a student sent to another Voila.

The benchmark itself prints figures and is not a test (`make classroom`); these check that what it
measures is what it says.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import ClassVar

import pytest

from tools.classroom.chromium_student import PageAssets
from tools.classroom.page_files import fetch_files


class Files(http.server.BaseHTTPRequestHandler):
    """A server of three files, kept-alive connections (HTTP/1.1), counting the connections it accepts."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[set] = set()
    body = gzip.compress(b"x" * 10_000)

    def do_GET(self) -> None:
        Files.connections.add(self.client_address)
        if self.path == "/chunked.js":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"a" * 1000, b"b" * 500):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/file"):
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_error(404)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def files_server():
    Files.connections = set()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_pages_files_come_over_six_kept_alive_connections_compressed_as_sent(files_server):
    urls = [f"{files_server}/file{i}.js?v=1" for i in range(30)] + [f"{files_server}/chunked.js"]
    received = asyncio.run(fetch_files(urls, timeout=10))
    assert len(Files.connections) <= 6, "a browser opens at most six connections to a server"
    bodies = 30 * len(Files.body) + 1500
    assert bodies < received < bodies + 31 * 200, "the bodies as sent (gzip not inflated) and their headers"


def test_a_missing_file_is_a_failure_not_a_silent_zero(files_server):
    with pytest.raises(RuntimeError, match="404"):
        asyncio.run(fetch_files([f"{files_server}/file.js", f"{files_server}/missing.js"], timeout=10))


def test_a_student_sent_to_another_voila_asks_for_its_pages_files_there():
    assets = PageAssets(
        ["http://h:1/static/voila-1/a.js", "http://h:1/s1/voila/templates/app/static/index.css?v=2"],
        "http://h:1/s1/",
    )
    assert assets.for_prefix("http://h:1/s2/") == [
        "http://h:1/static/voila-1/a.js",
        "http://h:1/s2/voila/templates/app/static/index.css?v=2",
    ]


def can_make_namespaces() -> bool:
    if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("tc")):
        return False
    probe = f"mnist-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], check=False, capture_output=True).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "delete", probe], check=False, capture_output=True)
    return made


@pytest.mark.skipif(not can_make_namespaces(), reason="needs root and network namespaces (ip netns)")
def test_the_school_link_shares_its_bandwidth_and_goes_away_after(tmp_path):
    from tools.classroom.school_link import school_link

    (tmp_path / "blob").write_bytes(os.urandom(2_000_000))
    with school_link(rate_mbit=8, rtt_ms=20) as link:
        server = subprocess.Popen(
            [*link.prefix, sys.executable, "-m", "http.server", "8999", "--bind", link.server_ip],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://{link.server_ip}:8999/blob"
            deadline = time.monotonic() + 20
            while asyncio.run(_answers(url)) is False and time.monotonic() < deadline:
                time.sleep(0.2)
            start = time.monotonic()
            received = asyncio.run(fetch_files([url], timeout=30))
            took = time.monotonic() - start
        finally:
            server.terminate()
            server.wait(10)
        namespace = link.namespace
    assert received > 2_000_000
    assert took >= 2_000_000 * 8 / 8e6 * 0.9, f"2 MB at 8 Mbit/s took only {took:.2f} s"
    listed = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout
    assert namespace not in listed


async def _answers(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError:
        return False
    writer.close()
    return True
