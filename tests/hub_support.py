"""Helpers for the JupyterHub test: a hub on 127.0.0.1 with deploy/'s settings, students' processes, memory."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from mnistlib.paths import REPO_ROOT

# cpu_seconds and pss_bytes: test_hub.py measures the students' processes with them.
from tools.local_servers import Server, cpu_seconds, free_port, isolated_env, pss_bytes  # noqa: F401

DEPLOY = REPO_ROOT / "deploy"
SNIPPET = DEPLOY / "jupyterhub_config.d" / "mnist.py"
PROXY = DEPLOY / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
# Where deploy/'s snippet lands students (the test checks that they arrive there).
LANDINGS = {"app": "/voila/render/app/app.ipynb", "lessons": "/lab/tree/notebooks/00_start_here.ipynb"}
PASSWORD = "class-password"

# The test's own settings on top of deploy/'s snippet: loopback ports, temp files, local processes.
CONFIG = """
import os, sys
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {tmp!r} + "/proxy.pid"
c.JupyterHub.db_url = "sqlite:///" + {tmp!r} + "/hub.sqlite"
c.JupyterHub.cookie_secret_file = {tmp!r} + "/cookie_secret"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {tmp!r} + "/homes/{{username}}"
c.Spawner.ip = "127.0.0.1"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"teacher"}}
c.JupyterHub.services = [{{"name": "teacher-script", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "teacher-script", "services": ["teacher-script"],
                            "scopes": ["admin:users", "admin:servers"]}}]
load_subconfig({snippet!r})
c.Spawner.environment.update({{"MNIST_HUB_TEST_RUN": {run_id!r}}})  # marks this run's processes, for cleanup
if os.geteuid() == 0:
    c.Spawner.args = [*c.Spawner.args, "--allow-root"]  # the test's students are this same (root) user
"""


def shared_install(dest: Path) -> Path:
    """Lay out the shared read-only folder as deploy/README.md does: the app, the lessons, the wrapper."""
    for folder in ("app", "notebooks"):
        shutil.copytree(
            REPO_ROOT / folder, dest / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    (dest / "deploy").mkdir(parents=True)
    shutil.copy2(DEPLOY / "mnist-singleuser", dest / "deploy")
    return dest


class Hub(Server):
    """A JupyterHub on 127.0.0.1 whose API a teacher's token reaches."""

    def __init__(self, tmp: Path, landing: str = "app", cull_timeout: int = 1800) -> None:
        if not PROXY.exists():
            raise RuntimeError(
                f"The hub's proxy is not installed at {PROXY}: run `make hub-proxy` "
                "(npm ci in deploy/proxy; needs node and npm)"
            )
        self.run_id, self.api_token = secrets.token_hex(8), secrets.token_hex(16)
        shared = shared_install(tmp / "shared")
        (tmp / "class").mkdir()
        port = free_port()
        self.default_url = LANDINGS[landing]
        config = tmp / "jupyterhub_config.py"
        config.write_text(
            CONFIG.format(
                port=port,
                hub_port=free_port(),
                proxy_api_port=free_port(),
                proxy=str(PROXY),
                tmp=str(tmp),
                password=PASSWORD,
                token=self.api_token,
                snippet=str(SNIPPET),
                run_id=self.run_id,
            )
        )
        env = isolated_env(tmp / "hub-home")
        env.update(
            {
                "MNIST_HUB_SHARED": str(shared),
                "MNIST_HUB_LANDING": landing,
                "MNIST_HUB_CLASS_DIR": str(tmp / "class"),
                "MNIST_HUB_CULL_TIMEOUT": str(cull_timeout),
                "MNIST_HUB_DATA": str(tmp / "data"),
                # the students' servers run from this venv, as TLJH's run from its user env
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]),
            }
        )
        (tmp / "data").symlink_to(_verified_mnist_root())
        args = [sys.executable, "-m", "jupyterhub", "-f", str(config)]
        super().__init__(args, port, self.api_token, env, tmp / "hub.log", "/hub/api/")
        self.url = f"http://127.0.0.1:{port}"

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """Call the hub's REST API with the teacher's token; return (status, JSON body)."""
        request = urllib.request.Request(
            f"{self.url}/hub/api{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.api_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            return exc.code, {"message": exc.read().decode(errors="replace")}

    def stop(self) -> None:
        """Stop the hub (it stops the students' servers first), then anything of this run still alive."""
        super().stop()
        deadline = time.monotonic() + 15
        while (left := processes_of_run(self.run_id)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _verified_mnist_root() -> Path:
    """Return the folder whose MNIST/raw holds the verified files (the shared data folder of a hub)."""
    from mnistlib import data

    return data.ensure_mnist().parent.parent


@contextlib.contextmanager
def running_hub(tmp: Path, **kwargs) -> Iterator[Hub]:
    """Run a hub configured by deploy/ on 127.0.0.1 and stop it and every student's server afterwards."""
    hub = Hub(tmp, **kwargs)
    try:
        hub.wait_ready(timeout=60)
        yield hub
    except BaseException:
        print(f"--- the end of the hub's log ({hub.log}) ---\n{hub.log_tail()}")  # shown when a test fails
        raise
    finally:
        hub.stop()


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def processes_of_run(run_id: str, user: str | None = None) -> list[int]:
    """Return the pids of the students' servers and kernels started by one hub run (of one student)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            env = _environ(int(entry.name))
            if env.get("MNIST_HUB_TEST_RUN") == run_id and (
                user is None or env.get("JUPYTERHUB_USER") == user
            ):
                pids.append(int(entry.name))
    return pids
