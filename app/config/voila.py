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

A standalone Voila (`make app`) is also a class server a curious student cannot take down, spy on or
flood (class_server.py, kernel_socket.py, class_code.py and app/fork's memory ceiling):

* ``APP_MAX_KERNELS``: the most kernels at once (default: the pool plus 2); a page beyond that says
  "The class is full: ask your teacher". ``APP_CONNECT_TIMEOUT``: seconds a page has to connect to
  the kernel it took (default 60) before the kernel goes back.
* ``APP_KERNEL_MEMORY_MB``: the memory a kernel may add to what it shares with its template (default
  512); past it the kernel is killed and its page says reload.
* ``APP_HOST``, ``APP_CODE``, ``APP_PUBLIC_URL``: where Voila listens, the class code, the address
  students use (class_code.py); ``APP_BEHIND_PROXY=1`` trusts a reverse proxy's X-Forwarded-* headers.
* ``APP_TEACHER_CODE``: the code of the teacher's live view (teacher_view.py; a new one if unset).
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
import class_code

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
# Students see a short message; the server's log keeps the traceback. Neither the URL's ?theme= nor
# ?template= changes the page (either would also skip the warm pool).
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.allow_theme_override = "NO"
c.VoilaConfiguration.allow_template_override = "NO"
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

if STANDALONE:
    import class_server
    import kernel_socket
    import tornado.httpserver
    import tornado.ioloop
    import voila.app

    c.VoilaConfiguration.multi_kernel_manager_class = class_server.ClassKernelManager
    CLASS = POOL if POOL > 0 else app_pool.pool_size(int(STUDENTS or 1))  # the kernels a class needs
    c.ClassKernelManager.max_kernels = int(os.environ.get("APP_MAX_KERNELS") or CLASS + 2)
    c.ClassKernelManager.connect_timeout = float(os.environ.get("APP_CONNECT_TIMEOUT", "60"))
    c.Voila.authorizer_class = class_server.PageAuthorizer
    c.Voila.kernel_websocket_connection_class = kernel_socket.AppKernelConnection
    class_server.install_handlers(voila.app.Voila)
    # The teacher's live view (<base_url>teacher/): a page and JSON read from the class store, no kernel.
    import teacher_view

    teacher_view.install_handlers(voila.app.Voila, class_code.teacher_code())
    # A message may carry one upload (mnistlib.classroom.strokes.MAX_UPLOAD_BYTES, 10 MB) and little else.
    c.Voila.tornado_settings = {"websocket_max_message_size": 11 * 2**20}
    # No HTTP request of the app has a body over a few kB (uploads go through the websocket), and a
    # client that sends its headers slowly, or nothing at all, is dropped after 20 s.
    tornado.httpserver.HTTPServer.configure(
        None,
        max_body_size=64 * 1024,
        max_header_size=32 * 1024,
        idle_connection_timeout=20,
        body_timeout=20,
        xheaders=os.environ.get("APP_BEHIND_PROXY") == "1",
    )
    # Kernels never echo one client's widget state to the others (ipywidgets' JUPYTER_WIDGETS_ECHO).
    os.environ["JUPYTER_WIDGETS_ECHO"] = "0"
    os.environ["MNIST_KERNEL_MEMORY_MB"] = os.environ.get("APP_KERNEL_MEMORY_MB", "512")
    # Each websocket holds a few sockets to its kernel: let the server use all the files it may open.
    if sys.platform != "win32":  # Windows has no resource module, and no such limit to raise
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    HOST = os.environ.get("APP_HOST", "")
    if HOST:
        c.Voila.ip = HOST
    PROXIED = bool(os.environ.get("APP_PUBLIC_URL")) or os.environ.get("APP_BEHIND_PROXY") == "1"
    CODE = class_code.class_code(os.environ.get("APP_CODE", ""), HOST or "localhost", PROXIED)
    if CODE:
        c.Voila.token = CODE

    def announce_class_link() -> None:
        """Print the students' link and QR code once Voila listens (its port is known only then)."""
        app = voila.app.Voila.instance()
        code = app.identity_provider.token or None
        url = class_code.students_url(app.ip, app.port, code, os.environ.get("APP_PUBLIC_URL", ""))
        class_code.announce(
            url, code, class_code.is_loopback(app.ip) and not os.environ.get("APP_PUBLIC_URL")
        )

    tornado.ioloop.IOLoop.current().add_callback(announce_class_link)

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

# The page loads only the JupyterLab extensions the pad uses (app/config/page_assets.py). Behind
# app/serve.py's nginx, its JavaScript comes from nginx's shared, long-cached /static/ addresses; a
# Voila serving the class alone compresses what it sends itself.
import page_assets  # next to this file, found through sys.path above

c.VoilaConfiguration.extension_allowlist = list(page_assets.EXTENSIONS)
if os.environ.get("APP_STATIC_URL"):
    c.VoilaConfiguration.page_config_hook = page_assets.shared_static_urls(
        os.environ["APP_STATIC_URL"], os.environ["APP_LABEXTENSIONS_URL"]
    )
elif STANDALONE:
    import voila.app

    page_assets.gzip_responses(voila.app.Voila)
