"""A school's JupyterHub, for real: several students log in at once and draw on the app through the hub.

Each test brings up JupyterHub on 127.0.0.1 (free ports, files in a temp dir) with deploy/'s settings
(deploy/jupyterhub_config.d/mnist.py), the npm proxy pinned in deploy/proxy (`make hub-proxy`),
local-process servers and a password shared by the test's students, and stops all of it afterwards.
The students' memory is measured (PSS) and written to test-artifacts/hub-memory.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    find_chromium,
    mouse_draw,
    screenshot,
    screenshot_on_failure,
    wait_for_read_digit,
    wait_until_pad_is_painted,
)
from hub_support import DEPLOY, PASSWORD, SNIPPET, cpu_seconds, processes_of_run, pss_bytes, running_hub
from playwright.sync_api import sync_playwright
from traitlets.config.loader import PyFileConfigLoader

from tools.drawn_digits import DIGITS

# MNIST_HUB_STUDENTS=1 measures one student alone (the figure deploy/README.md sizes a server with).
STUDENTS = int(os.environ.get("MNIST_HUB_STUDENTS", "3"))
ASKED = [7, 1, 0]  # the digits the students draw, in turn
GiB = 1024**3


def memory_limit_bytes() -> int:
    """Return the per-student memory limit that deploy/values.yaml sets (deploy/tljh-setup.sh sets the same)."""
    limit = yaml.safe_load((DEPLOY / "values.yaml").read_text())["singleuser"]["memory"]["limit"]
    number, unit = float(limit[:-1]), limit[-1]
    return int(number * {"M": 1024**2, "G": GiB}[unit])


def log_in(page, hub_url: str, name: str) -> None:
    """Fill in the hub's login form as a student would; the hub then starts their server."""
    page.goto(f"{hub_url}/hub/login", timeout=60_000)
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit", no_wait_after=True)


def test_students_log_in_at_once_and_each_draws_a_digit_that_is_read(tmp_path):
    started = time.monotonic()
    names = [f"student{i + 1:02d}" for i in range(STUDENTS)]
    with running_hub(tmp_path) as hub, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(playwright), args=CHROMIUM_ARGS, headless=True
        )
        try:
            # One browser context each: separate cookies, as on separate laptops.
            pages = [browser.new_context(viewport={"width": 1280, "height": 900}).new_page() for _ in names]
            for page, name in zip(pages, names, strict=True):
                log_in(page, hub.url, name)  # all the servers start together
            for i, (page, name) in enumerate(zip(pages, names, strict=True)):
                digit = ASKED[i % len(ASKED)]
                with screenshot_on_failure(page, f"hub-{name}"):
                    wait_until_pad_is_painted(page, timeout=60_000, appear=150_000)
                    assert page.url.startswith(f"{hub.url}/user/{name}{hub.default_url}"), page.url
                    print(f"{name}: pad ready after {time.monotonic() - started:.0f} s")
                    mouse_draw(page, DIGITS[digit])
                    wait_for_read_digit(page, digit)
                    screenshot(page, f"hub-{name}-reads-{digit}")
            # Every page still open, every kernel alive: what one student costs in a class.
            memory = {name: pss_bytes(processes_of_run(hub.run_id, name)) for name in names}
            cpu = {name: cpu_seconds(processes_of_run(hub.run_id, name)) for name in names}
        finally:
            browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {
        "students": STUDENTS,
        "pss_mb": {n: round(b / 1e6) for n, b in memory.items()},
        "cpu_s": {n: round(t, 1) for n, t in cpu.items()},
        "seconds": round(time.monotonic() - started),
    }
    (ARTIFACTS / f"hub-memory-{STUDENTS}.json").write_text(json.dumps(figures, indent=1))
    print(
        f"\nper student (server + app kernel), {STUDENTS} at once: PSS {figures['pss_mb']} MB, "
        f"CPU from login to a read digit {figures['cpu_s']} s"
    )
    limit = memory_limit_bytes()
    for name, used in memory.items():
        assert 100e6 < used < limit, (
            f"{name} uses {used / 1e6:.0f} MB; deploy/ limits a student to {limit / 1e6:.0f} MB"
        )


