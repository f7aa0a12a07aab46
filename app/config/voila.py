"""Voila's settings for the students' app: a warm pool of kernels, idle kernels culled, light kernels.

`make app` (and tools/classroom/, the browser tests) start Voila with
``--Voila.config_file_paths=app/config``, so every way of serving the app reads this one file.
Environment variables size it (the Makefile sets them from ``STUDENTS=`` / ``APP_POOL=``):

* ``APP_STUDENTS``: the class's size. The pool then holds one kernel per student and a few spares
  for reloads (app/config/app_pool.py: one per 10 students, at least 2; 30 students -> 33 kernels).
* ``APP_POOL``: the pool's size itself, if set (it wins over ``APP_STUDENTS``); 0 turns the pool off
  (every page then starts its own kernel). Without either, a pool of 1.
* A pool kernel is started and run through the app notebook before anyone opens the page (Voila's
  preheated kernels). A student's page takes one at once. Its replacement starts at least
  ``APP_REFILL_DELAY`` s later (default 1), one kernel at a time, and only once no kernel has been
  active for ``APP_REFILL_QUIET`` s (default 5): not while the class draws (app_pool.serial_refill).
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
sys.path.insert(0, str(APP_DIR / "config"))
import app_pool  # next to this file, found through the line above

STUDENTS = os.environ.get("APP_STUDENTS", "")
POOL = int(os.environ.get("APP_POOL") or (app_pool.pool_size(int(STUDENTS)) if STUDENTS else 1))
CULL_IDLE = int(os.environ.get("APP_CULL_IDLE", "1200"))  # s: 20 minutes, longer than a lesson's pause
CULL_INTERVAL = int(os.environ.get("APP_CULL_INTERVAL", "60"))  # s between two looks for idle kernels

c.VoilaConfiguration.preheat_kernel = POOL > 0
c.VoilaConfiguration.default_pool_size = max(POOL, 0)
# Voila queues a refill this long after each page takes a kernel; app_pool.serial_refill then runs
# the queued refills one by one, in a quiet moment. A page that comes when only queued refills are
# left takes one, which then starts at once.
c.VoilaKernelManager.fill_delay = float(os.environ.get("APP_REFILL_DELAY", "1"))
REFILL_QUIET = float(os.environ.get("APP_REFILL_QUIET", "5"))
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
if STANDALONE and POOL > 0:
    # Voila builds its pooled kernel manager class when it starts, after this file has run: wrap the
    # builder so that the class it builds refills one kernel at a time, when quiet.
    import voila.app

    build_manager = voila.app.voila_kernel_manager_factory

    def serial_refill_factory(base, preheat_kernel, *args, **kwargs):
        """Voila's kernel manager class, with app_pool's serial refills when the pool is on."""
        built = build_manager(base, preheat_kernel, *args, **kwargs)
        return app_pool.serial_refill(built, quiet=REFILL_QUIET) if preheat_kernel else built

    voila.app.voila_kernel_manager_factory = serial_refill_factory

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
