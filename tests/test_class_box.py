"""The one-server class box (deploy/class-box/): the app over HTTPS behind Caddy or nginx, and its systemd unit.

Each proxy test runs the very config file in deploy/class-box/ on free ports of 127.0.0.1 in front of
a real `make app` server (APP_BEHIND_PROXY=1), with a certificate of its own (Caddy's internal CA,
or one made with openssl for nginx), and checks what a student's browser does through it: the page
over HTTPS with its cookies marked Secure, the kernel's websocket over wss, a reading, and the
shutdown beacon. `.ci/run` installs caddy and nginx from Debian.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_support import ONE, Loop, Page, start_server, wait_for

from mnistlib.paths import REPO_ROOT
from tools.local_servers import free_port

BOX = REPO_ROOT / "deploy" / "class-box"


@dataclass
class Front:
    """What Page needs of a server: its address, the class code, and the CA to trust."""

    url: str
    token: str
    ca_certs: str


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("class-box"), APP_BEHIND_PROXY="1")
    yield server
    server.stop()


def student_through(front: Front, loop: Loop) -> dict:
    """Open the page through ``front``, draw a digit, close the page; return what the student got."""

    async def visit() -> dict:
        page = Page(front)
        response = await page.open()
        cookies = response.headers.get_list("Set-Cookie")
        await page.start()
        latency = await page.draw(ONE)
        left = await page.leave()
        return {"code": response.code, "cookies": cookies, "latency": latency, "left": left.code}

    return loop.run(visit())


def assert_a_student_is_served(seen: dict) -> None:
    assert seen["code"] == 200 and seen["left"] == 204, seen
    page_cookies = [c for c in seen["cookies"] if c.startswith(("mnist-kernel=", "mnist-shutdown="))]
    assert len(page_cookies) == 2 and all("Secure" in c and "HttpOnly" in c for c in page_cookies), (
        page_cookies
    )
    assert seen["latency"] < 2


def listening(port: int) -> bool:
    """Return True if something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def running(args: list[str], env: dict | None, log: Path, ready: str) -> subprocess.Popen:
    """Start a proxy; wait until its log says ``ready``."""
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: ready in log.read_text(errors="replace") or process.poll() is not None, 30)
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
    except BaseException:
        process.kill()
        raise
    return process


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (.ci/run installs it)")
def test_caddy_serves_the_app_over_https_with_its_websockets(app, loop, tmp_path):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "MNIST_SITE": f"https://127.0.0.1:{port}",
        "MNIST_UPSTREAM": f"127.0.0.1:{app.port}",
        "MNIST_CADDY_ADMIN": f"localhost:{free_port()}",
        "MNIST_HTTP_PORT": str(free_port()),
        "MNIST_HTTPS_PORT": str(port),
    }
    args = ["caddy", "run", "--config", str(BOX / "Caddyfile"), "--adapter", "caddyfile"]
    caddy = running(args, env, tmp_path / "caddy.log", "serving initial configuration")
    wait_for(lambda: listening(port), 20)
    try:
        root = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_for(root.exists, 30)
        time.sleep(1)  # the site's certificate is issued right after the CA's
        assert_a_student_is_served(
            student_through(Front(f"https://127.0.0.1:{port}", app.token, str(root)), loop)
        )
    finally:
        caddy.terminate()
        caddy.wait(10)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (.ci/run installs it)")
def test_nginx_serves_the_app_over_https_with_its_websockets(app, loop, tmp_path):
    cert, key = tmp_path / "site.crt", tmp_path / "site.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    site = (BOX / "nginx-mnist-app.conf").read_text()
    site = site.replace("/etc/ssl/certs/mnist.school.example.crt", str(cert))
    site = site.replace("/etc/ssl/private/mnist.school.example.key", str(key))
    site = site.replace("listen 80;", f"listen 127.0.0.1:{free_port()};").replace("listen [::]:80;", "")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
    site = site.replace("listen [::]:443 ssl http2;", "").replace("127.0.0.1:8866", f"127.0.0.1:{app.port}")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events { worker_connections 512; }\n"
        f"http {{ access_log {tmp_path}/access.log; client_body_temp_path {tmp_path}/body;"
        f" proxy_temp_path {tmp_path}/proxy; include {tmp_path}/site.conf; }}\n"
    )
    args = ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    nginx = running(args, None, tmp_path / "nginx.log", "")
    try:
        wait_for(lambda: listening(port), 20)
        assert_a_student_is_served(
            student_through(Front(f"https://127.0.0.1:{port}", app.token, str(cert)), loop)
        )
    finally:
        nginx.terminate()
        nginx.wait(10)


def test_the_class_box_unit_restarts_the_app_inside_a_memory_ceiling():
    unit = (BOX / "mnist-app.service").read_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["Restart"] == "on-failure"
    assert settings["MemoryMax"].endswith(("M", "G")) and "MemoryHigh" in settings
    assert settings["ExecStart"].startswith("/usr/bin/make --no-print-directory app HOST=127.0.0.1 ")
    assert "Environment=APP_BEHIND_PROXY=1" in unit.splitlines()
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(BOX / "mnist-app.service")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verified.returncode == 0, verified.stderr
