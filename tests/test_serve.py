"""app/serve.py, what `make app` runs: the class split over Voila processes behind nginx, or one Voila.

The first tests need no server: how a class is split, nginx's configuration (checked by nginx
itself), the precompressed static files, the fallback without nginx. The others start the
launcher as `make app` does, with two Voila processes, and speak to it over HTTP and websockets as a
student's browser does, then in Chromium: every request of a page reaches the Voila that holds its
kernel, static files come from nginx gzipped and cached for a year, a reload transfers almost
nothing, and stopping the launcher stops everything it started.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from browser_support import chromium_page, mouse_draw, wait_for_read_digit, wait_until_pad_is_painted

from tools.classroom.protocol import WS_PROTOCOL, KernelSocket
from tools.drawn_digits import DIGITS
from tools.local_servers import NetworkCount, app_server, descendants
from tools.local_servers import app_launcher as serve

NGINX = serve.find_nginx()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")
PAGE_BUDGET = int(1.5 * 2**20)  # bytes a first visit may transfer (compressed, headers included)
RELOAD_BUDGET = 64 * 2**10  # bytes a reload may transfer: the page itself, not its files


def test_a_class_is_split_evenly_over_one_voila_per_core():
    assert serve.backend_count(60, cores=2) == 2
    assert serve.backend_count(60, cores=8) == 6  # one per 10 students at most: each has a kernel template
    assert serve.backend_count(4, cores=2) == 1
    assert serve.backend_count(0, cores=4) == 1
    assert serve.shares(61, 2) == [31, 30]  # round robin gives the first one more
    assert serve.class_env({"APP_STUDENTS": "61", "APP_POOL": ""}, 2) == [
        {"APP_STUDENTS": "31"},
        {"APP_STUDENTS": "30"},
    ]
    # Each Voila sizes its own pool from its share: 30 + 3 spares twice, as make app STUDENTS=60 had.
    assert serve.pool_total({"APP_STUDENTS": "60"}, 2) == 66
    assert serve.pool_total({"APP_STUDENTS": "60", "APP_POOL": "7"}, 2) == 7
    assert serve.listen_address("", 8866) == "127.0.0.1:8866"
    assert serve.listen_address("0.0.0.0", 80) == "0.0.0.0:80"
    assert serve.listen_address("::", 80) == "[::]:80"


def test_voila_serves_the_template_the_proxy_maps():
    voila_py = (serve.CONFIG_DIR / "voila.py").read_text()
    assert f'c.VoilaConfiguration.template = "{serve.TEMPLATE}"' in voila_py


def fake_tree(folder: Path) -> serve.StaticTree:
    (folder / "voila-0").mkdir(parents=True)
    (folder / "lab-0").mkdir()
    return serve.StaticTree(folder, "voila-0", "lab-0")


@needs_nginx
@pytest.mark.parametrize("behind_proxy", [False, True])
def test_nginx_accepts_its_configuration_with_the_limits_a_class_server_needs(tmp_path, behind_proxy):
    backends = [serve.Backend(1, 40001, {}), serve.Backend(2, 40002, {})]
    conf = serve.nginx_config(
        backends,
        fake_tree(tmp_path / "static"),
        tmp_path,
        "127.0.0.1:40000",
        64,
        behind_proxy,
        serve.worker_user(),
    )
    (tmp_path / "nginx.conf").write_text(conf)
    checked = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    for line in (
        "client_max_body_size 64k;",
        "limit_conn per_address 64;",
        "autoindex off;",
        "client_header_timeout 20s;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_read_timeout 300s;",
        "location ~ ^/s2/api/kernels/[^/]+/channels$",
        "return 302 /s2/$is_args$args;",
    ):
        assert line in conf, f"nginx.conf lacks {line!r}"
    assert ("set_real_ip_from 127.0.0.1;" in conf) == behind_proxy
    assert not re.search(r"@[A-Z_]+@", conf), "a placeholder was left in nginx.conf"


def test_static_files_are_precompressed_and_named_by_their_content(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    script = b"console.log('the same line, again and again');\n" * 200
    (root / "main.js").write_bytes(script)
    (root / "sub" / "font.woff2").write_bytes(os.urandom(2000))
    files = serve.merged_files([root, tmp_path / "missing"])
    assert sorted(files) == ["main.js", "sub/font.woff2"]
    before = serve.content_hash(files)
    serve.write_tree(files, tmp_path / "tree")
    assert gzip.decompress((tmp_path / "tree" / "main.js.gz").read_bytes()) == script
    assert not (tmp_path / "tree" / "sub" / "font.woff2.gz").exists(), "woff2 is compressed already"
    (root / "main.js").write_bytes(script + b"//")
    assert serve.content_hash(serve.merged_files([root])) != before, "a changed file must change the path"


def test_a_file_is_taken_from_the_first_folder_that_has_it_as_voila_does(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, text in ((first, "first"), (second, "second")):
        folder.mkdir()
        (folder / "index.css").write_text(text)
    (second / "only.css").write_text("only")
    files = serve.merged_files([first, second])
    assert files["index.css"].read_text() == "first"
    assert files["only.css"].read_text() == "only"


class Replaced(Exception):
    """What the fake os.execv raises: the launcher would have become this command."""


def run_launcher(monkeypatch, nginx: str | None, args: list[str], **env: str) -> list[str]:
    """Run app/serve.py's main() with ``nginx`` found or not; return the command it replaced itself with."""

    def execv(path: str, command: list[str]):
        raise Replaced(command)

    monkeypatch.setattr(serve, "find_nginx", lambda: nginx)
    monkeypatch.setattr(serve.os, "execv", execv)
    for name in ("APP_PORT", "APP_HOST", "APP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Replaced) as replaced:
        serve.main(args)
    return replaced.value.args[0]


def test_without_nginx_make_app_runs_one_voila_and_says_why(monkeypatch, capsys):
    command = run_launcher(monkeypatch, None, ["--no-browser"], APP_PORT="8899", APP_HOST="0.0.0.0")
    assert command == serve.voila_command("--port=8899", "--Voila.ip=0.0.0.0", "--no-browser")
    assert "nginx is not installed" in capsys.readouterr().err


def test_app_proxy_0_runs_one_voila_even_with_nginx(monkeypatch, capsys):
    assert run_launcher(monkeypatch, "/usr/sbin/nginx", [], APP_PROXY="0") == serve.voila_command()
    assert "APP_PROXY=0" in capsys.readouterr().err


def test_one_voila_without_nginx_serves_the_same_light_page_gzipped(tmp_path):
    with app_server(tmp_path, APP_PROXY="0", APP_POOL="0") as server:
        config, _, _ = open_page(server, "/")  # no pool: this page starts its kernel
        status, headers, _ = get(server, f"{config['fullStaticUrl']}/voila.js", {"Accept-Encoding": "gzip"})
    assert config["baseUrl"] == "/" and config["fullStaticUrl"] == "/voila/static"
    assert {extension["name"] for extension in config["federated_extensions"]} == set(
        serve.page_assets.EXTENSIONS
    )
    assert status == 200 and headers["Content-Encoding"] == "gzip"


# -- The launcher running, two Voila processes behind nginx ------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    with app_server(
        tmp_path_factory.mktemp("serve"), APP_BACKENDS="2", APP_POOL="6", APP_CONNECTIONS_PER_ADDRESS="64"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def pages(app) -> dict[str, tuple[dict, list[str], str]]:
    """One page opened on each Voila (each takes a kernel of the small pool): prefix -> what open_page returns."""
    return {prefix: open_page(app, prefix) for prefix in ("/s1/", "/s2/")}


def get(server, path: str, headers: dict | None = None, data: bytes | None = None):
    """Return (status, headers, body) of one request to ``server``, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(f"{server.url}{path}", headers=headers or {}, data=data)
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as reply:
        return reply.code, reply.headers, reply.read()


def page_config(body: bytes) -> dict:
    found = re.search(
        rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.DOTALL
    )
    return json.loads(html.unescape(found[1].decode()))


def open_page(server, prefix: str) -> tuple[dict, list[str], str]:
    """GET the page at ``prefix`` as a student would; return its page config, its cookies, its CSS's URL."""
    status, headers, body = get(server, f"{prefix}?token={server.token}")
    assert status == 200, body[:300]
    css = re.search(rb'href="([^"]*/voila/templates/[^"]+/static/index\.css\?v=[0-9a-f]+)"', body)[1].decode()
    return page_config(body), [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []], css


def test_new_students_go_to_each_voila_in_turn_and_come_back_to_theirs(app):
    sent = []
    for _ in range(4):
        status, headers, _ = get(app, f"/?token={app.token}")
        assert status == 302
        sent.append(headers["Location"])
        assert f"mnist_backend={headers['Location'][1:3]}" in headers["Set-Cookie"]
    assert set(sent) == {f"/s1/?token={app.token}", f"/s2/?token={app.token}"}
    status, headers, _ = get(app, "/?token=x", headers={"Cookie": "mnist_backend=s2"})
    assert (status, headers["Location"]) == (302, "/s2/?token=x")
    status, headers, _ = get(app, "/", headers={"Cookie": "mnist_backend=s9"})  # no such Voila: a new student
    assert headers["Location"] in ("/s1/", "/s2/")


def test_a_page_its_websocket_and_its_rest_calls_reach_the_voila_that_holds_its_kernel(app, pages):
    config, cookies, _ = pages["/s2/"]
    assert config["baseUrl"] == "/s2/"
    kernel = config["kernelId"]

    async def kernel_answers(prefix: str) -> dict:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session = uuid.uuid4().hex
        conn = await websocket_connect(
            HTTPRequest(
                f"ws://127.0.0.1:{app.port}{prefix}api/kernels/{kernel}/channels?session_id={session}",
                headers={"Authorization": f"token {app.token}", "Cookie": "; ".join(cookies)},
            ),
            subprotocols=[WS_PROTOCOL],
        )
        ks = KernelSocket(conn, session)
        reply = asyncio.ensure_future(ks.wait(lambda m: m["msg_type"] == "kernel_info_reply", 30))
        ks.send("kernel_info_request", {})
        try:
            return (await reply)["content"]
        finally:
            conn.close()

    assert asyncio.run(kernel_answers("/s2/"))["status"] == "ok"
    auth = {"Authorization": f"token {app.token}", "Cookie": "; ".join(cookies)}
    assert get(app, f"/s2/api/kernels/{kernel}", headers=auth)[0] == 200
    assert get(app, f"/s1/api/kernels/{kernel}", headers=auth)[0] in (403, 404), "the other Voila has it too?"


def test_the_page_loads_its_scripts_from_nginx_and_only_the_extensions_it_uses(pages):
    config, _, _ = pages["/s1/"]
    assert re.fullmatch(r"/static/voila-[0-9a-f]{16}", config["fullStaticUrl"])
    assert re.fullmatch(r"/static/lab-[0-9a-f]{16}", config["fullLabextensionsUrl"])
    loaded = {extension["name"] for extension in config["federated_extensions"]}
    assert loaded == set(serve.page_assets.EXTENSIONS)
    assert "jupyterlab_pygments" not in loaded


def test_static_files_come_gzipped_and_cached_for_a_year(app, pages):
    config, _, _ = pages["/s1/"]
    script = f"{config['fullStaticUrl']}/voila.js"
    status, headers, packed = get(app, script, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, headers, plain = get(app, script)
    assert status == 200 and "Content-Encoding" not in headers
    assert gzip.decompress(packed) == plain and len(packed) < len(plain) / 2
    remote_entry = config["federated_extensions"][0]["load"]
    name = config["federated_extensions"][0]["name"]
    status, headers, _ = get(app, f"{config['fullLabextensionsUrl']}/{name}/{remote_entry}")
    assert status == 200 and "immutable" in headers["Cache-Control"]


def test_the_page_templates_files_are_cached_by_their_hash_and_revalidated_without_it(app, pages):
    css = pages["/s1/"][2]
    status, headers, _ = get(app, css, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]
    unversioned = css.split("?")[0]
    status, headers, _ = get(app, unversioned)
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert get(app, unversioned, headers={"If-None-Match": headers["ETag"]})[0] == 304


def test_the_proxy_refuses_what_the_app_never_asks_for(app, pages):
    config, _, _ = pages["/s1/"]
    assert get(app, f"{config['fullStaticUrl']}/")[0] in (403, 404), "a directory listing"
    assert get(app, "/static/../serve.py")[0] in (400, 403, 404)
    assert get(app, "/etc/passwd")[0] == 404
    assert get(app, "/s9/")[0] == 404
    big = b"x" * (256 * 1024)
    assert get(app, "/s1/voila/api/shutdown/nope", data=big)[0] == 413


@needs_nginx
def test_a_browser_gets_a_working_pad_through_nginx_and_a_reload_transfers_almost_nothing(
    playwright, app, tmp_path
):
    with chromium_page(playwright, tmp_path / "chromium") as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        network = NetworkCount(cdp)
        page.goto(f"{app.url}/?token={app.token}")
        wait_until_pad_is_painted(page)
        page.wait_for_load_state("networkidle")  # fonts come last
        first_requests, first_bytes = network.totals()
        mouse_draw(page, DIGITS[7])
        wait_for_read_digit(page, 7)
        page.reload()
        wait_until_pad_is_painted(page)
        page.wait_for_load_state("networkidle")
        reload_requests, reload_bytes = network.totals()
        assert not page.js_errors, page.js_errors
    assert first_bytes <= PAGE_BUDGET, f"a first visit transferred {first_bytes / 2**20:.2f} MB"
    assert reload_bytes <= RELOAD_BUDGET, f"a reload transferred {reload_bytes / 2**10:.0f} kB"
    assert reload_requests <= 4, f"a reload asked the server {reload_requests} times (of {first_requests})"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to read its exit code does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@needs_nginx
def test_stopping_the_launcher_stops_nginx_the_voila_processes_and_their_kernels(tmp_path):
    server = app_server(tmp_path, APP_BACKENDS="2", APP_POOL="2")
    with server:
        deadline = time.monotonic() + 120
        while len(family := descendants(server.process.pid)) < 8 and time.monotonic() < deadline:
            time.sleep(1)  # launcher, 2 Voila, 2 kernel templates, nginx and its workers, kernels
        os.kill(server.process.pid, signal.SIGTERM)  # the launcher alone, as a service manager would
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 20
        while (left := [pid for pid in family if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not left, f"still running after the launcher stopped: {left}"
