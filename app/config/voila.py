"""Voila's settings for the students' app: a warm pool of kernels, idle kernels culled, light kernels.

`make app` (and tools/classroom.py, tests/test_app.py) start Voila with
``--Voila.config_file_paths=app/config``, so every way of serving the app reads this one file.
Environment variables size it (the Makefile sets them from ``STUDENTS=`` / ``APP_POOL=``):

* ``APP_POOL``: kernels started and run through the app notebook before anyone opens the page
  (Voila's preheated kernels). A student's page takes one at once; Voila then starts a replacement
  ``APP_REFILL_DELAY`` seconds later (default 1). 0 turns the pool off (every page then starts its own kernel).
* ``APP_CULL_IDLE``: seconds without any kernel activity after which a kernel is shut down, even
  with its page still open (the page then says "reload the page"). Pooled kernels are never culled.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

c = get_config()  # noqa: F821 - traitlets defines get_config() when it runs a config file

APP_DIR = Path(__file__).resolve().parents[1]
POOL = int(os.environ.get("APP_POOL", "1"))
CULL_IDLE = int(os.environ.get("APP_CULL_IDLE", "1200"))  # s: 20 minutes, longer than a lesson's pause
CULL_INTERVAL = int(os.environ.get("APP_CULL_INTERVAL", "60"))  # s between two looks for idle kernels

c.VoilaConfiguration.preheat_kernel = POOL > 0
c.VoilaConfiguration.default_pool_size = max(POOL, 0)
# Voila refills the pool this long after each page takes a kernel. Keep it short: a page that comes
# while a refill waits is given that refill and waits with it (60 s made a reload take 60 s). Thirty
# refills right after a class opens the page do slow the first readings (tools/classroom.py).
c.VoilaKernelManager.fill_delay = float(os.environ.get("APP_REFILL_DELAY", "1"))
c.VoilaConfiguration.theme = "light"
c.VoilaConfiguration.show_tracebacks = True  # the teacher sees what broke; the app has no code to hide
# The page template: Voila's lab template plus a watcher that tells the student to reload the page
# when the kernel behind the pad is gone (app/jupyter/voila/templates/mnist-app). Voila looks for
# templates on the Jupyter data path, read after this file has run.
c.VoilaConfiguration.template = "mnist-app"
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    filter(None, [str(APP_DIR / "jupyter"), os.environ.get("JUPYTER_PATH")])
)

c.MappingKernelManager.cull_idle_timeout = CULL_IDLE
c.MappingKernelManager.cull_interval = CULL_INTERVAL
c.MappingKernelManager.cull_connected = True  # a forgotten tab must not hold a kernel all day

# Kernels inherit the server's environment. One thread each: a single 28x28 image is too little work
# to share, and 30 kernels' thread pools would fight over 2 cores. Two malloc arenas instead of one
# per thread (glibc's default, up to 8 per core) keep each kernel's private memory small.
for name, value in {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "OMP_WAIT_POLICY": "PASSIVE",
}.items():
    os.environ.setdefault(name, value)

# App kernels are forked from one template process that has imported PyTorch once, so they share its
# memory: app/fork/kernels/python3 replaces ipykernel's "python3" kernel for this Voila. Only for a
# standalone Voila (`make app`): a hub's Jupyter servers read this file too, and their kernels are
# their own. APP_FORK=0 starts ordinary kernels.
STANDALONE = Path(sys.argv[0]).name == "voila" or Path(sys.argv[0]).parent.name == "voila"
if STANDALONE and os.environ.get("APP_FORK", "1") == "1":
    FORK_DIR = APP_DIR / "fork"
    TEMPLATE = Path(tempfile.gettempdir()) / f"mnist-kernel-template-{os.getpid()}.sock"
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(FORK_DIR), os.environ["JUPYTER_PATH"]])
    os.environ["MNIST_KERNEL_TEMPLATE"] = str(TEMPLATE)
    pythonpath = os.pathsep.join(filter(None, [str(APP_DIR.parent), os.environ.get("PYTHONPATH")]))
    # A child of Voila, in its process group: it stops with the server (and by itself if orphaned).
    subprocess.Popen(
        [sys.executable, str(FORK_DIR / "kernels" / "python3" / "fork_kernel.py"), "serve", str(TEMPLATE)],
        env={**os.environ, "PYTHONPATH": pythonpath},
    )
