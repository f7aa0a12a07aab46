"""JupyterHub settings for an MNIST class: where students land, one shared install, idle culling.

The Littlest JupyterHub loads every file in /opt/tljh/config/jupyterhub_config.d/ (see deploy/README.md);
tests/test_hub.py loads this same file into a hub on 127.0.0.1. Settings come from the environment
of the hub process, with the defaults below for a TLJH server:

  MNIST_HUB_SHARED        the project's clone, read-only to students: app/, notebooks/, models/ (/srv/mnist)
  MNIST_HUB_DATA          MNIST downloaded once for everyone, read-only (/srv/mnist-data)
  MNIST_HUB_CLASS_DIR     the class's collected drawings, writable by every student (/srv/mnist-class)
  MNIST_HUB_LANDING       "app" (the students' drawing app) or "lessons" (JupyterLab on notebook 00)
  MNIST_HUB_CULL_TIMEOUT  seconds of no activity before a student's server is stopped (1800)
"""

import os
import sys

c = get_config()  # noqa: F821 - JupyterHub defines get_config() for the config files it loads

SHARED = os.environ.get("MNIST_HUB_SHARED", "/srv/mnist")
DATA = os.environ.get("MNIST_HUB_DATA", "/srv/mnist-data")
CLASS_DIR = os.environ.get("MNIST_HUB_CLASS_DIR", "/srv/mnist-class")
LANDING = os.environ.get("MNIST_HUB_LANDING", "app")
CULL_TIMEOUT = int(os.environ.get("MNIST_HUB_CULL_TIMEOUT", "1800"))

# Paths inside the single-user server, relative to its root folder.
LANDINGS = {"app": "/voila/render/app/app.ipynb", "lessons": "/lab/tree/notebooks/00_start_here.ipynb"}
if LANDING not in LANDINGS:
    raise ValueError(f"MNIST_HUB_LANDING={LANDING!r}: set it to one of {sorted(LANDINGS)}")
c.Spawner.default_url = LANDINGS[LANDING]

# The app only reads, so every student's server serves the shared clone itself. The lessons are
# edited and saved, so each student gets their own copy in their home (made once, by the wrapper
# below, running as the student).
c.Spawner.cmd = [os.path.join(SHARED, "deploy", "mnist-singleuser")]
c.Spawner.notebook_dir = SHARED if LANDING == "app" else "~"

c.Spawner.environment.update(
    {
        # mnistlib finds the verified IDX files in DATA/MNIST/raw (put there once, see deploy/README.md);
        # MNIST_SOURCE names the same copy, so nothing is ever downloaded per student.
        "MNISTLIB_DATA_DIR": DATA,
        "MNIST_SOURCE": os.path.join(DATA, "MNIST", "raw"),
        "MNISTLIB_CLASS_DIR": CLASS_DIR,
        "MNIST_LESSONS": os.path.join(SHARED, "notebooks") if LANDING == "lessons" else "",
        # Dozens of kernels share the cores: PyTorch's spin-waiting OpenMP threads would slow all of them.
        "OMP_WAIT_POLICY": "PASSIVE",
    }
)

# On TLJH every student is their own Unix user: the class's store (one SQLite file and its -wal/-shm
# files, made by whoever opens it first) must stay writable for the others. tljh-setup.sh gives the
# folder the students' group (setgid); this umask makes what they create there group-writable.
c.SystemdSpawner.unit_extra_properties = {"UMask": "0002"}

# Voila runs inside each student's server (a Jupyter server extension). It reads the app's own settings
# (page template, theme, one thread per kernel) from app/config/voila.py, the file `make app` reads.
# The kernel settings there apply to a standalone Voila only: the same values are given here, so the
# kernel of a page left idle for 20 minutes is stopped instead of holding its memory until culling.
c.Spawner.environment.update({"JUPYTER_CONFIG_PATH": os.path.join(SHARED, "app", "config")})
c.Spawner.args = [
    "--MappingKernelManager.cull_idle_timeout=1200",
    "--MappingKernelManager.cull_interval=60",
    "--MappingKernelManager.cull_connected=True",
]
# Thirty servers starting together on a few cores take a while: do not give up on them too early.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

# Stop the servers of students who left (TLJH already runs this service, named "cull-idle": keep its own,
# set with `tljh-config set services.cull.timeout`).
services = c.JupyterHub.services if isinstance(c.JupyterHub.services, list) else []  # unset: a lazy value
if not any(s.get("name") == "cull-idle" for s in services):
    c.JupyterHub.services.append(
        {
            "name": "cull-idle",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={CULL_TIMEOUT}",
                f"--cull-every={max(5, min(300, CULL_TIMEOUT // 4))}",
            ],
        }
    )
    c.JupyterHub.load_roles.append(
        {
            "name": "cull-idle",
            "services": ["cull-idle"],
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        }
    )