def test_prestart_starts_the_lessons_for_named_students_and_the_culler_stops_them(tmp_path):
    names = ["alice", "bob"]
    with running_hub(tmp_path, landing="lessons", cull_timeout=20) as hub:
        env = dict(os.environ, JUPYTERHUB_API_TOKEN=hub.api_token)
        done = subprocess.run(
            [sys.executable, str(DEPLOY / "prestart.py"), "--hub", hub.url, "--timeout", "90", *names],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"prestart.py failed:\n{done.stdout}{done.stderr}\n{hub.log_tail()}"
        assert "All 2 servers are running." in done.stdout
        for name in names:
            _, user = hub.api("GET", f"/users/{name}")
            assert user["servers"][""]["ready"], user
            # The lessons were copied into the student's own home, and the server opens them.
            assert (tmp_path / "homes" / name / "notebooks" / "00_start_here.ipynb").is_file()
            request = urllib.request.Request(
                f"{hub.url}/user/{name}/", headers={"Authorization": f"token {hub.api_token}"}
            )
            opener = urllib.request.build_opener(NoRedirect)
            with pytest.raises(urllib.error.HTTPError) as redirect:
                opener.open(request, timeout=30)
            landing = urllib.parse.urlsplit(redirect.value.headers["Location"]).path
            assert landing == f"/user/{name}/lab/tree/notebooks/00_start_here.ipynb", landing
        # Nobody uses them: the idle culler (--timeout=20 here) stops both servers.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not any(hub.api("GET", f"/users/{n}")[1]["servers"] for n in names):
                break
            time.sleep(2)
        else:
            raise AssertionError(f"the idle culler did not stop the servers:\n{hub.log_tail()}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Let a redirect surface as an HTTPError so the test can read where it points."""

    def redirect_request(self, *args, **kwargs):
        return None


def hub_snippet(**env: str):
    """Return the config that deploy/jupyterhub_config.d/mnist.py builds with ``env`` set, loaded as JupyterHub does."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return PyFileConfigLoader(SNIPPET.name, str(SNIPPET.parent)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_deploy_configurations_agree():
    """TLJH's script, the z2jh values and the hub snippet: same landing, environment, limits and culling."""
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    tljh = (DEPLOY / "tljh-setup.sh").read_text()
    hub = hub_snippet(MNIST_HUB_LANDING="app")
    single = values["singleuser"]
    assert single["defaultUrl"] == hub.Spawner.default_url == "/voila/render/app/app.ipynb"
    assert (
        hub_snippet(MNIST_HUB_LANDING="lessons").Spawner.default_url
        == "/lab/tree/notebooks/00_start_here.ipynb"
    )
    assert single["cmd"] == hub.Spawner.cmd == ["/srv/mnist/deploy/mnist-singleuser"]
    assert values["hub"]["config"]["KubeSpawner"]["args"] == hub.Spawner.args
    assert values["hub"]["config"]["KubeSpawner"]["notebook_dir"] == hub.Spawner.notebook_dir == "/srv/mnist"
    hub_env, k8s_env = hub.Spawner.environment.get_value({}), dict(single["extraEnv"])
    # On Kubernetes each student's pod writes its own store in the shared folder (WAL needs one machine).
    assert k8s_env.pop("MNISTLIB_CLASS_DIR") == hub_env.pop("MNISTLIB_CLASS_DIR") + "/{username}"
    assert k8s_env == hub_env
    # One limit, one culling timeout everywhere.
    assert f"tljh-config set limits.memory {single['memory']['limit']}" in tljh
    assert f"tljh-config set services.cull.timeout {values['cull']['timeout']}" in tljh
    culler = next(s for s in hub.JupyterHub.services.get_value([]) if s["name"] == "cull-idle")
    assert f"--timeout={values['cull']['timeout']}" in culler["command"]
    # MNIST and the models: one read-only copy; the class's drawings: one shared writable folder.
    mounts = {m["mountPath"]: m for m in single["storage"]["extraVolumeMounts"]}
    assert mounts[single["extraEnv"]["MNISTLIB_DATA_DIR"]].get("readOnly") is True
    assert mounts["/srv/mnist-class"].get("readOnly", False) is False
    with pytest.raises(ValueError, match="MNIST_HUB_LANDING"):
        hub_snippet(MNIST_HUB_LANDING="lab")
